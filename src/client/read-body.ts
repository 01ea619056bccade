// Bounded response reading for the SDK: a peer (or anything posing as one) could answer with an
// endless body, and the agent polls /checkpoint every 200 ms. The body is streamed and the read is
// cancelled as soon as it passes the route's cap (response-caps.ts), so at most one chunk past the
// cap is held.
import { concatBytes } from '../encoding/bytes.js';
import { CairnApiError } from './errors.js';

function tooLarge(cap: number, what: string): CairnApiError {
  return new CairnApiError('response_too_large', `${what}: response body exceeds ${cap} bytes`);
}

/** Reads `res`'s body, throwing CairnApiError('response_too_large') once it passes `cap` bytes. */
export async function readBounded(res: Response, cap: number, what: string): Promise<Uint8Array> {
  // A declared length refuses early, unless the body is compressed (fetch hands out the decoded
  // bytes, which the cap bounds; a gzip of incompressible data is slightly larger than it).
  const declared = Number(res.headers.get('content-length'));
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  if (!encoded && Number.isFinite(declared) && declared > cap) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(cap, what);
  }
  if (res.body === null) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > cap) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(cap, what);
    }
    parts.push(value);
  }
  return concatBytes(...parts);
}

// The hello exchange (/cairn/hello/1, not namespaced): once per connection the dialer sends its
// genesis hash and namespace, the listener answers with its own. Either side that sees a
// difference records "genesis mismatch: ours X theirs Y" and closes the connection. Peers of
// another genesis could never share a topic or protocol anyway (both are namespaced); hello
// turns that silent non-communication into a clear, early diagnosis.
import type { Connection, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { bytesEqual, toHex } from '../../src/encoding/bytes.js';
import { describeError } from './errors.js';
import { decodeHello, encodeHello, HELLO_MAX_BYTES, type Hello } from './frames.js';
import { HELLO_PROTOCOL } from './topics.js';

export type HelloOutcome =
  | { ok: true; theirs: Hello }
  | { ok: false; kind: 'mismatch'; reason: string; theirs: Hello }
  | { ok: false; kind: 'failed'; reason: string };

/** Compares two hellos; returns null when they agree, else the human-readable reason. */
export function helloMismatch(ours: Hello, theirs: Hello): string | null {
  if (!bytesEqual(ours.genesis, theirs.genesis)) {
    return `genesis mismatch: ours ${toHex(ours.genesis)} theirs ${toHex(theirs.genesis)}`;
  }
  if (ours.namespace !== theirs.namespace) {
    return `genesis mismatch: ours ${toHex(ours.genesis)} (namespace ${ours.namespace}) theirs ${toHex(theirs.genesis)} (namespace ${theirs.namespace})`;
  }
  return null;
}

function judge(ours: Hello, raw: Uint8Array): HelloOutcome {
  const theirs = decodeHello(raw);
  if (typeof theirs === 'string') return { ok: false, kind: 'failed', reason: `invalid hello: ${theirs}` };
  const reason = helloMismatch(ours, theirs);
  return reason === null ? { ok: true, theirs } : { ok: false, kind: 'mismatch', reason, theirs };
}

/** Dialer side: open the hello stream, send ours, read theirs. */
export async function helloAsDialer(connection: Connection, ours: Hello, timeoutMs: number): Promise<HelloOutcome> {
  const signal = AbortSignal.timeout(timeoutMs);
  let stream: Stream | undefined;
  try {
    stream = await connection.newStream(HELLO_PROTOCOL, { signal });
    const lp = lpStream(stream, { maxDataLength: HELLO_MAX_BYTES, maxBufferSize: HELLO_MAX_BYTES + 16 });
    await lp.write(encodeHello(ours), { signal });
    const raw = (await lp.read({ signal })).subarray();
    await stream.close({ signal });
    return judge(ours, raw);
  } catch (err) {
    stream?.abort(err instanceof Error ? err : new Error(String(err)));
    return { ok: false, kind: 'failed', reason: `hello exchange failed: ${describeError(err)}` };
  }
}

/** Listener side: read theirs, always answer with ours (so the dialer can diagnose too). */
export async function helloAsListener(stream: Stream, ours: Hello, timeoutMs: number): Promise<HelloOutcome> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const lp = lpStream(stream, { maxDataLength: HELLO_MAX_BYTES, maxBufferSize: HELLO_MAX_BYTES + 16 });
    const raw = (await lp.read({ signal })).subarray();
    await lp.write(encodeHello(ours), { signal });
    await stream.close({ signal });
    return judge(ours, raw);
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)));
    return { ok: false, kind: 'failed', reason: `hello exchange failed: ${describeError(err)}` };
  }
}

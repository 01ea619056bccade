// The consensus topic's gossip envelope and the fast value id used by the peer.
import { createHash } from 'node:crypto';

// Consensus gossip envelope (version 1): u8 1 | u64 sentAtMs | encoded consensus message.
// Gossipsub identifies messages by SHA-256 of their bytes and drops a re-publish of identical
// bytes for minutes; the timestamp makes a deliberate re-send (see resend) a new message, while
// the runner drops the exact duplicate message inside it.
export function encodeEnvelope(message: Uint8Array, sentAtMs: number): Uint8Array {
  const out = new Uint8Array(9 + message.length);
  const v = new DataView(out.buffer);
  out[0] = 1;
  v.setUint32(1, Math.floor(sentAtMs / 2 ** 32));
  v.setUint32(5, sentAtMs >>> 0);
  out.set(message, 9);
  return out;
}

export function openEnvelope(data: Uint8Array): Uint8Array | null {
  if (!(data instanceof Uint8Array) || data.length < 10 || data[0] !== 1) return null;
  return data.subarray(9);
}

export function fastSha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest());
}

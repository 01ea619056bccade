// RFC 9162 §2.1.1 interior node hash, SHA-256(0x01 || left || right), computed by Node's native
// SHA-256 instead of the portable JavaScript one (src/merkle/hash.ts, which must also run in a
// browser). Same bytes, lower cost per hash; only the peer (node/) uses it.
import * as crypto from 'node:crypto';

const HASH_BYTES = 32;
const NODE_PREFIX = 0x01;

// crypto.hash (one-shot, no Hash object) is Node ≥ 20.12; createHash is the fallback.
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;

/** One scratch input buffer: hashing is synchronous and keeps no reference to it. */
const INPUT = new Uint8Array(1 + 2 * HASH_BYTES);
INPUT[0] = NODE_PREFIX;

/** Writes SHA-256(0x01 || left || right) into out[at .. at+32). Children must be 32 bytes. */
export function nodeHashInto(left: Uint8Array, right: Uint8Array, out: Uint8Array, at: number): void {
  // Checked because a wrong-length child would silently produce a valid-looking hash.
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) {
    throw new RangeError(`node children must be ${HASH_BYTES} bytes, got ${left.length} and ${right.length}`);
  }
  INPUT.set(left, 1);
  INPUT.set(right, 1 + HASH_BYTES);
  const d = oneShot !== undefined ? oneShot('sha256', INPUT, 'buffer') : crypto.createHash('sha256').update(INPUT).digest();
  out.set(d, at);
}

/** SHA-256(0x01 || left || right) as a fresh 32-byte Uint8Array (byte-identical to src/merkle nodeHash). */
export function fastNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const out = new Uint8Array(HASH_BYTES);
  nodeHashInto(left, right, out, 0);
  return out;
}

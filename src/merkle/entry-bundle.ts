// C2SP tlog-tiles entry bundles: "sequences of big-endian uint16 length-prefixed log entries",
// one per leaf of the matching level-0 tile (so 1..256 entries, each ≤ 65,535 bytes).

import { MerkleError } from './errors.js';
import { TILE_WIDTH } from './tiles.js';

/** Largest entry a bundle can carry: the uint16 length prefix. */
export const MAX_ENTRY_BYTES = 0xffff;

export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(entries) || entries.length < 1 || entries.length > TILE_WIDTH) {
    throw new MerkleError('BAD_ENTRY_BUNDLE', `an entry bundle holds 1..${TILE_WIDTH} entries, got ${Array.isArray(entries) ? entries.length : typeof entries}`);
  }
  let len = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (!(e instanceof Uint8Array)) throw new MerkleError('BAD_ENTRY_BUNDLE', `entry ${i} must be a Uint8Array`);
    if (e.length > MAX_ENTRY_BYTES) {
      throw new MerkleError('BAD_ENTRY_BUNDLE', `entry ${i} is ${e.length} bytes, limit MAX_ENTRY_BYTES = ${MAX_ENTRY_BYTES}`);
    }
    len += 2 + e.length;
  }
  const out = new Uint8Array(len);
  let off = 0;
  for (const e of entries) {
    out[off] = e.length >>> 8;
    out[off + 1] = e.length & 0xff;
    out.set(e, off + 2);
    off += 2 + e.length;
  }
  return out;
}

/**
 * Splits an entry bundle into its entries (copies). With `expectedCount` (the bundle's width),
 * the bundle must hold exactly that many entries. Throws BAD_ENTRY_BUNDLE on a truncated length
 * or body, on more than 256 entries, or on a count mismatch.
 */
export function decodeEntryBundle(bytes: Uint8Array, expectedCount?: number): Uint8Array[] {
  if (!(bytes instanceof Uint8Array)) throw new MerkleError('BAD_ENTRY_BUNDLE', 'entry bundle must be a Uint8Array');
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (out.length === TILE_WIDTH) throw new MerkleError('BAD_ENTRY_BUNDLE', `entry bundle holds more than ${TILE_WIDTH} entries`);
    if (off + 2 > bytes.length) throw new MerkleError('BAD_ENTRY_BUNDLE', `entry ${out.length}: truncated length prefix at byte ${off}`);
    const len = (bytes[off]! << 8) | bytes[off + 1]!;
    if (off + 2 + len > bytes.length) throw new MerkleError('BAD_ENTRY_BUNDLE', `entry ${out.length}: ${len} bytes declared, ${bytes.length - off - 2} present`);
    out.push(bytes.slice(off + 2, off + 2 + len));
    off += 2 + len;
  }
  if (expectedCount !== undefined && out.length !== expectedCount) {
    throw new MerkleError('BAD_ENTRY_BUNDLE', `entry bundle holds ${out.length} entries, expected ${expectedCount}`);
  }
  if (out.length === 0) throw new MerkleError('BAD_ENTRY_BUNDLE', 'entry bundle is empty (empty tiles are never served)');
  return out;
}

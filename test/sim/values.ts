// Proposal values of the simulator: random byte strings with an embedded marker, so that the
// oracle `isValidValue` can tell values a correct node would build from values a Byzantine
// proposer marks invalid (paper L22/L28 valid(v)). The validity invariant is: every decided value
// passes isValidValue.
//
// Layout: u8 marker | u32 height (big-endian) | u16 proposer node | random padding (16..48 bytes).

import type { Prng } from './prng.js';

export const VALUE_MARKER_VALID = 0x56; // 'V'
export const VALUE_MARKER_INVALID = 0xbd;
export const VALUE_HEADER_BYTES = 7;
export const VALUE_RANDOM_BYTES_MIN = 16;
export const VALUE_RANDOM_BYTES_MAX = 48;

export function makeValue(prng: Prng, height: number, node: number, valid: boolean): Uint8Array {
  const pad = prng.range(VALUE_RANDOM_BYTES_MIN, VALUE_RANDOM_BYTES_MAX);
  const v = new Uint8Array(VALUE_HEADER_BYTES + pad);
  v[0] = valid ? VALUE_MARKER_VALID : VALUE_MARKER_INVALID;
  new DataView(v.buffer).setUint32(1, height >>> 0);
  new DataView(v.buffer).setUint16(5, node & 0xffff);
  v.set(prng.bytes(pad), VALUE_HEADER_BYTES);
  return v;
}

/** The ledger's verdict in the simulation: right marker, right height, sane length. */
export function isValidValue(height: number, v: Uint8Array): boolean {
  if (v.length < VALUE_HEADER_BYTES + VALUE_RANDOM_BYTES_MIN || v.length > VALUE_HEADER_BYTES + VALUE_RANDOM_BYTES_MAX) {
    return false;
  }
  if (v[0] !== VALUE_MARKER_VALID) return false;
  return new DataView(v.buffer, v.byteOffset, v.byteLength).getUint32(1) === height >>> 0;
}

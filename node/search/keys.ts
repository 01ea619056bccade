// Key layout of the search indexes inside the peer's LevelDB. Every search record starts with the
// prefix byte 'x' (unused by node/storage/keys.ts), then one kind byte:
//
//   'x' 0x00                                          indexed size: u64, leaves [0, n) are indexed
//   'x' kind ‖ u16 len ‖ value ‖ u64 last             posting group; kind in POSTING_KINDS
//   'x' 'r'  ‖ u16 len ‖ type ‖ u16 len ‖ id ‖ u64 last   posting group of resource (type, id)
//   'x' 's'  ‖ u64 chunk                              time summary of leaves [chunk·256, chunk·256+256):
//                                                     f64 min ‖ f64 max entry time (ms); absent when
//                                                     no leaf of the chunk has a time
//
// A posting group lists the leaves of one value that one write indexed (a block, the blocks of one
// catch-up batch, or one reindex batch): its key ends with the LAST (largest) leaf index of the
// group, its value holds the gaps back to the others (encodeGroup). One record per value per block
// instead of one per entry: values such as an action, an outcome or a client repeat within a block,
// so a block writes a fraction of the records. A group with one leaf has an empty value, so a
// record of one posting per key is a valid group.
//
// The groups of one value never overlap (each write indexes leaves after those of earlier writes),
// so the groups of one value are one key range in log order, and the group holding the first leaf
// at or after t is the first key at or after base ‖ u64 t. The u16 length before each value makes
// (value, index) pairs unambiguous without reserving a separator byte. Values are bounded by the
// entry limits (src/entry/limits.ts): at most ACTION_LENGTH_MAX / SHORT_STRING_LENGTH_MAX UTF-16
// units, so a key is at most ~1.6 KiB; longer values (never produced by a valid entry) are not
// indexed.
import { utf8 } from '../../src/encoding/bytes.js';
import { asciiLength, readU64, writeAscii, writeU64 } from '../storage/keys.js';

export const P_SEARCH = 0x78; // 'x'
export const K_STATE = 0x00;
export const K_ACTOR = 0x61; // 'a'
export const K_ACTION = 0x41; // 'A'
export const K_ACTION_PREFIX = 0x70; // 'p'
export const K_RTYPE = 0x74; // 't'
export const K_RESOURCE = 0x72; // 'r'
export const K_RID = 0x69; // 'i'
export const K_TENANT = 0x6e; // 'n'
export const K_OUTCOME = 0x6f; // 'o'
export const K_CLIENT = 0x63; // 'c'
export const K_TIME = 0x73; // 's'

/** Leaves summarized by one time-summary record (the width of a C2SP tile). */
export const TIME_CHUNK = 256;
/** Longest value (UTF-8 bytes) that is indexed: 3 bytes per UTF-16 unit of the longest entry field. */
export const INDEX_VALUE_BYTES_MAX = 3 * 256;

export const STATE_KEY = Uint8Array.of(P_SEARCH, K_STATE);
/** Every search record lies in [SEARCH_GTE, SEARCH_LT). */
export const SEARCH_GTE = Uint8Array.of(P_SEARCH);
export const SEARCH_LT = Uint8Array.of(P_SEARCH + 1);

/** 'x' ‖ kind ‖ (u16 len ‖ value)*, the part of a posting key before the index; null if a value is too long. */
export function postingBase(kind: number, ...values: string[]): Uint8Array | null {
  // ASCII values (nearly all) are written straight into the key; others are encoded first.
  const parts: (Uint8Array | string)[] = values.map((v) => (asciiLength(v) >= 0 ? v : utf8(v)));
  let n = 2;
  for (const p of parts) {
    if (p.length > INDEX_VALUE_BYTES_MAX) return null;
    n += 2 + p.length;
  }
  const k = new Uint8Array(n);
  k[0] = P_SEARCH;
  k[1] = kind;
  let o = 2;
  for (const p of parts) {
    k[o++] = p.length >> 8;
    k[o++] = p.length & 0xff;
    if (typeof p === 'string') o = writeAscii(k, o, p);
    else {
      k.set(p, o);
      o += p.length;
    }
  }
  return k;
}

/** base ‖ u64 index: the key of a group whose last leaf is `index`, or a seek target. */
export function postingKey(base: Uint8Array, index: number): Uint8Array {
  const k = new Uint8Array(base.length + 8);
  k.set(base, 0);
  writeU64(k, base.length, index);
  return k;
}

/** base ‖ 0xff × 8: above every group key of `base` (the end of its key range). */
export function postingEnd(base: Uint8Array): Uint8Array {
  const k = new Uint8Array(base.length + 8).fill(0xff);
  k.set(base, 0);
  return k;
}

/** The last (largest) leaf index of the group with this key. */
export function indexOfPostingKey(key: Uint8Array): number {
  return readU64(key, key.length - 8);
}

/** The key base of a posting group key (everything before the index). */
export function baseOfPostingKey(key: Uint8Array): Uint8Array {
  return key.subarray(0, key.length - 8);
}

/** Most leaves in one posting group: bounds a group's value (and its decoding) to a few KiB. */
export const GROUP_LEAVES_MAX = 4096;

/**
 * The value of the group of ascending leaf indexes `idx` (key: postingKey(base, last)): the gaps
 * from each index to the one before it, from the last back to the first, as LEB128 varints. One
 * leaf: empty. The gaps of a block's leaves are small, so most take one byte.
 */
export function encodeGroup(idx: readonly number[]): Uint8Array {
  if (idx.length <= 1) return EMPTY_GROUP;
  const out = new Uint8Array((idx.length - 1) * 8);
  let o = 0;
  for (let j = idx.length - 1; j > 0; j--) {
    let g = idx[j]! - idx[j - 1]!;
    while (g >= 0x80) {
      out[o++] = (g % 0x80) | 0x80;
      g = Math.floor(g / 0x80);
    }
    out[o++] = g;
  }
  return out.subarray(0, o);
}
const EMPTY_GROUP = new Uint8Array(0);

/**
 * The leaf indexes of a group (key ends with `last`), DESCENDING; null when the value is not a
 * group this module writes (a gap of 0, a varint longer than 8 bytes, an index below 0, more than
 * GROUP_LEAVES_MAX leaves): the stored index is corrupt.
 */
export function decodeGroup(last: number, value: Uint8Array): number[] | null {
  const out = [last];
  let cur = last;
  let o = 0;
  while (o < value.length) {
    let g = 0;
    let mul = 1;
    for (let n = 0; ; n++) {
      if (o >= value.length || n >= 8) return null;
      const b = value[o++]!;
      g += (b & 0x7f) * mul;
      mul *= 0x80;
      if (b < 0x80) break;
    }
    cur -= g;
    if (g === 0 || cur < 0 || out.length >= GROUP_LEAVES_MAX) return null;
    out.push(cur);
  }
  return out;
}

/** Leaves in a group value, without decoding it (one per varint, plus the last). */
export function groupSize(value: Uint8Array): number {
  let n = 1;
  for (let i = 0; i < value.length; i++) if (value[i]! < 0x80) n++;
  return n;
}

export function timeKey(chunk: number): Uint8Array {
  const k = new Uint8Array(10);
  k[0] = P_SEARCH;
  k[1] = K_TIME;
  writeU64(k, 2, chunk);
  return k;
}

export function chunkOfTimeKey(key: Uint8Array): number {
  return readU64(key, 2);
}

export function encodeTimeSummary(min: number, max: number): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setFloat64(0, min);
  v.setFloat64(8, max);
  return out;
}

export function decodeTimeSummary(b: Uint8Array): { min: number; max: number } | null {
  if (b.length !== 16) return null;
  const v = new DataView(b.buffer, b.byteOffset, 16);
  const min = v.getFloat64(0);
  const max = v.getFloat64(8);
  return Number.isFinite(min) && Number.isFinite(max) && min <= max ? { min, max } : null;
}

export function encodeU64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  writeU64(out, 0, n);
  return out;
}

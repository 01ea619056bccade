// Key layout of the search indexes inside the peer's LevelDB. Every search record starts with the
// prefix byte 'x' (unused by node/storage/keys.ts), then one kind byte:
//
//   'x' 0x00                                          indexed size: u64, leaves [0, n) are indexed
//   'x' kind ‖ u16 len ‖ value ‖ u64 index            posting (empty value); kind in POSTING_KINDS
//   'x' 'r'  ‖ u16 len ‖ type ‖ u16 len ‖ id ‖ u64 index   posting of resource (type, id)
//   'x' 's'  ‖ u64 chunk                              time summary of leaves [chunk·256, chunk·256+256):
//                                                     f64 min ‖ f64 max entry time (ms); absent when
//                                                     no leaf of the chunk has a time
//
// The leaf index is the LAST 8 bytes, big-endian, so the postings of one value are one key range
// in log order: a range scan walks them oldest→newest (or reverse), and [lo, hi) of log positions
// is [base ‖ u64 lo, base ‖ u64 hi). The u16 length before each value makes (value, index) pairs
// unambiguous without reserving a separator byte. Values are bounded by the entry limits
// (src/entry/limits.ts): at most ACTION_LENGTH_MAX / SHORT_STRING_LENGTH_MAX UTF-16 units, so a
// key is at most ~1.6 KiB; longer values (never produced by a valid entry) are not indexed.
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

/** base ‖ u64 index */
export function postingKey(base: Uint8Array, index: number): Uint8Array {
  const k = new Uint8Array(base.length + 8);
  k.set(base, 0);
  writeU64(k, base.length, index);
  return k;
}

export function indexOfPostingKey(key: Uint8Array): number {
  return readU64(key, key.length - 8);
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

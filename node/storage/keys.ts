// LevelDB key space of the peer store. Every key starts with ONE prefix byte naming its record
// kind; integers inside keys are fixed-width big-endian so that LevelDB's bytewise key order equals
// numeric order (range scans over heights, indexes and WAL sequence numbers rely on it).
//
//   'V'                                  schema version (u32 BE)
//   'G'                                  genesis hash (opaque bytes, set once)
//   'H'                                  head record (see codec.ts): height, tree size, root, block hash, log state
//   'S'                                  consensus signer state (opaque bytes, src/consensus codec)
//   'F'                                  tree size of the latest FINAL checkpoint (u64 BE)
//   'B' ‖ u64 height                     block bytes
//   'C' ‖ u64 height                     commit certificate bytes
//   'L' ‖ u64 index                      leaf (entry) bytes
//   'h' ‖ leaf hash[32]                  u64 index of the FIRST leaf with that hash
//   'c' ‖ u16 len ‖ client ‖ id          u64 index ‖ leaf hash[32] of the FIRST leaf with that (client, id)
//   'T' ‖ u8 level ‖ u64 index           tlog-tiles hash tile (full, or the widest partial written so far)
//   'K' ‖ u64 tree size                  checkpoint record: u8 final ‖ signed note bytes
//   'W' ‖ u64 height ‖ u32 seq           consensus WAL record
//   'E' ‖ u64 seq                        evidence record
//   'e' ‖ sha256(evidence)[32]           u64 seq (deduplication of identical evidence)
//   'M' ‖ utf8 key                       free-form metadata (putMeta/getMeta)
//   'A' ‖ kind ‖ ...                     alert delivery outbox and monitoring state (node/alerts/outbox.ts)
//
// "u64" values are JavaScript safe integers (< 2^53) written as 8 bytes; they are encoded with
// division, never with 32-bit bitwise operators.

import { utf8 } from '../../src/encoding/bytes.js';

export const P_SCHEMA = 0x56; // 'V'
export const P_GENESIS = 0x47; // 'G'
export const P_HEAD = 0x48; // 'H'
export const P_SIGNER = 0x53; // 'S'
export const P_FINAL = 0x46; // 'F'
export const P_BLOCK = 0x42; // 'B'
export const P_CERT = 0x43; // 'C'
export const P_LEAF = 0x4c; // 'L'
export const P_LEAF_HASH = 0x68; // 'h'
export const P_CLIENT_ID = 0x63; // 'c'
export const P_TILE = 0x54; // 'T'
export const P_CHECKPOINT = 0x4b; // 'K'
export const P_WAL = 0x57; // 'W'
export const P_EVIDENCE = 0x45; // 'E'
export const P_EVIDENCE_HASH = 0x65; // 'e'
export const P_META = 0x4d; // 'M'
export const P_ALERTS = 0x41; // 'A'

export function writeU64(out: Uint8Array, offset: number, n: number): void {
  // n < 2^53: split into high and low 32-bit halves by division.
  // Byte by byte, big-endian: no DataView per call (every key of a block's batch passes here, so a
  // view each was a measurable share of catch-up's allocations).
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n - hi * 0x1_0000_0000;
  out[offset] = hi >>> 24;
  out[offset + 1] = (hi >>> 16) & 0xff;
  out[offset + 2] = (hi >>> 8) & 0xff;
  out[offset + 3] = hi & 0xff;
  out[offset + 4] = lo >>> 24;
  out[offset + 5] = (lo >>> 16) & 0xff;
  out[offset + 6] = (lo >>> 8) & 0xff;
  out[offset + 7] = lo & 0xff;
}

export function readU64(b: Uint8Array, offset: number): number {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hi = view.getUint32(offset);
  const lo = view.getUint32(offset + 4);
  // hi < 2^21 for every value this store writes; larger is corruption (not a safe integer).
  return hi * 0x1_0000_0000 + lo;
}

export function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  writeU64(out, 0, n);
  return out;
}

export function singleKey(prefix: number): Uint8Array {
  return Uint8Array.of(prefix);
}

/** prefix ‖ u64 n */
export function u64Key(prefix: number, n: number): Uint8Array {
  const k = new Uint8Array(9);
  k[0] = prefix;
  writeU64(k, 1, n);
  return k;
}

/** The number stored after the prefix byte of a prefix ‖ u64 key. */
export function u64OfKey(key: Uint8Array): number {
  return readU64(key, 1);
}

/** prefix ‖ bytes */
export function bytesKey(prefix: number, b: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + b.length);
  k[0] = prefix;
  k.set(b, 1);
  return k;
}

/** 'T' ‖ u8 level ‖ u64 index */
export function tileKey(level: number, index: number): Uint8Array {
  const k = new Uint8Array(10);
  k[0] = P_TILE;
  k[1] = level;
  writeU64(k, 2, index);
  return k;
}

/**
 * Byte length of `s` in UTF-8 when every character is ASCII (one byte each), else -1. Keys are
 * built per entry on the catch-up path, mostly from ASCII strings: writing those bytes directly
 * (writeAscii) spares a TextEncoder call and an intermediate array per string.
 */
export function asciiLength(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return -1;
  return s.length;
}

/** Writes an ASCII string (asciiLength(s) >= 0) at `offset`; returns the offset after it. */
export function writeAscii(out: Uint8Array, offset: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[offset + i] = s.charCodeAt(i);
  return offset + s.length;
}

/**
 * 'c' ‖ u16 BE byte length of client ‖ client ‖ id. The length prefix makes the pair unambiguous
 * ("a","bc" and "ab","c" get different keys) without reserving a separator character.
 */
export function clientIdKey(client: string, id: string): Uint8Array {
  const cn = asciiLength(client);
  const idn = asciiLength(id);
  if (cn >= 0 && idn >= 0) {
    const k = new Uint8Array(3 + cn + idn);
    k[0] = P_CLIENT_ID;
    k[1] = Math.floor(cn / 256);
    k[2] = cn % 256;
    writeAscii(k, writeAscii(k, 3, client), id);
    return k;
  }
  const c = utf8(client);
  const i = utf8(id);
  const k = new Uint8Array(3 + c.length + i.length);
  k[0] = P_CLIENT_ID;
  k[1] = Math.floor(c.length / 256);
  k[2] = c.length % 256;
  k.set(c, 3);
  k.set(i, 3 + c.length);
  return k;
}

/** 'W' ‖ u64 height ‖ u32 seq */
export function walKey(height: number, seq: number): Uint8Array {
  const k = new Uint8Array(13);
  k[0] = P_WAL;
  writeU64(k, 1, height);
  new DataView(k.buffer).setUint32(9, seq);
  return k;
}

export function walSeqOfKey(key: Uint8Array): number {
  return new DataView(key.buffer, key.byteOffset, key.byteLength).getUint32(9);
}

/** Smallest key strictly greater than every key starting with `prefix` (for `lt` bounds). */
export function prefixEnd(prefix: number): Uint8Array {
  return Uint8Array.of(prefix + 1);
}

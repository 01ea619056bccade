// Binary records of the peer store that are not opaque caller bytes: the head record and the
// checkpoint record. Each decoder rejects any malformed input with StoreError('CORRUPT_RECORD').

import { HASH_BYTES } from '../../src/merkle/index.js';
import { StoreError } from './errors.js';
import { readU64, writeU64 } from './keys.js';

/** What head() returns: the state after the last applied block. */
export interface StoreHead {
  readonly height: number;
  readonly treeSize: number;
  readonly root: Uint8Array;
  readonly blockHash: Uint8Array;
  /** Encoded merkle compact range (src/merkle/compact-range.ts encodeState) of the tree at treeSize. */
  readonly logState: Uint8Array;
}

// Head record, version 1:
//   u8 version=1 ‖ u64 height ‖ u64 treeSize ‖ root[32] ‖ u8 len ‖ blockHash[len] ‖ u16 len ‖ logState[len]
const HEAD_V1 = 1;
/** Longest block hash the head record holds (a SHA-256 or SHA-512 digest fits). */
export const MAX_BLOCK_HASH_BYTES = 64;
/** Longest log state the head record holds (merkle MAX_STATE_BYTES is 1,705). */
export const MAX_LOG_STATE_BYTES = 4096;

export function encodeHead(h: StoreHead): Uint8Array {
  const out = new Uint8Array(1 + 8 + 8 + HASH_BYTES + 1 + h.blockHash.length + 2 + h.logState.length);
  let o = 0;
  out[o++] = HEAD_V1;
  writeU64(out, o, h.height);
  o += 8;
  writeU64(out, o, h.treeSize);
  o += 8;
  out.set(h.root, o);
  o += HASH_BYTES;
  out[o++] = h.blockHash.length;
  out.set(h.blockHash, o);
  o += h.blockHash.length;
  out[o++] = Math.floor(h.logState.length / 256);
  out[o++] = h.logState.length % 256;
  out.set(h.logState, o);
  return out;
}

export function decodeHead(b: Uint8Array): StoreHead {
  const bad = (why: string): never => {
    throw new StoreError('CORRUPT_RECORD', `head record: ${why}`);
  };
  const fixed = 1 + 8 + 8 + HASH_BYTES + 1;
  if (b.length < fixed) bad(`${b.length} bytes is shorter than ${fixed}`);
  if (b[0] !== HEAD_V1) bad(`unknown version ${b[0]}`);
  const height = readU64(b, 1);
  const treeSize = readU64(b, 9);
  if (!Number.isSafeInteger(height) || !Number.isSafeInteger(treeSize)) bad('height or tree size is not a safe integer');
  let o = 17;
  const root = b.slice(o, o + HASH_BYTES);
  o += HASH_BYTES;
  const bhLen = b[o++]!;
  if (o + bhLen + 2 > b.length) bad('truncated block hash');
  const blockHash = b.slice(o, o + bhLen);
  o += bhLen;
  const lsLen = b[o]! * 256 + b[o + 1]!;
  o += 2;
  if (o + lsLen !== b.length) bad(`log state length ${lsLen} does not match the record length`);
  const logState = b.slice(o, o + lsLen);
  return { height, treeSize, root, blockHash, logState };
}

// Checkpoint record: u8 final (0 or 1) ‖ note bytes.
export function encodeCheckpoint(note: Uint8Array, final: boolean): Uint8Array {
  const out = new Uint8Array(1 + note.length);
  out[0] = final ? 1 : 0;
  out.set(note, 1);
  return out;
}

export function decodeCheckpoint(b: Uint8Array): { note: Uint8Array; final: boolean } {
  if (b.length < 1 || (b[0] !== 0 && b[0] !== 1)) {
    throw new StoreError('CORRUPT_RECORD', `checkpoint record: bad final flag or empty record (${b.length} bytes)`);
  }
  return { note: b.slice(1), final: b[0] === 1 };
}

// Client-id index value: u64 index ‖ leaf hash[32].
export function encodeClientIdValue(index: number, leafHash: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + HASH_BYTES);
  writeU64(out, 0, index);
  out.set(leafHash, 8);
  return out;
}

export function decodeClientIdValue(b: Uint8Array): { index: number; leafHash: Uint8Array } {
  if (b.length !== 8 + HASH_BYTES) throw new StoreError('CORRUPT_RECORD', `client-id index record is ${b.length} bytes, expected ${8 + HASH_BYTES}`);
  return { index: readU64(b, 0), leafHash: b.slice(8) };
}

export function decodeU64Value(b: Uint8Array, what: string): number {
  if (b.length !== 8) throw new StoreError('CORRUPT_RECORD', `${what} record is ${b.length} bytes, expected 8`);
  const n = readU64(b, 0);
  if (!Number.isSafeInteger(n)) throw new StoreError('CORRUPT_RECORD', `${what} record is not a safe integer`);
  return n;
}

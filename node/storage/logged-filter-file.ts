// The logged filter (logged-filter.ts) saved beside LevelDB's files, so that opening a store does
// not scan every leaf-hash and (client, id) index key to rebuild it.
//
// Why: that scan read the whole index key space at every open; LevelDB maps its table files into
// memory, and the pages the scan touched stayed resident: a peer's RSS grew with the log (~+90 MiB
// at 1,000,000 entries) before it had served anything.
//
// Exactness: the filter must never miss a logged key. A saved file records the tree size it covers
// (every leaf below it had its keys added) and the RFC 9162 root of the tree at that size; it is
// used only when both are the store head's (the root commits to every leaf, so the file belongs to
// this log, not merely to one with the same size and last entry, and nothing was appended since).
// Anything else (no file, another shape, a torn or foreign file, blocks applied after the last
// save, e.g. after a crash) rebuilds the filter by the full scan, as before, and saves it again.
//
// Layout (header fields little-endian; the marker and the filter words in the writer's native order,
// so a file from a machine of the other byte order fails the marker check):
//   magic "CAIRNLF2" ‖ u32 0x01020304 (native) ‖ u32 bits ‖ u32 hashes ‖ u32 0 ‖ f64 count
//   ‖ f64 covered size ‖ root[32] of the tree at covered size ‖ bits/8 bytes of filter (native words)
//   ‖ sha256 of all before

import { createHash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LoggedFilter } from './logged-filter.js';

/** File name inside the store directory (LevelDB ignores names it did not write). */
export const LOGGED_FILTER_FILE = 'cairn-logged-filter.bin';
/** Bump when the layout or the filter's bit positions (logged-filter.ts: fnv1a, k, double hashing) change. */
const MAGIC = 'CAIRNLF2';
/** 0x01020304 in this machine's byte order, as the filter words are written. */
const NATIVE_MARKER = new Uint8Array(new Uint32Array([0x01020304]).buffer);
const HEADER_BYTES = 8 + 4 * 4 + 8 + 8 + 32;
const SUM_BYTES = 32;

export interface SavedFilter {
  filter: LoggedFilter;
  /** Tree size the filter covers: every leaf below it had its index keys added. */
  coveredSize: number;
  /** RFC 9162 root of the tree at coveredSize. */
  root: Uint8Array;
}

/** Writes `words` (a copy taken when `coveredSize` was durable) atomically: temp file, then rename. */
export async function saveLoggedFilter(dir: string, s: { bits: number; hashes: number; count: number; words: Uint32Array }, coveredSize: number, root: Uint8Array): Promise<void> {
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(MAGIC, 0, 'latin1');
  const dv = new DataView(header.buffer, header.byteOffset, header.byteLength);
  header.set(NATIVE_MARKER, 8);
  dv.setUint32(12, s.bits, true);
  dv.setUint32(16, s.hashes, true);
  dv.setFloat64(24, s.count, true);
  dv.setFloat64(32, coveredSize, true);
  header.set(root, 40);
  const body = new Uint8Array(s.words.buffer, s.words.byteOffset, s.words.byteLength);
  const sum = createHash('sha256').update(header).update(body).digest();
  const tmp = join(dir, `${LOGGED_FILTER_FILE}.tmp`);
  // Written in place from the three parts: no 8 MiB concatenated copy.
  const fh = await open(tmp, 'w');
  try {
    await fh.writev([header, body, sum]);
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, LOGGED_FILTER_FILE));
}

/** The saved filter of `dir` in the expected shape, or null (missing, another shape, torn, altered). */
export async function loadLoggedFilter(dir: string, bits: number, hashes: number): Promise<SavedFilter | null> {
  let fh: FileHandle;
  try {
    fh = await open(join(dir, LOGGED_FILTER_FILE), 'r');
  } catch {
    return null;
  }
  try {
    if ((await fh.stat()).size !== HEADER_BYTES + bits / 8 + SUM_BYTES) return null;
    const header = Buffer.alloc(HEADER_BYTES);
    const words = new Uint32Array(bits / 32);
    const body = new Uint8Array(words.buffer);
    const sum = Buffer.alloc(SUM_BYTES);
    // Read straight into the filter's words (no second 8 MiB buffer).
    const { bytesRead } = await fh.readv([header, body, sum], 0);
    if (bytesRead !== HEADER_BYTES + body.length + SUM_BYTES || header.toString('latin1', 0, 8) !== MAGIC) return null;
    const dv = new DataView(header.buffer, header.byteOffset, header.byteLength);
    if (!header.subarray(8, 12).equals(NATIVE_MARKER) || dv.getUint32(12, true) !== bits || dv.getUint32(16, true) !== hashes) return null;
    if (!createHash('sha256').update(header).update(body).digest().equals(sum)) return null;
    const count = dv.getFloat64(24, true);
    const coveredSize = dv.getFloat64(32, true);
    if (!Number.isSafeInteger(count) || count < 0 || !Number.isSafeInteger(coveredSize) || coveredSize < 0) return null;
    return { filter: LoggedFilter.fromState(bits, hashes, count, words), coveredSize, root: new Uint8Array(header.subarray(40, 72)) };
  } finally {
    await fh.close();
  }
}

/** Removes a saved filter (it no longer describes the store). */
export async function dropLoggedFilter(dir: string): Promise<void> {
  await rm(join(dir, LOGGED_FILTER_FILE), { force: true });
}

// C2SP tlog-tiles layout (c2sp.org/tlog-tiles, "Merkle Tree" and "Log entries" sections) with
// tile height 8: a full tile holds 256 hashes = 8,192 bytes. "the n-th tile at level l […] is
// the sequence of the following Merkle Tree Hashes, with i from 0 to 255:
//     MTH(D[(n * 256 + i) * 256**l : (n * 256 + i + 1) * 256**l])"
// i.e. tile (l, n) holds the hashes at tree level 8·l with indexes n·256 … n·256+255.
// "The partial tile at level l for a tree of size s has floor(s / 256**l) mod 256 entries."

import { concatBytes } from '../encoding/bytes.js';
import { MerkleError } from './errors.js';
import { HASH_BYTES, isHash } from './hash.js';
import { MAX_TREE_SIZE, checkSize } from './math.js';

/** Tree levels per tile ("tile height"); C2SP tlog-tiles fixes it at 8. */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile: 2^TILE_HEIGHT. */
export const TILE_WIDTH = 256;
export const FULL_TILE_BYTES = TILE_WIDTH * HASH_BYTES;
/** "<L> […] MUST be a decimal ASCII integer between 0 and 63" (tlog-tiles). */
export const MAX_TILE_LEVEL = 63;
/** Longest tile path parseTilePath looks at; the longest valid one (level 63, six index groups, .p/255) is 40 chars. */
export const MAX_TILE_PATH_CHARS = 64;
/** Most tiles tilesForSize lists (a tree of ~2^28 leaves); use partialTilesForSize beyond that. */
export const MAX_LISTED_TILES = 1 << 20;

/** A hash tile: `width` is 1..255 for a partial tile, TILE_WIDTH (256) for a full one. */
export interface TileId {
  readonly level: number;
  readonly index: number;
  readonly width: number;
}

/** An entry bundle (tile/entries/…): same index/width meaning as the level-0 hash tile. */
export interface EntryBundleId {
  readonly index: number;
  readonly width: number;
}

export function checkTileId(t: TileId): TileId {
  if (t === null || typeof t !== 'object') throw new MerkleError('BAD_TILE_ID', 'tile id must be an object { level, index, width }');
  if (!Number.isInteger(t.level) || t.level < 0 || t.level > MAX_TILE_LEVEL) {
    throw new MerkleError('BAD_TILE_ID', `tile level must be an integer in 0..${MAX_TILE_LEVEL} (MAX_TILE_LEVEL), got ${String(t.level)}`);
  }
  if (!Number.isSafeInteger(t.index) || t.index < 0) {
    throw new MerkleError('BAD_TILE_ID', `tile index must be a non-negative safe integer, got ${String(t.index)}`);
  }
  if (!Number.isInteger(t.width) || t.width < 1 || t.width > TILE_WIDTH) {
    throw new MerkleError('BAD_TILE_ID', `tile width must be an integer in 1..${TILE_WIDTH}, got ${String(t.width)}`);
  }
  return t;
}

/** 256^level, exact for every level we use (a power of two). */
function tileSpan(level: number): number {
  return 2 ** (TILE_HEIGHT * level);
}

/** Number of complete hashes at tree level 8·level for a tree of `size` leaves: ⌊size / 256^level⌋. */
export function hashesAtTileLevel(size: number, level: number): number {
  return Math.floor(size / tileSpan(level));
}

/**
 * Width of tile (level, index) in the tree of `size` leaves: 256 if full, 1..255 if it is that
 * level's partial tile, 0 if it does not exist at that size.
 */
export function tileWidthAt(size: number, level: number, index: number): number {
  const count = hashesAtTileLevel(size, level);
  const before = index * TILE_WIDTH;
  if (count <= before) return 0;
  return Math.min(TILE_WIDTH, count - before);
}

// ---------------------------------------------------------------------------------------------
// Paths: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>]

function pad3(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`;
}

/** "<N> […] encoded into zero-padded 3-digit path elements. All but the last path element MUST begin with an x." */
function formatTileIndex(index: number): string {
  let n = index;
  let s = pad3(n % 1000);
  n = Math.floor(n / 1000);
  while (n > 0) {
    s = `x${pad3(n % 1000)}/${s}`;
    n = Math.floor(n / 1000);
  }
  return s;
}

function widthSuffix(width: number): string {
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

/** `tile/<L>/<N>[.p/<W>]`, e.g. level 0, index 1234067, width 256 → `tile/0/x001/x234/067`. */
export function tilePath(tile: TileId): string {
  checkTileId(tile);
  return `tile/${tile.level}/${formatTileIndex(tile.index)}${widthSuffix(tile.width)}`;
}

/** `tile/entries/<N>[.p/<W>]`. */
export function entryBundlePath(bundle: EntryBundleId): string {
  checkTileId({ level: 0, index: bundle.index, width: bundle.width });
  return `tile/entries/${formatTileIndex(bundle.index)}${widthSuffix(bundle.width)}`;
}

export type TilePathErrorCode =
  | 'NOT_A_STRING'
  | 'PATH_TOO_LONG'
  | 'NOT_A_TILE_PATH'
  | 'BAD_LEVEL'
  | 'BAD_INDEX'
  | 'INDEX_TOO_LARGE'
  | 'BAD_WIDTH';

export type ParsedTilePath =
  | { readonly ok: true; readonly kind: 'hash'; readonly tile: TileId }
  | { readonly ok: true; readonly kind: 'entries'; readonly bundle: EntryBundleId }
  | { readonly ok: false; readonly code: TilePathErrorCode; readonly message: string };

function fail(code: TilePathErrorCode, message: string): ParsedTilePath {
  return { ok: false, code, message };
}

const LEVEL_RE = /^(0|[1-9][0-9]?)$/; // "no additional leading zeroes"
const WIDTH_RE = /^[1-9][0-9]{0,2}$/; // "between 1 and 255, with no additional leading zeroes"
const INNER_ELEM_RE = /^x[0-9]{3}$/;
const LAST_ELEM_RE = /^[0-9]{3}$/;

/**
 * Strict parser: accepts exactly the paths tilePath / entryBundlePath produce (the canonical
 * encoding), so one tile has one path. Non-canonical forms such as a superfluous leading `x000/`
 * group, `.p/256` (a full tile is never "partial") or leading zeros in L or W are rejected.
 * Accepts a path relative to the log prefix, without a leading slash.
 */
export function parseTilePath(path: string): ParsedTilePath {
  if (typeof path !== 'string') return fail('NOT_A_STRING', 'tile path must be a string');
  if (path.length > MAX_TILE_PATH_CHARS) {
    return fail('PATH_TOO_LONG', `tile path is ${path.length} chars, limit MAX_TILE_PATH_CHARS = ${MAX_TILE_PATH_CHARS}`);
  }
  const parts = path.split('/');
  if (parts.length < 3 || parts[0] !== 'tile') {
    return fail('NOT_A_TILE_PATH', `not of the form tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]: ${JSON.stringify(path)}`);
  }
  const levelPart = parts[1]!;
  let level = -1;
  if (levelPart !== 'entries') {
    if (!LEVEL_RE.test(levelPart)) return fail('BAD_LEVEL', `tile level ${JSON.stringify(levelPart)} is not a decimal integer without leading zeros`);
    level = Number(levelPart);
    if (level > MAX_TILE_LEVEL) return fail('BAD_LEVEL', `tile level ${level} exceeds ${MAX_TILE_LEVEL}`);
  }
  let elems = parts.slice(2);
  let width = TILE_WIDTH;
  const maybeP = elems.length >= 2 ? elems[elems.length - 2]! : '';
  if (maybeP.endsWith('.p')) {
    const w = elems[elems.length - 1]!;
    if (!WIDTH_RE.test(w)) return fail('BAD_WIDTH', `partial tile width ${JSON.stringify(w)} is not a decimal integer in 1..255 without leading zeros`);
    width = Number(w);
    if (width >= TILE_WIDTH) return fail('BAD_WIDTH', `partial tile width ${width} must be 1..255`);
    elems = elems.slice(0, -1);
    elems[elems.length - 1] = maybeP.slice(0, -2);
  }
  let index = 0;
  for (let i = 0; i < elems.length; i++) {
    const e = elems[i]!;
    const last = i === elems.length - 1;
    if (!(last ? LAST_ELEM_RE : INNER_ELEM_RE).test(e)) {
      return fail('BAD_INDEX', `tile index element ${JSON.stringify(e)} must be ${last ? 'three digits' : "'x' and three digits"}`);
    }
    const digits = Number(last ? e : e.slice(1));
    if (i === 0 && !last && digits === 0) {
      return fail('BAD_INDEX', `tile index has a superfluous leading group ${JSON.stringify(e)}`);
    }
    // Checked before multiplying so `index` stays a safe integer.
    if (index > (Number.MAX_SAFE_INTEGER - digits) / 1000) {
      return fail('INDEX_TOO_LARGE', `tile index exceeds ${Number.MAX_SAFE_INTEGER}`);
    }
    index = index * 1000 + digits;
  }
  if (level < 0) return { ok: true, kind: 'entries', bundle: { index, width } };
  return { ok: true, kind: 'hash', tile: { level, index, width } };
}

// ---------------------------------------------------------------------------------------------
// Which tiles exist / change

/**
 * Every hash tile of the tree of `size` leaves, level by level, full tiles then that level's
 * partial tile (if any). The entry bundles are exactly the level-0 tiles (same index and width).
 * Throws LIMIT_EXCEEDED above MAX_LISTED_TILES; see partialTilesForSize.
 */
export function tilesForSize(size: number): TileId[] {
  checkSize('size', size);
  const out: TileId[] = [];
  for (let level = 0; hashesAtTileLevel(size, level) > 0; level++) {
    const count = hashesAtTileLevel(size, level);
    const tiles = Math.ceil(count / TILE_WIDTH);
    if (out.length + tiles > MAX_LISTED_TILES) {
      throw new MerkleError('LIMIT_EXCEEDED', `tree of size ${size} has more than MAX_LISTED_TILES = ${MAX_LISTED_TILES} tiles`);
    }
    for (let index = 0; index < tiles; index++) out.push({ level, index, width: Math.min(TILE_WIDTH, count - index * TILE_WIDTH) });
  }
  return out;
}

/**
 * The rightmost tile of each level for the tree of `size` leaves — the partial ones (width
 * ⌊s/256^l⌋ mod 256) that a log must serve for a checkpoint of that size. Full rightmost tiles
 * are not included. O(log size).
 */
export function partialTilesForSize(size: number): TileId[] {
  checkSize('size', size);
  const out: TileId[] = [];
  for (let level = 0; hashesAtTileLevel(size, level) > 0; level++) {
    const count = hashesAtTileLevel(size, level);
    const width = count % TILE_WIDTH;
    if (width > 0) out.push({ level, index: Math.floor(count / TILE_WIDTH), width });
  }
  return out;
}

/**
 * The tiles whose content is new or grows when the tree goes from oldSize to newSize leaves, with
 * their widths at newSize: at each level, every tile holding a hash index in
 * [⌊old/256^l⌋, ⌊new/256^l⌋). Storage writes exactly these (see tileWritesForAppend).
 */
export function tilesTouchedByAppend(oldSize: number, newSize: number): TileId[] {
  checkSize('oldSize', oldSize);
  checkSize('newSize', newSize);
  if (oldSize > newSize) throw new MerkleError('SIZE_ORDER', `oldSize ${oldSize} > newSize ${newSize}`);
  const out: TileId[] = [];
  for (let level = 0; hashesAtTileLevel(newSize, level) > 0; level++) {
    const oldCount = hashesAtTileLevel(oldSize, level);
    const newCount = hashesAtTileLevel(newSize, level);
    if (newCount === oldCount) continue;
    const first = Math.floor(oldCount / TILE_WIDTH);
    const last = Math.floor((newCount - 1) / TILE_WIDTH);
    if (out.length + (last - first + 1) > MAX_LISTED_TILES) {
      throw new MerkleError('LIMIT_EXCEEDED', `append ${oldSize}→${newSize} touches more than MAX_LISTED_TILES = ${MAX_LISTED_TILES} tiles`);
    }
    for (let index = first; index <= last; index++) {
      out.push({ level, index, width: Math.min(TILE_WIDTH, newCount - index * TILE_WIDTH) });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tile bytes

/** Concatenates 1..256 hashes of tree level 8·l into tile bytes. */
export function buildTileBytes(hashes: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(hashes) || hashes.length < 1 || hashes.length > TILE_WIDTH) {
    throw new MerkleError('BAD_TILE', `a tile holds 1..${TILE_WIDTH} hashes, got ${Array.isArray(hashes) ? hashes.length : typeof hashes}`);
  }
  for (let i = 0; i < hashes.length; i++) {
    if (!isHash(hashes[i])) throw new MerkleError('BAD_HASH', `tile hash ${i} must be ${HASH_BYTES} bytes`);
  }
  return concatBytes(...hashes);
}

/** Width (hash count) of tile bytes; throws BAD_TILE unless the length is 32·w for w in 1..256. */
export function tileBytesWidth(bytes: Uint8Array): number {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length % HASH_BYTES !== 0 || bytes.length > FULL_TILE_BYTES) {
    const len = bytes instanceof Uint8Array ? bytes.length : -1;
    throw new MerkleError('BAD_TILE', `tile must be a positive multiple of ${HASH_BYTES} bytes up to ${FULL_TILE_BYTES}, got ${len}`);
  }
  return bytes.length / HASH_BYTES;
}

/** Hash i of a tile (a view, not a copy). */
export function tileHash(bytes: Uint8Array, i: number): Uint8Array {
  return bytes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
}

/**
 * The bytes of the width-`width` version of a tile, given any version at least as wide. Hashes in
 * a tile never change once present, so a partial tile is a prefix of every wider version: a store
 * may keep only the widest one and serve narrower ones with this.
 */
export function truncateTile(bytes: Uint8Array, width: number): Uint8Array {
  const have = tileBytesWidth(bytes);
  if (!Number.isInteger(width) || width < 1 || width > have) {
    throw new MerkleError('BAD_TILE', `cannot cut a tile of width ${have} to width ${String(width)}`);
  }
  return width === have ? bytes : bytes.subarray(0, width * HASH_BYTES);
}

/** Start index (first leaf) covered by tile (level, index): index·256^(level+1). */
export function tileStartLeaf(tile: { level: number; index: number }): number {
  const start = tile.index * tileSpan(tile.level + 1);
  if (start > MAX_TREE_SIZE) throw new MerkleError('BAD_TILE_ID', `tile ${tile.level}/${tile.index} starts beyond MAX_TREE_SIZE`);
  return start;
}

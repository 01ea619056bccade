// O(log n) append state of the log: a "compact range" [0, size) — the roots of the perfect
// subtrees that the tree of `size` leaves decomposes into (RFC 9162 §2.1.1 splits D[n] into a
// left subtree of the largest power of two < n leaves and the rest; repeating that split on the
// rest yields one perfect subtree per set bit of n, largest first).
//
// Design after transparency-dev/merkle `compact.Range` and Go sumdb/tlog `StoredHashes`: appending
// leaf n completes one new node per trailing 1-bit of n, each merged with the root to its left.
// Those newly completed nodes are reported as StoredHash so storage can persist them (the tile
// store keeps the ones at levels 0, 8, 16, …) and answer proofs for any past size.

import { concatBytes } from '../encoding/bytes.js';
import { MerkleError } from './errors.js';
import { EMPTY_ROOT, HASH_BYTES, isHash, nodeHash } from './hash.js';
import { MAX_NODE_LEVEL, MAX_TREE_SIZE, checkSize, popcount } from './math.js';

/** A complete node of the tree: level 0 = leaf hashes; index counts nodes left to right at that level. */
export interface StoredHash {
  readonly level: number;
  readonly index: number;
  readonly hash: Uint8Array;
}

/**
 * Immutable compact range of the tree [0, size). `roots[i]` are the perfect-subtree roots, left to
 * right, one per set bit of `size` from the most significant bit down.
 */
export interface CompactRange {
  readonly size: number;
  readonly roots: readonly Uint8Array[];
}

/** Most leaf hashes accepted by one appendLeafHashes call (bounds the returned StoredHash list). */
export const MAX_APPEND_BATCH = 1 << 20;

export const EMPTY_RANGE: CompactRange = Object.freeze({ size: 0, roots: Object.freeze([]) as readonly Uint8Array[] });

/** Checks the structural invariant roots.length === popcount(size) and every root is a hash. */
export function checkCompactRange(state: CompactRange): CompactRange {
  if (state === null || typeof state !== 'object' || !Array.isArray(state.roots)) {
    throw new MerkleError('BAD_STATE_ENCODING', 'compact range must be an object { size, roots[] }');
  }
  checkSize('compact range size', state.size);
  const want = popcount(state.size);
  if (state.roots.length !== want) {
    throw new MerkleError('BAD_STATE_ENCODING', `compact range of size ${state.size} needs ${want} roots, has ${state.roots.length}`);
  }
  for (const r of state.roots) {
    if (!isHash(r)) throw new MerkleError('BAD_STATE_ENCODING', `compact range roots must be ${HASH_BYTES}-byte hashes`);
  }
  return state;
}

export interface AppendResult {
  readonly state: CompactRange;
  /** Every node completed by the append, in creation order (each leaf, then the nodes it completed). */
  readonly stored: StoredHash[];
}

/**
 * Appends leaf hashes (already SHA-256(0x00 || entry)) to the range. Pure: `state` is not
 * modified. Cost: one node hash per completed node, amortised < 1 per leaf.
 */
export function appendLeafHashes(state: CompactRange, leafHashes: readonly Uint8Array[]): AppendResult {
  checkCompactRange(state);
  if (!Array.isArray(leafHashes)) throw new MerkleError('BAD_HASH', 'leafHashes must be an array');
  if (leafHashes.length > MAX_APPEND_BATCH) {
    throw new MerkleError('LIMIT_EXCEEDED', `append batch of ${leafHashes.length} leaves exceeds MAX_APPEND_BATCH = ${MAX_APPEND_BATCH}`);
  }
  if (state.size + leafHashes.length > MAX_TREE_SIZE) {
    throw new MerkleError('LIMIT_EXCEEDED', `append would grow the tree beyond MAX_TREE_SIZE = ${MAX_TREE_SIZE}`);
  }
  // Validate the whole batch before changing anything, so a bad hash appends nothing.
  for (let i = 0; i < leafHashes.length; i++) {
    if (!isHash(leafHashes[i])) {
      throw new MerkleError('BAD_HASH', `leafHashes[${i}] must be a ${HASH_BYTES}-byte Uint8Array`);
    }
  }
  const roots = state.roots.slice();
  const stored: StoredHash[] = [];
  let size = state.size;
  for (const leaf of leafHashes) {
    // Leaf number `size` goes in at level 0.
    let h = leaf;
    stored.push({ level: 0, index: size, hash: h });
    // Each trailing 1-bit of the leaf's index means the root to the left is a perfect subtree of
    // the same height as h: merge them into a node one level up (Go tlog StoredHashes).
    let n = size;
    let level = 0;
    while (n % 2 === 1) {
      const left = roots.pop()!;
      h = nodeHash(left, h);
      level++;
      n = (n - 1) / 2;
      stored.push({ level, index: n, hash: h });
    }
    roots.push(h);
    size++;
  }
  return { state: Object.freeze({ size, roots: Object.freeze(roots) }), stored };
}

/**
 * MTH of the whole range (RFC 9162 §2.1.1): fold the perfect-subtree roots right to left, since
 * the right part of every split is itself the tree over the remaining smaller subtrees.
 */
export function rootOf(state: CompactRange): Uint8Array {
  checkCompactRange(state);
  const roots = state.roots;
  if (roots.length === 0) return EMPTY_ROOT;
  let h = roots[roots.length - 1]!;
  for (let i = roots.length - 2; i >= 0; i--) h = nodeHash(roots[i]!, h);
  return h;
}

// Serialized form (for node/ to persist the append state next to its tiles):
//   byte 0      : format version, STATE_FORMAT_V1
//   bytes 1..8  : size, unsigned 64-bit big-endian (≤ MAX_TREE_SIZE)
//   then        : popcount(size) × 32-byte roots, left to right
const STATE_FORMAT_V1 = 1;
const STATE_HEADER_BYTES = 9;
/** Largest encoding: header + 53 roots (popcount of a size < 2^53). */
export const MAX_STATE_BYTES = STATE_HEADER_BYTES + 53 * HASH_BYTES;

export function encodeState(state: CompactRange): Uint8Array {
  checkCompactRange(state);
  const header = new Uint8Array(STATE_HEADER_BYTES);
  header[0] = STATE_FORMAT_V1;
  const view = new DataView(header.buffer);
  view.setUint32(1, Math.floor(state.size / 2 ** 32));
  view.setUint32(5, state.size % 2 ** 32);
  return concatBytes(header, ...state.roots);
}

/** Inverse of encodeState; throws MerkleError('BAD_STATE_ENCODING') on any malformed input. */
export function decodeState(bytes: Uint8Array): CompactRange {
  if (!(bytes instanceof Uint8Array)) throw new MerkleError('BAD_STATE_ENCODING', 'state must be a Uint8Array');
  if (bytes.length < STATE_HEADER_BYTES || bytes.length > MAX_STATE_BYTES) {
    throw new MerkleError('BAD_STATE_ENCODING', `state is ${bytes.length} bytes, must be ${STATE_HEADER_BYTES}..${MAX_STATE_BYTES} (MAX_STATE_BYTES)`);
  }
  if (bytes[0] !== STATE_FORMAT_V1) {
    throw new MerkleError('BAD_STATE_ENCODING', `unknown state format version ${bytes[0]}, expected ${STATE_FORMAT_V1}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = view.getUint32(1) * 2 ** 32 + view.getUint32(5);
  if (size > MAX_TREE_SIZE) {
    throw new MerkleError('BAD_STATE_ENCODING', `state size ${size} exceeds MAX_TREE_SIZE = ${MAX_TREE_SIZE}`);
  }
  const count = popcount(size);
  if (bytes.length !== STATE_HEADER_BYTES + count * HASH_BYTES) {
    throw new MerkleError('BAD_STATE_ENCODING', `state of size ${size} must be ${STATE_HEADER_BYTES + count * HASH_BYTES} bytes, got ${bytes.length}`);
  }
  const roots: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const off = STATE_HEADER_BYTES + i * HASH_BYTES;
    roots.push(bytes.slice(off, off + HASH_BYTES));
  }
  return Object.freeze({ size, roots: Object.freeze(roots) });
}

/** The (level, index) coordinates of the perfect subtrees of [0, size), left to right. */
export function compactRangeNodes(size: number): { level: number; index: number }[] {
  checkSize('size', size);
  const out: { level: number; index: number }[] = [];
  let lo = 0;
  for (let level = MAX_NODE_LEVEL; level >= 0; level--) {
    const k = 2 ** level;
    if (lo + k <= size) {
      out.push({ level, index: lo / k });
      lo += k;
    }
  }
  return out;
}

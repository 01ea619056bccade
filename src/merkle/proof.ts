// Proof generation for any past tree size from stored tiles. The recursions are those of
// RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF), run on leaf ranges [lo, hi) instead of lists.
// Each proof element is MTH of a range that splits into perfect subtrees; a plan step lists the
// ranges, then every perfect-subtree hash is fetched in ONE tile read (readNodeHashes) and each
// range hash is folded from them (Go sumdb/tlog leafProofIndex/treeProofIndex do the same).

import { MerkleError } from './errors.js';
import { EMPTY_ROOT, nodeHash } from './hash.js';
import { type CompactRange } from './compact-range.js';
import { type NodeId, readNodeHashes } from './hash-reader.js';
import { checkIndex, checkSize, largestPowerOfTwoAtMost, largestPowerOfTwoBelow, log2Exact } from './math.js';
import type { TileReader } from './tile-store.js';

type Range = readonly [lo: number, hi: number];

/**
 * The perfect subtrees of leaf range [lo, hi), left to right. Valid for the ranges RFC 9162
 * recursions produce: lo is a multiple of every power of two ≤ hi − lo, so each step takes the
 * largest power of two that fits (equivalent to MTH's "largest power of two smaller than n" split).
 */
function perfectNodes(lo: number, hi: number, out: NodeId[]): void {
  while (lo < hi) {
    const k = largestPowerOfTwoAtMost(hi - lo);
    if (lo % k !== 0) throw new Error(`merkle: internal error, unaligned range [${lo}, ${hi})`);
    out.push({ level: log2Exact(k), index: lo / k });
    lo += k;
  }
}

/** Fetches MTH(D[lo:hi]) for every range with one tile read. */
async function rangeHashes(reader: TileReader, size: number, ranges: readonly Range[]): Promise<Uint8Array[]> {
  const nodes: NodeId[] = [];
  const counts: number[] = [];
  for (const [lo, hi] of ranges) {
    const before = nodes.length;
    perfectNodes(lo, hi, nodes);
    counts.push(nodes.length - before);
  }
  const hashes = await readNodeHashes(reader, size, nodes);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of counts) {
    // RFC 9162 §2.1.1: MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])); the right part is
    // again split, so fold the perfect subtrees right to left.
    let h = hashes[at + c - 1]!;
    for (let i = at + c - 2; i >= at; i--) h = nodeHash(hashes[i]!, h);
    out.push(h);
    at += c;
  }
  return out;
}

/** MTH(D[0:size]) of a past tree: the root hash of the log when it had `size` leaves. */
export async function treeHash(reader: TileReader, size: number): Promise<Uint8Array> {
  checkSize('size', size);
  if (size === 0) return EMPTY_ROOT; // RFC 9162 §2.1.1: MTH({}) = HASH().
  const [h] = await rangeHashes(reader, size, [[0, size]]);
  return h!;
}

/** The compact range (append state) of the tree as it was at `size` leaves, rebuilt from tiles. */
export async function compactRangeAt(reader: TileReader, size: number): Promise<CompactRange> {
  checkSize('size', size);
  const nodes: NodeId[] = [];
  perfectNodes(0, size, nodes);
  const roots = await readNodeHashes(reader, size, nodes);
  return Object.freeze({ size, roots: Object.freeze(roots) });
}

/**
 * RFC 9162 §2.1.3.1 PATH(m, D[n]) as ranges, leaf level first:
 *   PATH(0, {d(0)}) = {}
 *   m < k:  PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])
 *   m >= k: PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])
 */
export function inclusionPlan(index: number, size: number): Range[] {
  const out: Range[] = [];
  const rec = (lo: number, hi: number): void => {
    if (hi - lo === 1) return;
    const k = largestPowerOfTwoBelow(hi - lo);
    if (index < lo + k) {
      rec(lo, lo + k);
      out.push([lo + k, hi]);
    } else {
      rec(lo + k, hi);
      out.push([lo, lo + k]);
    }
  };
  rec(0, size);
  return out;
}

/**
 * RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true) as ranges, m and n absolute:
 *   SUBPROOF(m, D[m], true)  = {}
 *   SUBPROOF(m, D[m], false) = {MTH(D[m])}
 *   m <= k: SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
 *   m > k:  SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
 */
export function consistencyPlan(size1: number, size2: number): Range[] {
  const out: Range[] = [];
  const rec = (lo: number, hi: number, b: boolean): void => {
    if (size1 === hi) {
      if (!b) out.push([lo, hi]);
      return;
    }
    const k = largestPowerOfTwoBelow(hi - lo);
    if (size1 <= lo + k) {
      rec(lo, lo + k, b);
      out.push([lo + k, hi]);
    } else {
      rec(lo + k, hi, false);
      out.push([lo, lo + k]);
    }
  };
  // PROOF is defined for 0 < m < n; for m = n the proof is empty (SUBPROOF(m, D[m], true) = {}).
  if (size1 > 0 && size1 < size2) rec(0, size2, true);
  return out;
}

/**
 * Inclusion proof (audit path) of leaf `index` in the tree of `size` leaves, leaf level first —
 * the inclusion_path of RFC 9162 §2.1.3.
 */
export async function inclusionProof(reader: TileReader, index: number, size: number): Promise<Uint8Array[]> {
  checkSize('size', size);
  checkIndex('index', index);
  if (index >= size) throw new MerkleError('BAD_INDEX', `leaf index ${index} is not below tree size ${size}`);
  return rangeHashes(reader, size, inclusionPlan(index, size));
}

/**
 * Consistency proof between the trees of size1 ≤ size2 leaves (RFC 9162 §2.1.4). Empty when
 * size1 = size2, and when size1 = 0: RFC 9162 defines PROOF(m, D[n]) only for 0 < m; the empty
 * tree is a prefix of every tree, so there is nothing to prove (verifyConsistency accepts it only
 * with the empty-tree root, see verify.ts).
 */
export async function consistencyProof(reader: TileReader, size1: number, size2: number): Promise<Uint8Array[]> {
  checkSize('size1', size1);
  checkSize('size2', size2);
  if (size1 > size2) throw new MerkleError('SIZE_ORDER', `size1 ${size1} > size2 ${size2}`);
  return rangeHashes(reader, size2, consistencyPlan(size1, size2));
}

// Verification lives in verify.ts (pure, sync); re-exported so `merkle/proof.js` covers both sides.
export {
  type VerifyResult,
  type VerifyFailureCode,
  rootFromInclusionProof,
  verifyInclusion,
  verifyInclusionResult,
  verifyConsistency,
  verifyConsistencyResult,
} from './verify.js';

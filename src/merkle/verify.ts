// Proof verification: pure, synchronous, never throws. Each step is labelled with its line of
// RFC 9162 §2.1.3.2 (inclusion) or §2.1.4.2 (consistency). JavaScript bit operators truncate to
// 32 bits, so "right-shift" is Math.floor(x / 2) and "LSB(x) is set" is x % 2 === 1.

import { bytesEqual } from '../encoding/bytes.js';
import { EMPTY_ROOT, HASH_BYTES, isHash, nodeHash, nodeHashInto } from './hash.js';
import { MAX_TREE_SIZE, isPowerOfTwo, isSize } from './math.js';

/**
 * Most hashes a proof may carry. Below MAX_TREE_SIZE < 2^53 an inclusion proof has ≤ 53 hashes and
 * a consistency proof ≤ 54; anything longer is rejected before hashing.
 */
export const MAX_PROOF_HASHES = 64;

export type VerifyFailureCode =
  /** A size is not an integer in 0..MAX_TREE_SIZE. */
  | 'BAD_SIZE'
  /** The leaf index is not a non-negative safe integer. */
  | 'BAD_INDEX'
  /** A leaf hash, root or proof element is not a 32-byte Uint8Array, or the proof is not an array. */
  | 'BAD_HASH'
  /** leaf index ≥ tree size. */
  | 'INDEX_OUT_OF_RANGE'
  /** size1 > size2. */
  | 'SIZE_ORDER'
  /** The proof has more hashes than the sizes call for. */
  | 'PROOF_TOO_LONG'
  /** The proof has fewer hashes than the sizes call for. */
  | 'PROOF_TOO_SHORT'
  /** The computed root differs from the expected root (inclusion). */
  | 'ROOT_MISMATCH'
  /** The root computed for the first tree differs from root1 (consistency). */
  | 'ROOT1_MISMATCH'
  /** The root computed for the second tree differs from root2 (consistency). */
  | 'ROOT2_MISMATCH';

export type VerifyResult = { readonly ok: true } | { readonly ok: false; readonly code: VerifyFailureCode; readonly message: string };

const OK: VerifyResult = Object.freeze({ ok: true });

function fail(code: VerifyFailureCode, message: string): VerifyResult & { ok: false } {
  return { ok: false, code, message };
}

function checkProofShape(proof: unknown): (VerifyResult & { ok: false }) | null {
  if (!Array.isArray(proof)) return fail('BAD_HASH', 'proof must be an array of hashes');
  if (proof.length > MAX_PROOF_HASHES) {
    return fail('PROOF_TOO_LONG', `proof has ${proof.length} hashes, limit MAX_PROOF_HASHES = ${MAX_PROOF_HASHES}`);
  }
  for (let i = 0; i < proof.length; i++) {
    if (!isHash(proof[i])) return fail('BAD_HASH', `proof[${i}] must be a ${HASH_BYTES}-byte Uint8Array`);
  }
  return null;
}

// Scratch for the inclusion loop: one 65-byte node (0x01 || left || right) and the running hash r.
// Verification is synchronous, so one pair serves every call; the result is copied out.
const STEP = new Uint8Array(1 + 2 * HASH_BYTES);
STEP[0] = 0x01;
const R = new Uint8Array(HASH_BYTES);

export type RootFromInclusionResult =
  | { readonly ok: true; readonly root: Uint8Array }
  | { readonly ok: false; readonly code: VerifyFailureCode; readonly message: string };

/**
 * RFC 9162 §2.1.3.2 steps 1–4 plus the `sn` check of step 5: the root implied by an inclusion
 * proof of `leafHash` at `index` in a tree of `size` leaves.
 */
export function rootFromInclusionProof(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): RootFromInclusionResult {
  if (!isHash(leafHash)) return fail('BAD_HASH', `leaf hash must be a ${HASH_BYTES}-byte Uint8Array`);
  if (!isSize(size)) return fail('BAD_SIZE', `tree size must be an integer in 0..${MAX_TREE_SIZE}`);
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) return fail('BAD_INDEX', 'leaf index must be a non-negative safe integer');
  const shape = checkProofShape(proof);
  if (shape) return shape;
  // 1. "Compare leaf_index from the inclusion_proof message against tree_size. If leaf_index is
  //    greater than or equal to tree_size, then fail the proof verification."
  if (index >= size) return fail('INDEX_OUT_OF_RANGE', `leaf index ${index} is not below tree size ${size}`);
  // 2. "Set fn to leaf_index and sn to tree_size - 1."
  let fn = index;
  let sn = size - 1;
  // 3. "Set r to hash." (r lives in R; each step hashes STEP into R without allocating)
  R.set(leafHash);
  // 4. "For each value p in the inclusion_path array:"
  for (let i = 0; i < proof.length; i++) {
    const p = proof[i]!;
    //  a. "If sn is 0, then stop the iteration and fail the proof verification."
    if (sn === 0) return fail('PROOF_TOO_LONG', `inclusion proof has ${proof.length} hashes, only ${i} needed for index ${index} in size ${size}`);
    //  b. "If LSB(fn) is set, or if fn is equal to sn, then:"
    if (fn % 2 === 1 || fn === sn) {
      //   i. "Set r to HASH(0x01 || p || r)."
      STEP.set(p, 1);
      STEP.set(R, 1 + HASH_BYTES);
      nodeHashInto(R, STEP);
      //   ii. "If LSB(fn) is not set, then right-shift both fn and sn equally until either LSB(fn)
      //       is set or fn is 0."
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      //  "Otherwise: Set r to HASH(0x01 || r || p)."
      STEP.set(R, 1);
      STEP.set(p, 1 + HASH_BYTES);
      nodeHashInto(R, STEP);
    }
    //  c. "Finally, right-shift both fn and sn one time."
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 5. "Compare sn to 0. […] If sn is equal to 0 and r and the root_hash are equal, then the log
  //    has proven the inclusion of hash. Otherwise, fail the proof verification."
  if (sn !== 0) return fail('PROOF_TOO_SHORT', `inclusion proof has ${proof.length} hashes, too few for index ${index} in size ${size}`);
  return { ok: true, root: R.slice() };
}

/** RFC 9162 §2.1.3.2: does `proof` show `leafHash` at `index` in the tree of `size` leaves with `root`? */
export function verifyInclusionResult(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): VerifyResult {
  if (!isHash(root)) return fail('BAD_HASH', `root must be a ${HASH_BYTES}-byte Uint8Array`);
  const r = rootFromInclusionProof(leafHash, index, size, proof);
  if (!r.ok) return r;
  // 5. "[…] r and the root_hash are equal"
  if (!bytesEqual(r.root, root)) return fail('ROOT_MISMATCH', `inclusion proof for index ${index} in size ${size} does not lead to the given root`);
  return OK;
}

/** Boolean form of verifyInclusionResult. */
export function verifyInclusion(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  return verifyInclusionResult(leafHash, index, size, proof, root).ok;
}

/**
 * RFC 9162 §2.1.4.2: does `proof` show that the tree of size1 leaves with root1 is a prefix of the
 * tree of size2 leaves with root2?
 *
 * Outside the RFC's domain 0 < first < second (§2.1.4.1 defines PROOF only for 0 < m < n):
 * - size1 = size2: the trees are the same; the proof must be empty and root1 must equal root2.
 * - size1 = 0: the empty tree is a prefix of every tree, so there is nothing to prove; the proof
 *   must be empty and root1 must be MTH({}) = HASH() (RFC 9162 §2.1.1), the only root of size 0.
 */
export function verifyConsistencyResult(size1: number, size2: number, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): VerifyResult {
  if (!isSize(size1) || !isSize(size2)) return fail('BAD_SIZE', `tree sizes must be integers in 0..${MAX_TREE_SIZE}`);
  if (!isHash(root1) || !isHash(root2)) return fail('BAD_HASH', `roots must be ${HASH_BYTES}-byte Uint8Arrays`);
  const shape = checkProofShape(proof);
  if (shape) return shape;
  if (size1 > size2) return fail('SIZE_ORDER', `size1 ${size1} > size2 ${size2}: a tree cannot be consistent with a smaller one`);
  if (size1 === 0 || size1 === size2) {
    if (proof.length !== 0) return fail('PROOF_TOO_LONG', `consistency proof from size ${size1} to ${size2} must be empty, has ${proof.length} hashes`);
    if (size1 === 0) {
      return bytesEqual(root1, EMPTY_ROOT) ? OK : fail('ROOT1_MISMATCH', 'root1 of the empty tree must be SHA-256("")');
    }
    return bytesEqual(root1, root2) ? OK : fail('ROOT2_MISMATCH', `trees of equal size ${size1} have different roots`);
  }
  // 1. "If consistency_path is an empty array, stop and fail the proof verification."
  if (proof.length === 0) return fail('PROOF_TOO_SHORT', `consistency proof from size ${size1} to ${size2} is empty`);
  // 2. "If first is an exact power of 2, then prepend first_hash to the consistency_path array."
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  // 3. "Set fn to first - 1 and sn to second - 1."
  let fn = size1 - 1;
  let sn = size2 - 1;
  // 4. "If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set."
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 5. "Set both fr and sr to the first value in the consistency_path array."
  let fr = path[0]!;
  let sr = path[0]!;
  // 6. "For each subsequent value c in the consistency_path array:"
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    //  a. "If sn is 0, then stop the iteration and fail the proof verification."
    if (sn === 0) return fail('PROOF_TOO_LONG', `consistency proof from size ${size1} to ${size2} has too many hashes (${proof.length})`);
    //  b. "If LSB(fn) is set, or if fn is equal to sn, then:"
    if (fn % 2 === 1 || fn === sn) {
      //   i. "Set fr to HASH(0x01 || c || fr)."  ii. "Set sr to HASH(0x01 || c || sr)."
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      //   iii. "If LSB(fn) is not set, then right-shift both fn and sn equally until either
      //        LSB(fn) is set or fn is 0."
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      //  "Otherwise: Set sr to HASH(0x01 || sr || c)."
      sr = nodeHash(sr, c);
    }
    //  c. "Finally, right-shift both fn and sn one time."
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 7. "verify that the fr calculated is equal to the first_hash supplied, that the sr calculated
  //    is equal to the second_hash supplied, and that sn is 0."
  if (sn !== 0) return fail('PROOF_TOO_SHORT', `consistency proof from size ${size1} to ${size2} has too few hashes (${proof.length})`);
  if (!bytesEqual(fr, root1)) return fail('ROOT1_MISMATCH', `consistency proof does not lead to root1 of size ${size1}`);
  if (!bytesEqual(sr, root2)) return fail('ROOT2_MISMATCH', `consistency proof does not lead to root2 of size ${size2}`);
  return OK;
}

/** Boolean form of verifyConsistencyResult. */
export function verifyConsistency(size1: number, size2: number, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): boolean {
  return verifyConsistencyResult(size1, size2, proof, root1, root2).ok;
}

// Integer helpers for tree arithmetic.
//
// Tree sizes and indexes are JavaScript numbers, not bigints: every value stays a safe integer
// (< 2^53) because sizes are capped at MAX_TREE_SIZE. JavaScript's bitwise operators truncate to
// 32 bits, so nothing here uses `&`, `|`, `>>` or `<<` on tree quantities: shifts are divisions by
// powers of two and bit tests are `% 2`.

import { MerkleError } from './errors.js';

/**
 * The largest tree size Cairn handles: 2^53 − 1 (Number.MAX_SAFE_INTEGER). Every intermediate
 * value in this module ((n+1)·2^level for a complete node, tile start indexes, ...) is bounded by a
 * tree size or a power of two ≤ 2^53, so all arithmetic is exact.
 */
export const MAX_TREE_SIZE = Number.MAX_SAFE_INTEGER;

/** Largest node level that can exist below MAX_TREE_SIZE (a perfect subtree of 2^52 leaves). */
export const MAX_NODE_LEVEL = 52;

export function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= MAX_TREE_SIZE;
}

export function checkSize(name: string, n: unknown): number {
  if (!isSize(n)) {
    throw new MerkleError('BAD_SIZE', `${name} must be an integer in 0..${MAX_TREE_SIZE} (MAX_TREE_SIZE), got ${String(n)}`);
  }
  return n;
}

export function checkIndex(name: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new MerkleError('BAD_INDEX', `${name} must be a non-negative safe integer, got ${String(n)}`);
  }
  return n;
}

/** 2^e for 0 ≤ e ≤ 1023, exact (powers of two are exactly representable doubles). */
export function pow2(e: number): number {
  return 2 ** e;
}

/** True when n is 2^k for some k ≥ 0. */
export function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

/**
 * The largest power of two strictly less than n, for n ≥ 2. RFC 9162 §2.1.1: "let k be the
 * largest power of two smaller than n (i.e., k < n <= 2k)".
 */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The largest power of two ≤ n, for n ≥ 1. */
export function largestPowerOfTwoAtMost(n: number): number {
  let k = 1;
  while (k * 2 <= n) k *= 2;
  return k;
}

/** log2 of a power of two. */
export function log2Exact(k: number): number {
  let e = 0;
  while (k > 1) {
    k /= 2;
    e++;
  }
  return e;
}

/** Number of set bits of a safe non-negative integer. */
export function popcount(n: number): number {
  let c = 0;
  while (n > 0) {
    if (n % 2 === 1) c++;
    n = Math.floor(n / 2);
  }
  return c;
}

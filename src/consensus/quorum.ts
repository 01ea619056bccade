// Thresholds for n equal-power validators (paper §2: n > 3f; here f is implicit).
// We use q = floor(2n/3)+1 rather than 2f+1: the two coincide only when n = 3f+1, and for other n
// (e.g. n = 5: 2f+1 = 3 but two quorums of 3 need not intersect in a correct validator) only
// floor(2n/3)+1 guarantees that any two quorums intersect in more than n/3 validators.

/** Quorum: the smallest number of validators strictly greater than 2n/3. */
export function quorum(n: number): number {
  return Math.floor((2 * n) / 3) + 1;
}

/** Paper L55 "f+1" messages from a higher round: at least one of them is from a correct validator. */
export function skipThreshold(n: number): number {
  return n - quorum(n) + 1;
}

/** Round-robin proposer: paper's proposer(h, r), here (height + round) mod n. */
export function proposer(height: number, round: number, n: number): number {
  return (height + round) % n;
}

/** Bug-injection only: the classic "2f+1" with f = floor((n-1)/3) — unsafe when n != 3f+1. */
export function quorumTwoFPlusOne(n: number): number {
  return 2 * Math.floor((n - 1) / 3) + 1;
}

// The page prover walks each inclusion proof bottom up by arithmetic on the leaf index (fork level,
// siblings below it, one right-edge range, complete subtrees to the left) instead of the RFC 9162
// PATH recursion. Its list of ranges must be exactly inclusionPlan's, for every index of small
// trees and for indexes of trees far beyond 2^31 and 2^32 leaves (where 32-bit operations would
// silently wrap).
import { describe, expect, it } from 'vitest';
import { inclusionPlan } from '../../src/merkle/proof.js';
import { proofRanges } from '../../node/search/proofs.js';
import { SeededRandom } from './support/seeded-random.js';

describe('proof walk', () => {
  it('equals inclusionPlan for every index of every tree up to 200 leaves', () => {
    for (let n = 1; n <= 200; n++) {
      for (let i = 0; i < n; i++) expect(proofRanges(i, n), `index ${i} of ${n}`).toEqual(inclusionPlan(i, n));
    }
  });

  it('equals inclusionPlan around powers of two and beyond 32-bit sizes', () => {
    const rng = new SeededRandom('proof-walk');
    const sizes = [65_535, 65_536, 65_537, 1_000_000, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 7, 2 ** 40 + 12_345, 2 ** 52 + 3];
    for (const n of sizes) {
      const picks = [0, 1, n - 1, n - 2, Math.floor(n / 2), Math.floor(n / 3)];
      for (let k = 0; k < 40; k++) picks.push(Math.floor(rng.int(1_000_000) * (n / 1_000_000)));
      for (const i of picks) if (i >= 0 && i < n) expect(proofRanges(i, n), `index ${i} of ${n}`).toEqual(inclusionPlan(i, n));
    }
  });
});

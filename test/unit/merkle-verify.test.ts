// RFC 9162 §2.1.3.2 / §2.1.4.2 verification: tampered proofs are rejected with a specific code,
// and garbage input yields a failure result, never an exception.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_PROOF_HASHES,
  MerkleLog,
  rootFromInclusionProof,
  verifyConsistency,
  verifyConsistencyResult,
  verifyInclusion,
  verifyInclusionResult,
  type VerifyResult,
} from '../../src/merkle/index.js';
import { NaiveTree, hex, naiveLeafHash } from './support/merkle-naive.js';

const code = (r: VerifyResult): string => (r.ok ? 'ok' : r.code);
const flip = (h: Uint8Array, bit = 0): Uint8Array => {
  const c = h.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
};

let log: MerkleLog;
let naive: NaiveTree;
beforeAll(async () => {
  const entries = Array.from({ length: 64 }, (_, i) => new TextEncoder().encode(`leaf-${i}`));
  log = new MerkleLog();
  await log.append(entries);
  naive = new NaiveTree(entries.map(naiveLeafHash));
});

describe('inclusion: tampered proofs are rejected', () => {
  // A non-power-of-two size and an index whose path mixes left and right siblings.
  const SIZE = 37;
  const INDEX = 13;
  let proof: Uint8Array[];
  let leaf: Uint8Array;
  let root: Uint8Array;
  beforeAll(async () => {
    proof = await log.inclusionProof(INDEX, SIZE);
    leaf = naive.leafHashes[INDEX]!;
    root = naive.root(SIZE);
    expect(proof.length).toBe(6);
    expect(verifyInclusionResult(leaf, INDEX, SIZE, proof, root)).toEqual({ ok: true });
  });

  it('one hash flipped (each position, several bits)', () => {
    for (let i = 0; i < proof.length; i++) {
      for (const bit of [0, 7, 100, 255]) {
        const bad = proof.slice();
        bad[i] = flip(proof[i]!, bit);
        expect(code(verifyInclusionResult(leaf, INDEX, SIZE, bad, root)), `pos ${i} bit ${bit}`).toBe('ROOT_MISMATCH');
      }
    }
  });

  it('one hash missing (each position)', () => {
    for (let i = 0; i < proof.length; i++) {
      const bad = proof.filter((_, j) => j !== i);
      expect(code(verifyInclusionResult(leaf, INDEX, SIZE, bad, root)), `without ${i}`).toBe('PROOF_TOO_SHORT');
    }
    expect(code(verifyInclusionResult(leaf, INDEX, SIZE, [], root))).toBe('PROOF_TOO_SHORT');
  });

  it('one extra hash (appended, prepended, inserted, duplicated)', () => {
    const extra = naive.leafHashes[0]!;
    for (const bad of [[...proof, extra], [extra, ...proof], [...proof.slice(0, 3), extra, ...proof.slice(3)], [...proof, proof[proof.length - 1]!]]) {
      expect(verifyInclusion(leaf, INDEX, SIZE, bad, root)).toBe(false);
      expect(code(verifyInclusionResult(leaf, INDEX, SIZE, bad, root))).toBe('PROOF_TOO_LONG');
    }
  });

  it('wrong index', () => {
    for (const idx of [INDEX - 1, INDEX + 1, 0, SIZE - 1]) {
      expect(verifyInclusion(leaf, idx, SIZE, proof, root), `index ${idx}`).toBe(false);
    }
    expect(code(verifyInclusionResult(leaf, SIZE, SIZE, proof, root))).toBe('INDEX_OUT_OF_RANGE');
    expect(code(verifyInclusionResult(leaf, SIZE + 5, SIZE, proof, root))).toBe('INDEX_OUT_OF_RANGE');
  });

  it('wrong size', () => {
    // The size is not hashed into the root: it only fixes the proof's shape. Claiming the proof
    // for another size together with that size's root must fail for every other size...
    for (let s = INDEX + 1; s <= 64; s++) {
      if (s !== SIZE) expect(verifyInclusion(leaf, INDEX, s, proof, naive.root(s)), `size ${s} with its root`).toBe(false);
    }
    // ...and with the true root whenever the shape differs (every size in 33..64 has the same
    // shape for leaf 13 as 37 — a 32-leaf left subtree plus one right part — so those compute
    // the same root from the same hashes).
    for (const s of [14, 16, 20, 32, 65, 100, 2 ** 40]) {
      expect(code(verifyInclusionResult(leaf, INDEX, s, proof, root)), `size ${s}`).toMatch(/^(PROOF_TOO_LONG|PROOF_TOO_SHORT|ROOT_MISMATCH)$/);
    }
    expect(code(verifyInclusionResult(leaf, INDEX, 0, proof, root))).toBe('INDEX_OUT_OF_RANGE');
  });

  it('wrong leaf or wrong root', () => {
    expect(code(verifyInclusionResult(naive.leafHashes[INDEX + 1]!, INDEX, SIZE, proof, root))).toBe('ROOT_MISMATCH');
    expect(code(verifyInclusionResult(leaf, INDEX, SIZE, proof, naive.root(SIZE + 1)))).toBe('ROOT_MISMATCH');
  });

  it('every single-bit flip anywhere in any proof (index < size ≤ 24) is rejected', async () => {
    for (let size = 2; size <= 24; size++) {
      const r = naive.root(size);
      for (let index = 0; index < size; index++) {
        const p = await log.inclusionProof(index, size);
        for (let i = 0; i < p.length; i++) {
          const bad = p.slice();
          bad[i] = flip(p[i]!, (index * 31 + i * 7) % 256);
          expect(verifyInclusion(naive.leafHashes[index]!, index, size, bad, r)).toBe(false);
        }
      }
    }
  });

  it('rootFromInclusionProof returns the implied root', () => {
    const r = rootFromInclusionProof(leaf, INDEX, SIZE, proof);
    expect(r.ok && hex(r.root)).toBe(hex(root));
  });
});

describe('consistency: tampered proofs are rejected', () => {
  const S1 = 11;
  const S2 = 37;
  let proof: Uint8Array[];
  let r1: Uint8Array;
  let r2: Uint8Array;
  beforeAll(async () => {
    proof = await log.consistencyProof(S1, S2);
    r1 = naive.root(S1);
    r2 = naive.root(S2);
    expect(proof.length).toBeGreaterThanOrEqual(4);
    expect(verifyConsistencyResult(S1, S2, proof, r1, r2)).toEqual({ ok: true });
  });

  it('one hash flipped (each position)', () => {
    for (let i = 0; i < proof.length; i++) {
      const bad = proof.slice();
      bad[i] = flip(proof[i]!, 3);
      expect(code(verifyConsistencyResult(S1, S2, bad, r1, r2)), `pos ${i}`).toMatch(/^ROOT[12]_MISMATCH$/);
    }
  });

  it('one hash missing (each position)', () => {
    for (let i = 0; i < proof.length; i++) {
      const bad = proof.filter((_, j) => j !== i);
      expect(verifyConsistency(S1, S2, bad, r1, r2), `without ${i}`).toBe(false);
      expect(code(verifyConsistencyResult(S1, S2, bad, r1, r2))).toBe('PROOF_TOO_SHORT');
    }
    expect(code(verifyConsistencyResult(S1, S2, [], r1, r2))).toBe('PROOF_TOO_SHORT');
  });

  it('one extra hash (appended, prepended, inserted)', () => {
    const extra = naive.leafHashes[5]!;
    for (const bad of [[...proof, extra], [extra, ...proof], [...proof.slice(0, 2), extra, ...proof.slice(2)]]) {
      expect(verifyConsistency(S1, S2, bad, r1, r2)).toBe(false);
    }
    expect(code(verifyConsistencyResult(S1, S2, [...proof, extra], r1, r2))).toBe('PROOF_TOO_LONG');
  });

  it('wrong first size', () => {
    for (let s1 = 1; s1 < S2; s1++) {
      if (s1 !== S1) expect(verifyConsistency(s1, S2, proof, naive.root(s1), r2), `size1 ${s1} with its root`).toBe(false);
    }
    for (const s1 of [S1 - 1, S1 + 1, 8, 16]) expect(verifyConsistency(s1, S2, proof, r1, r2), `size1 ${s1}`).toBe(false);
  });

  it('wrong second size', () => {
    // As for inclusion, the sizes only fix the proof's shape: another size2 with that size's root fails...
    for (let s2 = S1 + 1; s2 <= 64; s2++) {
      if (s2 !== S2) expect(verifyConsistency(S1, s2, proof, r1, naive.root(s2)), `size2 ${s2} with its root`).toBe(false);
    }
    // ...and so does any size2 giving a different shape, even with the true root2.
    for (const s2 of [12, 16, 32, 65, 100, 2 ** 40]) expect(verifyConsistency(S1, s2, proof, r1, r2), `size2 ${s2}`).toBe(false);
  });

  it('size1 > size2 is rejected with SIZE_ORDER', () => {
    expect(code(verifyConsistencyResult(S2, S1, proof, r2, r1))).toBe('SIZE_ORDER');
  });

  it('wrong roots', () => {
    expect(code(verifyConsistencyResult(S1, S2, proof, naive.root(S1 + 1), r2))).toBe('ROOT1_MISMATCH');
    expect(code(verifyConsistencyResult(S1, S2, proof, r1, naive.root(S2 + 1)))).toBe('ROOT2_MISMATCH');
  });

  it('power-of-two first size (first_hash is prepended, RFC 9162 §2.1.4.2 step 2)', async () => {
    const p = await log.consistencyProof(16, 37);
    expect(verifyConsistency(16, 37, p, naive.root(16), r2)).toBe(true);
    expect(verifyConsistency(16, 37, [naive.root(16), ...p], naive.root(16), r2)).toBe(false);
    expect(verifyConsistency(16, 37, p, naive.root(15), r2)).toBe(false);
  });

  it('every single-bit flip in any proof (1 ≤ size1 < size2 ≤ 24) is rejected', async () => {
    for (let s2 = 2; s2 <= 24; s2++) {
      for (let s1 = 1; s1 < s2; s1++) {
        const p = await log.consistencyProof(s1, s2);
        for (let i = 0; i < p.length; i++) {
          const bad = p.slice();
          bad[i] = flip(p[i]!, (s1 * 13 + i) % 256);
          expect(verifyConsistency(s1, s2, bad, naive.root(s1), naive.root(s2)), `${s1}→${s2} pos ${i}`).toBe(false);
        }
      }
    }
  });
});

describe('garbage input gives a failure code, never an exception', () => {
  const h = new Uint8Array(32);
  const cases: [string, () => VerifyResult, string][] = [
    ['negative size', () => verifyInclusionResult(h, 0, -1, [], h), 'BAD_SIZE'],
    ['fractional size', () => verifyInclusionResult(h, 0, 1.5, [], h), 'BAD_SIZE'],
    ['NaN size', () => verifyInclusionResult(h, 0, NaN, [], h), 'BAD_SIZE'],
    ['size 2^53', () => verifyInclusionResult(h, 0, 2 ** 53, [], h), 'BAD_SIZE'],
    ['string size', () => verifyInclusionResult(h, 0, '5' as unknown as number, [], h), 'BAD_SIZE'],
    ['negative index', () => verifyInclusionResult(h, -1, 5, [], h), 'BAD_INDEX'],
    ['short leaf hash', () => verifyInclusionResult(new Uint8Array(31), 0, 1, [], h), 'BAD_HASH'],
    ['null root', () => verifyInclusionResult(h, 0, 1, [], null as unknown as Uint8Array), 'BAD_HASH'],
    ['proof not an array', () => verifyInclusionResult(h, 0, 2, 'x' as unknown as Uint8Array[], h), 'BAD_HASH'],
    ['proof element too long', () => verifyInclusionResult(h, 0, 2, [new Uint8Array(33)], h), 'BAD_HASH'],
    ['proof element a number', () => verifyInclusionResult(h, 0, 2, [7 as unknown as Uint8Array], h), 'BAD_HASH'],
    ['proof over MAX_PROOF_HASHES', () => verifyInclusionResult(h, 0, 2, new Array(MAX_PROOF_HASHES + 1).fill(h), h), 'PROOF_TOO_LONG'],
    ['consistency: negative size', () => verifyConsistencyResult(-1, 3, [], h, h), 'BAD_SIZE'],
    ['consistency: bad root2', () => verifyConsistencyResult(1, 3, [h], h, new Uint8Array(0)), 'BAD_HASH'],
    ['consistency: proof element undefined', () => verifyConsistencyResult(1, 3, [undefined as unknown as Uint8Array], h, h), 'BAD_HASH'],
    ['consistency: huge proof', () => verifyConsistencyResult(1, 3, new Array(1000).fill(h), h, h), 'PROOF_TOO_LONG'],
  ];
  for (const [name, run, want] of cases) {
    it(name, () => {
      expect(code(run())).toBe(want);
    });
  }

  it('sizes near MAX_TREE_SIZE verify arithmetic exactly (no 32-bit truncation)', () => {
    // In a tree of 2^40 + 3 leaves the last leaf's path has 2 hashes: MTH(D[2^40 : 2^40+2]) and
    // MTH(D[0 : 2^40]). With 32-bit shifts the sizes would wrap and the counts come out wrong.
    const a = new Uint8Array(32).fill(1);
    const b = new Uint8Array(32).fill(2);
    const leaf = new Uint8Array(32).fill(3);
    const size = 2 ** 40 + 3;
    const r = rootFromInclusionProof(leaf, size - 1, size, [a, b]);
    expect(r.ok).toBe(true);
    // Three hashes is one too many, one is too few.
    expect(code(verifyInclusionResult(leaf, size - 1, size, [a, b, a], h))).toBe('PROOF_TOO_LONG');
    expect(code(verifyInclusionResult(leaf, size - 1, size, [a], h))).toBe('PROOF_TOO_SHORT');
    // Leaf 0 of the same tree needs 41 hashes (40 inside the left 2^40 subtree, then the right part).
    expect(code(verifyInclusionResult(leaf, 0, size, new Array(40).fill(a), h))).toBe('PROOF_TOO_SHORT');
    expect(code(verifyInclusionResult(leaf, 0, size, new Array(41).fill(a), h))).toBe('ROOT_MISMATCH');
  });
});

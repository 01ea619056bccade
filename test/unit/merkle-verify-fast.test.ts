import { afterAll, describe, expect, it } from 'vitest';
import { MerkleLog, inclusionProof, leafHash, rootFromInclusionProof, setSha256Into, sha256IntoImplementation, verifyInclusion } from '../../src/merkle/index.js';
import { sha256Noble } from '../../src/crypto/hash.js';
import { installFastProofHash } from '../../node/crypto/sha256-into.js';

// Reference RFC 9162 §2.1.3.2 fold with noble SHA-256 and fresh arrays per step.
function refRoot(leaf: Uint8Array, index: number, size: number, proof: Uint8Array[]): Uint8Array | null {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  const node = (a: Uint8Array, b: Uint8Array): Uint8Array => sha256Noble(Uint8Array.of(1, ...a, ...b));
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = node(p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else r = node(r, p);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

// Deterministic PRNG so a failure reproduces.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

afterAll(() => setSha256Into(null));

describe('fast inclusion verification', () => {
  it('installs libsodium and rejects a digest that is not SHA-256', () => {
    expect(installFastProofHash()).toBe('libsodium');
    expect(() => setSha256Into((out) => out.fill(0), 'broken')).toThrow(/known-answer/);
    expect(sha256IntoImplementation()).toBe('libsodium');
  });

  for (const mode of ['portable', 'libsodium'] as const) {
    it(`${mode}: accepts and rejects exactly like the reference on random trees and tampered proofs`, async () => {
      if (mode === 'portable') setSha256Into(null); else installFastProofHash();
      const rand = rng(mode === 'portable' ? 7 : 11);
      let accepted = 0;
      let rejected = 0;
      for (let t = 0; t < 12; t++) {
        const size = 1 + Math.floor(rand() * 300);
        const log = new MerkleLog();
        const leaves = Array.from({ length: size }, (_, i) => leafHash(Uint8Array.of(t, i & 255, i >> 8)));
        await log.appendLeafHashes(leaves);
        const root = log.root();
        for (let k = 0; k < 10; k++) {
          const index = Math.floor(rand() * size);
          const proof = await inclusionProof(log.tiles, index, size);
          const cases: { leaf: Uint8Array; index: number; size: number; proof: Uint8Array[] }[] = [{ leaf: leaves[index]!, index, size, proof }];
          if (proof.length > 0) {
            const j = Math.floor(rand() * proof.length);
            const bad = proof.map((p) => p.slice());
            bad[j]![Math.floor(rand() * 32)]! ^= 1 << Math.floor(rand() * 8);
            cases.push({ leaf: leaves[index]!, index, size, proof: bad });
            cases.push({ leaf: leaves[index]!, index, size, proof: proof.slice(1) });
          }
          cases.push({ leaf: leaves[index]!, index, size, proof: [...proof, leaves[0]!] });
          cases.push({ leaf: leaves[index]!, index: (index + 1) % size, size, proof });
          cases.push({ leaf: leaves[index]!, index, size: size + 1, proof });
          for (const c of cases) {
            const want = refRoot(c.leaf, c.index, c.size, c.proof);
            const got = rootFromInclusionProof(c.leaf, c.index, c.size, c.proof);
            expect(got.ok).toBe(want !== null);
            if (got.ok && want) expect(Buffer.from(got.root).equals(Buffer.from(want))).toBe(true);
            const wantOk = want !== null && Buffer.from(want).equals(Buffer.from(root));
            expect(verifyInclusion(c.leaf, c.index, c.size, c.proof, root)).toBe(wantOk);
            if (wantOk) accepted++; else rejected++;
          }
        }
      }
      expect(accepted).toBeGreaterThan(50);
      expect(rejected).toBeGreaterThan(100);
    });
  }
});

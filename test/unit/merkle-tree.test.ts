// The library against the naive RFC 9162 reference: roots for every size 0..1,000, every
// inclusion pair (index < size ≤ 64), every consistency pair (0 ≤ size1 ≤ size2 ≤ 64), the
// RFC 6962 known vector, and spot checks at sizes up to 10^6.
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/encoding/bytes.js';
import {
  EMPTY_ROOT,
  EMPTY_RANGE,
  MerkleLog,
  appendLeafHashes,
  consistencyProof,
  inclusionProof,
  leafHash,
  nodeHash,
  rootOf,
  treeHash,
  verifyConsistency,
  verifyConsistencyResult,
  verifyInclusion,
  verifyInclusionResult,
  type CompactRange,
} from '../../src/merkle/index.js';
import { NaiveTree, fastRandomBytes, hex, hexList, naiveLeafHash } from './support/merkle-naive.js';

const enc = (i: number): Uint8Array => new TextEncoder().encode(`entry ${i}`);

async function logOf(n: number): Promise<{ log: MerkleLog; naive: NaiveTree }> {
  const entries = Array.from({ length: n }, (_, i) => enc(i));
  const log = new MerkleLog();
  await log.append(entries);
  return { log, naive: new NaiveTree(entries.map(naiveLeafHash)) };
}

describe('hash primitives (RFC 9162 §2.1.1)', () => {
  it('empty root is SHA-256 of the empty string', () => {
    expect(hex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
  it('leaf and node hashes use the 0x00 / 0x01 prefixes', () => {
    const d = enc(7);
    expect(hex(leafHash(d))).toBe(hex(naiveLeafHash(d)));
    const l = leafHash(enc(1));
    const r = leafHash(enc(2));
    expect(hex(nodeHash(l, r))).toBe(new NaiveTree([l, r]).root(2).reduce((s, b) => s + b.toString(16).padStart(2, '0'), ''));
  });
  it('nodeHash refuses wrong-length children with BAD_HASH', () => {
    expect(() => nodeHash(new Uint8Array(31), new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'BAD_HASH' }));
  });
});

describe('RFC 6962 known vector', () => {
  it('the 8 test leaves give root 5dc9da79…4328', async () => {
    const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => fromHex(h)!);
    const log = new MerkleLog();
    await log.append(leaves);
    expect(hex(log.root())).toBe('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
    expect(hex(await log.rootAt(8))).toBe('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
    // Intermediate roots from the RFC 6962 reference tests (CT's merkle_tree_test).
    expect(hex(await log.rootAt(1))).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    expect(hex(await log.rootAt(2))).toBe('fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125');
    expect(hex(await log.rootAt(7))).toBe('ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c');
  });
});

describe('roots agree with naive MTH for every size 0..1,000', () => {
  it('compact range root, and treeHash from tiles for every past size', async () => {
    const N = 1000;
    const entries = Array.from({ length: N }, (_, i) => enc(i));
    const naive = new NaiveTree(entries.map(naiveLeafHash));
    let state: CompactRange = EMPTY_RANGE;
    expect(hex(rootOf(state))).toBe(hex(naive.root(0)));
    for (let s = 1; s <= N; s++) {
      state = appendLeafHashes(state, [leafHash(entries[s - 1]!)]).state;
      expect(state.size).toBe(s);
      expect(hex(rootOf(state)), `size ${s}`).toBe(hex(naive.root(s)));
    }
    const log = new MerkleLog();
    await log.append(entries);
    for (let s = 0; s <= N; s++) expect(hex(await log.rootAt(s)), `rootAt(${s})`).toBe(hex(naive.root(s)));
  });
});

describe('inclusion proofs for every (index, size), index < size ≤ 64', () => {
  it('generated proofs equal naive PATH and verify', async () => {
    const { log, naive } = await logOf(64);
    let checked = 0;
    for (let size = 1; size <= 64; size++) {
      const root = naive.root(size);
      for (let index = 0; index < size; index++) {
        const proof = await log.inclusionProof(index, size);
        expect(hexList(proof), `index ${index} size ${size}`).toEqual(hexList(naive.path(index, size)));
        expect(verifyInclusionResult(naive.leafHashes[index]!, index, size, proof, root)).toEqual({ ok: true });
        checked++;
      }
    }
    expect(checked).toBe((64 * 65) / 2);
  });
});

describe('consistency proofs for every (size1, size2), 0 ≤ size1 ≤ size2 ≤ 64', () => {
  it('generated proofs equal naive PROOF and verify', async () => {
    const { log, naive } = await logOf(64);
    for (let size2 = 1; size2 <= 64; size2++) {
      for (let size1 = 1; size1 <= size2; size1++) {
        const proof = await log.consistencyProof(size1, size2);
        expect(hexList(proof), `${size1}→${size2}`).toEqual(hexList(naive.proof(size1, size2)));
        expect(verifyConsistencyResult(size1, size2, proof, naive.root(size1), naive.root(size2)), `${size1}→${size2}`).toEqual({ ok: true });
      }
    }
  });

  it('size1 = 0: RFC 9162 defines PROOF only for 0 < m; the proof is empty and only the empty root is accepted', async () => {
    const { log, naive } = await logOf(64);
    for (let size2 = 0; size2 <= 64; size2++) {
      const proof = await log.consistencyProof(0, size2);
      expect(proof).toEqual([]);
      expect(verifyConsistency(0, size2, proof, EMPTY_ROOT, naive.root(size2))).toBe(true);
      const r = verifyConsistencyResult(0, size2, proof, naive.leafHashes[0]!, naive.root(size2));
      expect(r.ok ? 'ok' : r.code).toBe('ROOT1_MISMATCH');
    }
    const r = verifyConsistencyResult(0, 5, [naive.root(5)], EMPTY_ROOT, naive.root(5));
    expect(r.ok ? 'ok' : r.code).toBe('PROOF_TOO_LONG');
  });

  it('size1 = size2: empty proof, equal roots', async () => {
    const { naive } = await logOf(9);
    expect(verifyConsistency(9, 9, [], naive.root(9), naive.root(9))).toBe(true);
    const r = verifyConsistencyResult(9, 9, [], naive.root(9), naive.root(8));
    expect(r.ok ? 'ok' : r.code).toBe('ROOT2_MISMATCH');
    const r2 = verifyConsistencyResult(9, 9, [naive.root(9)], naive.root(9), naive.root(9));
    expect(r2.ok ? 'ok' : r2.code).toBe('PROOF_TOO_LONG');
  });
});

describe('spot checks at large sizes (≤ 10^6 leaves)', () => {
  // ~10^6 leaf hashes are random bytes (no leaf hashing), appended through MerkleLog (compact
  // range + tiles). The naive reference memoises power-of-two subtrees of ≥ 256 leaves so the
  // whole test costs ~2·10^6 SHA-256 calls (a few seconds on one core).
  it('roots, past roots from tiles, inclusion and consistency proofs equal the naive reference', async () => {
    const MAX = 1_000_000;
    const raw = fastRandomBytes(MAX * 32, 0x9e3779b9);
    const leaves = Array.from({ length: MAX }, (_, i) => raw.subarray(i * 32, (i + 1) * 32));
    const naive = new NaiveTree(leaves);
    const spots = [65_537, 524_288, 524_289, 777_777, 999_999, MAX].sort((a, b) => a - b);
    const log = new MerkleLog();
    const rootsAtSpot = new Map<number, string>();
    let at = 0;
    for (const s of spots) {
      while (at < s) {
        const n = Math.min(s - at, 100_000);
        await log.appendLeafHashes(leaves.slice(at, at + n));
        at += n;
      }
      rootsAtSpot.set(s, hex(log.root()));
    }
    for (const s of spots) {
      const want = hex(naive.root(s));
      expect(rootsAtSpot.get(s), `compact range root at ${s}`).toBe(want);
      expect(hex(await treeHash(log.tiles, s)), `treeHash(${s}) from tiles`).toBe(want);
      for (const index of [0, s - 1, Math.floor(s / 3), 65_535 % s]) {
        const proof = await inclusionProof(log.tiles, index, s);
        expect(hexList(proof), `path ${index}@${s}`).toEqual(hexList(naive.path(index, s)));
        expect(verifyInclusion(leaves[index]!, index, s, proof, naive.root(s))).toBe(true);
      }
    }
    for (const [s1, s2] of [[65_537, MAX], [524_288, 777_777], [524_289, 999_999], [999_999, MAX], [1, MAX], [255, 65_537]] as const) {
      const proof = await consistencyProof(log.tiles, s1, s2);
      expect(hexList(proof), `proof ${s1}→${s2}`).toEqual(hexList(naive.proof(s1, s2)));
      expect(verifyConsistency(s1, s2, proof, naive.root(s1), naive.root(s2))).toBe(true);
    }
  }, 60_000);
});

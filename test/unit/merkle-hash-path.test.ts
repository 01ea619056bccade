// The fast SHA-256 path (node:crypto's one-shot hash in Node, noble in browsers) gives exactly
// noble's digests, as fresh plain Uint8Arrays, and the Merkle code on it gives the same roots and
// proof verdicts as a reference written here on noble alone (RFC 9162 §2.1.1 / §2.1.3).
import { describe, expect, it } from 'vitest';
import { SHA256_IMPLEMENTATION, sha256, sha256Noble } from '../../src/crypto/hash.js';
import { fromHex } from '../../src/encoding/bytes.js';
import { MerkleLog, leafHash, nodeHash, rootFromInclusionProof, verifyInclusion } from '../../src/merkle/index.js';
import { SeededRandom } from './support/seeded-random.js';
import { hex } from './support/merkle-naive.js';

/** MTH over leaf hashes, straight from RFC 9162 §2.1.1, hashing with noble only. */
function nobleRoot(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 1) return hashes[0]!;
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  const l = nobleRoot(hashes.slice(0, k));
  const r = nobleRoot(hashes.slice(k));
  const buf = new Uint8Array(65);
  buf[0] = 1;
  buf.set(l, 1);
  buf.set(r, 33);
  return sha256Noble(buf);
}

const nobleLeaf = (d: Uint8Array): Uint8Array => sha256Noble(Uint8Array.of(0, ...d));

describe('SHA-256 fast path', () => {
  it('Node uses node:crypto', () => {
    expect(SHA256_IMPLEMENTATION).toBe('node:crypto');
  });

  it('equals noble on every length 0..300, the 65-byte node input and 1 MiB', () => {
    const rnd = new SeededRandom('sha256-path-v1');
    for (let n = 0; n <= 300; n++) {
      const d = rnd.bytes(n);
      expect(hex(sha256(d))).toBe(hex(sha256Noble(d)));
    }
    const big = rnd.bytes(1 << 20);
    expect(hex(sha256(big))).toBe(hex(sha256Noble(big)));
    // FIPS 180-2 B.1 and the empty string.
    expect(hex(sha256(new TextEncoder().encode('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('returns a fresh plain Uint8Array (slice copies, results share no memory)', () => {
    const a = sha256(Uint8Array.of(1));
    const b = sha256(Uint8Array.of(1));
    expect(a.constructor).toBe(Uint8Array);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(32);
    expect(a.buffer).not.toBe(b.buffer);
    const c = a.slice();
    c[0]! ^= 0xff;
    expect(a[0]).toBe(b[0]);
    // nodeHash reuses one input buffer: earlier results must not change.
    const n1 = nodeHash(a, b);
    const keep = hex(n1);
    nodeHash(b, a);
    expect(hex(n1)).toBe(keep);
  });
});

describe('Merkle on the fast path equals a noble-only reference', () => {
  it('RFC 6962 known vector (8 leaves) and its inclusion proofs', async () => {
    const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => fromHex(h)!);
    const log = new MerkleLog();
    await log.append(leaves);
    const root = log.root();
    expect(hex(root)).toBe('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
    expect(hex(nobleRoot(leaves.map(nobleLeaf)))).toBe(hex(root));
    for (let i = 0; i < 8; i++) {
      expect(hex(leafHash(leaves[i]!))).toBe(hex(nobleLeaf(leaves[i]!)));
      expect(verifyInclusion(leafHash(leaves[i]!), i, 8, await log.inclusionProof(i), root)).toBe(true);
    }
  });

  it('every size 1..70: root, and every inclusion proof verifies to it; one flipped bit fails', async () => {
    const rnd = new SeededRandom('merkle-hash-path-v1');
    const data = Array.from({ length: 70 }, () => rnd.bytes(rnd.int(120)));
    const log = new MerkleLog();
    let checked = 0;
    for (let size = 1; size <= 70; size++) {
      await log.append([data[size - 1]!]);
      const ref = nobleRoot(data.slice(0, size).map(nobleLeaf));
      expect(hex(log.root())).toBe(hex(ref));
      for (let i = 0; i < size; i++) {
        const proof = await log.inclusionProof(i, size);
        const r = rootFromInclusionProof(leafHash(data[i]!), i, size, proof);
        expect(r.ok && hex(r.root)).toBe(hex(ref));
        checked++;
        if (proof.length > 0 && i % 7 === 0) {
          const bad = proof.map((h) => h.slice());
          bad[rnd.int(bad.length)]![rnd.int(32)]! ^= 1 << rnd.int(8);
          expect(verifyInclusion(leafHash(data[i]!), i, size, bad, ref)).toBe(false);
        }
      }
    }
    expect(checked).toBe((70 * 71) / 2);
  });
});

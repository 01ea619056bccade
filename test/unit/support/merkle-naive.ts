// A deliberately naive RFC 9162 §2.1 reference for the Merkle tests: the recursive definitions
// of MTH (§2.1.1), PATH (§2.1.3.1) and PROOF/SUBPROOF (§2.1.4.1) written straight from the text,
// over leaf-hash lists, hashing with node:crypto's streaming createHash so it shares no code with
// src/merkle (whose sha256 is node:crypto's one-shot hash in Node; merkle-hash-path.test.ts checks
// that path against @noble/hashes).
import { createHash } from 'node:crypto';

export function H(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function naiveLeafHash(d: Uint8Array): Uint8Array {
  return H(Uint8Array.of(0), d);
}

function naiveNode(l: Uint8Array, r: Uint8Array): Uint8Array {
  return H(Uint8Array.of(1), l, r);
}

/** "let k be the largest power of two smaller than n (i.e., k < n <= 2k)" */
function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

/**
 * Naive MTH over leaf hashes D[lo:hi]. With `memo`, hashes of power-of-two ranges of ≥ 256 leaves
 * are remembered (only to make the 10^6-leaf spot checks affordable; the recursion is unchanged).
 */
export class NaiveTree {
  private readonly memo = new Map<string, Uint8Array>();
  constructor(readonly leafHashes: readonly Uint8Array[]) {}

  mth(lo: number, hi: number): Uint8Array {
    const n = hi - lo;
    if (n === 0) return H(); // MTH({}) = SHA-256()
    if (n === 1) return this.leafHashes[lo]!; // MTH({d(0)}) = SHA-256(0x00 || d(0)), precomputed
    const key = n >= 256 && (n & (n - 1)) === 0 ? `${lo}:${hi}` : null;
    if (key !== null) {
      const m = this.memo.get(key);
      if (m) return m;
    }
    const kk = k(n);
    const h = naiveNode(this.mth(lo, lo + kk), this.mth(lo + kk, hi));
    if (key !== null) this.memo.set(key, h);
    return h;
  }

  root(size: number): Uint8Array {
    return this.mth(0, size);
  }

  /** PATH(m, D[0:size]) */
  path(m: number, size: number): Uint8Array[] {
    const rec = (m: number, lo: number, hi: number): Uint8Array[] => {
      const n = hi - lo;
      if (n === 1) return [];
      const kk = k(n);
      if (m < kk) return [...rec(m, lo, lo + kk), this.mth(lo + kk, hi)];
      return [...rec(m - kk, lo + kk, hi), this.mth(lo, lo + kk)];
    };
    return rec(m, 0, size);
  }

  /** PROOF(m, D[0:size]) = SUBPROOF(m, D[0:size], true), for 0 < m <= size. */
  proof(m: number, size: number): Uint8Array[] {
    const sub = (m: number, lo: number, hi: number, b: boolean): Uint8Array[] => {
      const n = hi - lo;
      if (m === n) return b ? [] : [this.mth(lo, hi)];
      const kk = k(n);
      if (m <= kk) return [...sub(m, lo, lo + kk, b), this.mth(lo + kk, hi)];
      return [...sub(m - kk, lo + kk, hi, false), this.mth(lo, lo + kk)];
    };
    return sub(m, 0, size, true);
  }
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export function hexList(bs: readonly Uint8Array[]): string[] {
  return bs.map(hex);
}

/** Fast deterministic pseudo-random bytes (xorshift32) — for big leaf-hash arrays, not security. */
export function fastRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

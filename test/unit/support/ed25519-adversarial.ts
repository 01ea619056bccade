// Builders for adversarial Ed25519 inputs, made with noble's Point API (no hard-coded magic
// values except where a comment derives them). Used by the crypto tests and nowhere else.
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes } from '../../../src/encoding/bytes.js';

const Point = ed.Point;
export const L = Point.CURVE().n;
export const P = Point.CURVE().p;

export function numberToBytesLE(n: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 255n);
    n >>= 8n;
  }
  return out;
}

export function bytesToNumberLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/** [n]Q for any n >= 0 (noble's multiply wants n < L; split as needed). */
export function mulAny(Q: ed.Point, n: bigint): ed.Point {
  let acc = Point.ZERO;
  let base = Q;
  while (n > 0n) {
    if (n & 1n) acc = acc.add(base);
    base = base.double();
    n >>= 1n;
  }
  return acc;
}

export function orderOfSmall(T: ed.Point): number {
  let acc = T;
  for (let i = 1; i <= 8; i++) {
    if (acc.is0()) return i;
    acc = acc.add(T);
  }
  return -1;
}

/**
 * A point of order exactly 8: take on-curve points from a deterministic sequence of y values,
 * kill their prime-order part with [L], and keep the first result of order 8.
 */
export function torsionPointOfOrder8(): ed.Point {
  for (let y = 2n; y < 1000n; y++) {
    let Q: ed.Point;
    try {
      Q = Point.fromBytes(numberToBytesLE(y, 32), false);
    } catch {
      continue;
    }
    const T = mulAny(Q, L);
    if (orderOfSmall(T) === 8) return T;
  }
  throw new Error('no order-8 point found');
}

/** The 8 points of the torsion subgroup, as multiples of an order-8 generator. */
export function allTorsionPoints(): ed.Point[] {
  const T = torsionPointOfOrder8();
  const out: ed.Point[] = [];
  let acc = Point.ZERO;
  for (let i = 0; i < 8; i++) {
    out.push(acc);
    acc = acc.add(T);
  }
  return out;
}

export function secretScalar(seed: Uint8Array): bigint {
  return ed.utils.getExtendedPublicKey(seed).scalar;
}

export function challenge(rBytes: Uint8Array, aBytes: Uint8Array, msg: Uint8Array): bigint {
  return bytesToNumberLE(sha512(concatBytes(rBytes, aBytes, msg))) % L;
}

/**
 * Signs with secret scalar `a` (public key bytes `aBytes`) but with nonce point R = [r]B + T,
 * where T is a small-order point: the signature satisfies the cofactored equation
 * ([8][S]B = [8]R + [8][k]A) but not the cofactorless one ([S]B = R + [k]A).
 */
export function signWithTorsionR(a: bigint, aBytes: Uint8Array, msg: Uint8Array, T: ed.Point, r = 123456789n): Uint8Array {
  const R = Point.BASE.multiply(r).add(T);
  const rBytes = R.toBytes();
  const k = challenge(rBytes, aBytes, msg);
  const s = (r + k * a) % L;
  return concatBytes(rBytes, numberToBytesLE(s, 32));
}

/**
 * A valid cofactorless signature for a MIXED-ORDER public key A' = [a]B + T (T of order 8),
 * found by trying nonces R = [r]B + [i]T until the challenge k satisfies [i]T = -[k]T.
 */
export function signForMixedKey(a: bigint, T: ed.Point, msg: Uint8Array): { publicKey: Uint8Array; signature: Uint8Array } {
  const A = Point.BASE.multiply(a).add(T);
  const aBytes = A.toBytes();
  for (let r = 1000n; r < 1000n + 4096n; r++) {
    for (let i = 0n; i < 8n; i++) {
      const R = Point.BASE.multiply(r).add(mulAny(T, i));
      const rBytes = R.toBytes();
      const k = challenge(rBytes, aBytes, msg);
      if ((i + k) % 8n !== 0n) continue;
      const s = (r + k * a) % L;
      return { publicKey: aBytes, signature: concatBytes(rBytes, numberToBytesLE(s, 32)) };
    }
  }
  throw new Error('no mixed-key signature found');
}

/** Non-canonical encoding of the point with small y' (0 <= y' < 19): y = y' + p, which still fits in 255 bits. */
export function nonCanonicalY(yPrime: bigint, signBit = false): Uint8Array {
  const b = numberToBytesLE(yPrime + P, 32);
  if (signBit) b[31]! |= 0x80;
  return b;
}

/**
 * A "signature" with S = 0 for a small-order public key T that a cofactorless verifier without a
 * small-order check (OpenSSL) accepts: [0]B - [k]T = -[k]T must equal R. R ranges over the torsion
 * points and the message over `prefix ‖ i` until k makes the equation hold.
 */
export function forgeForSmallOrderKey(T: ed.Point, prefix: Uint8Array): { message: Uint8Array; signature: Uint8Array } {
  const tBytes = T.toBytes();
  const torsion = allTorsionPoints();
  for (let i = 0; i < 256; i++) {
    const message = concatBytes(prefix, Uint8Array.of(i));
    for (const R of torsion) {
      const rBytes = R.toBytes();
      const k = challenge(rBytes, tBytes, message);
      if (mulAny(T, k % 8n).negate().equals(R)) return { message, signature: concatBytes(rBytes, new Uint8Array(32)) };
    }
  }
  throw new Error('no forgery found');
}

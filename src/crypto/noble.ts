// Portable Ed25519 (pure TypeScript via @noble/ed25519): the browser-capable light verifier and
// a signer for tools and tests. Peers verify with node.ts; this module must accept and reject
// exactly the same signatures as node.ts for every public key that passes vetPublicKey (vet.ts).
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import type { Ed25519Signer, Ed25519Verifier } from './types.js';
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SEED_BYTES, ED25519_SIGNATURE_BYTES } from './types.js';
import { bytesEqual, concatBytes } from '../encoding/bytes.js';
import { CryptoError } from './errors.js';

// noble v3's synchronous API (sign, getPublicKey) needs a SHA-512 implementation wired in once.
if (ed.hashes.sha512 === undefined) ed.hashes.sha512 = sha512;

const Point = ed.Point;
/** Order L of the prime-order subgroup (RFC 8032 §5.1: L = 2^252 + 27742317777372353535851937790883648493). */
const L = Point.CURVE().n;

function bytesToNumberLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/**
 * Strict RFC 8032 §5.1.7 verification, written with noble's Point API so that it matches
 * node:crypto (OpenSSL) bit for bit on vetted keys:
 * - A and R are decoded strictly (y < p, no "negative zero" x), as noble's `zip215: false` does;
 * - S must be < L (RFC 8032 §5.1.7 step 1, rejects malleable signatures);
 * - small-order public keys are rejected (as noble strict mode and libsodium do);
 * - the group equation is checked WITHOUT the cofactor: encode([S]B - [k]A) must equal the R bytes.
 *   RFC 8032 §5.1.7 allows either the cofactored ([8][S]B = [8]R + [8][k]A) or this cofactorless
 *   check. noble's own `verify(..., { zip215: false })` is cofactored, and so it accepts signatures
 *   whose R has a small-order (torsion) component, which OpenSSL rejects. Since every peer and the
 *   light verifier must agree, we use OpenSSL's (cofactorless, byte-compare R) rule here.
 * Never throws: wrong lengths and undecodable points return false.
 */
function verifyStrict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    const A = Point.fromBytes(publicKey, false);
    if (A.isSmallOrder()) return false;
    const rBytes = signature.subarray(0, 32);
    const s = bytesToNumberLE(signature.subarray(32, 64));
    if (s >= L) return false;
    // k = SHA-512(R ‖ A ‖ M) mod L, over the exact bytes received (RFC 8032 §5.1.7 step 2).
    const h = sha512(concatBytes(rBytes, publicKey, message));
    const k = bytesToNumberLE(h) % L;
    const sB = Point.BASE.multiply(s, false); // unsafe (variable-time) is fine: all inputs public
    const kA = A.multiply(k, false);
    return bytesEqual(sB.subtract(kA).toBytes(), rBytes);
  } catch {
    return false;
  }
}

/** Portable Ed25519 verifier: strict RFC 8032, cofactorless, agrees with `nodeVerifier` on vetted keys. */
export const nobleVerifier: Ed25519Verifier = {
  name: 'noble-strict',
  verify: verifyStrict,
};

function checkSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== ED25519_SEED_BYTES) {
    throw new CryptoError('seed_length', `an Ed25519 seed is exactly ${ED25519_SEED_BYTES} bytes (ED25519_SEED_BYTES)`);
  }
}

/** Public key (32 bytes) of an RFC 8032 32-byte seed. Throws CryptoError('seed_length'). */
export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  checkSeed(seed);
  return ed.getPublicKey(seed);
}

/** A portable signer holding a copy of `seed`. Throws CryptoError('seed_length'). */
export function nobleSigner(seed: Uint8Array): Ed25519Signer {
  checkSeed(seed);
  const secret = seed.slice();
  const publicKey = ed.getPublicKey(secret);
  return {
    get publicKey() {
      return publicKey.slice();
    },
    sign(message: Uint8Array): Uint8Array {
      return ed.sign(message, secret);
    },
  };
}

/** 32 fresh random bytes from the platform CSPRNG (WebCrypto getRandomValues, Node and browsers). */
export function randomSeed(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(ED25519_SEED_BYTES));
}

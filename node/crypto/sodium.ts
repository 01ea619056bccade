// Ed25519 verification through libsodium (`sodium-native`, prebuilt binaries inside the npm
// package), behind the same Ed25519Verifier interface as node:crypto and noble. Native code lives
// under node/, never in the portable src/.
//
// Every peer must give the same verdict on every signature, so this verifier returns exactly what
// nodeVerifier (OpenSSL) returns, on every input, vetted key or not:
// - libsodium's check is, like OpenSSL's, strict and cofactorless (S < L, R compared byte for byte
//   with the encoding of [S]B - [k]A). Whatever libsodium accepts, OpenSSL accepts too.
// - libsodium additionally refuses, before any curve arithmetic, a public key or an R that is one
//   of the small-order encodings (identity, order 2, 4, 8, and their non-canonical twins) or a
//   non-canonical y (y >= p). OpenSSL does not: it accepts the identity key with R = identity and
//   S = 0 for any message, and — the case that matters on a VETTED key — a signature whose R is the
//   identity, which the key's owner can produce (S = k·a makes [S]B - [k]A the identity).
//   When libsodium says no and the key or R is one of those encodings, the verdict is OpenSSL's.
// Cost: one libsodium call on the common path; OpenSSL is consulted only for those rare encodings.
import { createRequire } from 'node:module';
import type { Ed25519Verifier } from '../../src/crypto/types.js';
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES } from '../../src/crypto/types.js';
import { nodeVerifier } from '../../src/crypto/node.js';

/** The one libsodium function used (sodium-native ships no TypeScript types). */
export interface SodiumEd25519 {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

/** Low-value small-order encodings libsodium refuses (first 31 bytes; last byte compared without the sign bit). */
const SMALL_ORDER_LOW: readonly Uint8Array[] = [
  // 0 (y = 0, order 4) and 1 (identity)
  new Uint8Array(32),
  Uint8Array.of(1, ...new Array<number>(31).fill(0)),
  // the two order-8 points' y coordinates
  Uint8Array.from(Buffer.from('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'hex')),
  Uint8Array.from(Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'hex')),
];

/**
 * True when libsodium refuses this 32-byte point encoding before doing any arithmetic: a
 * small-order encoding (sign bit ignored) or y in [p-1, 2^255) — p-1 (order 2), p and p+1 (non-
 * canonical 0 and 1) and every other non-canonical y. Slightly wider than libsodium's own test
 * (harmless: it only decides when OpenSSL is asked for the verdict).
 */
export function sodiumRefusesEncoding(b: Uint8Array): boolean {
  const last = b[31]! & 0x7f;
  let high = last === 0x7f && b[0]! >= 0xec;
  for (let i = 1; high && i < 31; i++) if (b[i] !== 0xff) high = false;
  if (high) return true;
  for (const s of SMALL_ORDER_LOW) {
    if (last !== s[31]) continue;
    let eq = true;
    for (let i = 0; eq && i < 31; i++) if (b[i] !== s[i]) eq = false;
    if (eq) return true;
  }
  return false;
}

/** Wraps a loaded libsodium binding as a verifier with OpenSSL's verdicts (see the header). */
export function sodiumVerifierFrom(sodium: SodiumEd25519, openssl: Ed25519Verifier = nodeVerifier): Ed25519Verifier {
  return {
    name: 'libsodium',
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
      if (!(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
      if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) return false;
      let ok: boolean;
      try {
        ok = sodium.crypto_sign_verify_detached(signature, message, publicKey);
      } catch {
        ok = false;
      }
      if (ok) return true;
      if (sodiumRefusesEncoding(publicKey) || sodiumRefusesEncoding(signature.subarray(0, 32))) {
        return openssl.verify(publicKey, message, signature);
      }
      return false;
    },
  };
}

export type SodiumLoad = { ok: true; verifier: Ed25519Verifier } | { ok: false; reason: string };

/**
 * Loads sodium-native and checks it on one known-answer signature (RFC 8032 §7.1 test 2) before
 * trusting it. Never throws: a missing or broken native module gives { ok: false, reason }.
 */
export function loadSodiumVerifier(): SodiumLoad {
  let sodium: SodiumEd25519;
  try {
    sodium = createRequire(import.meta.url)('sodium-native') as SodiumEd25519;
    if (typeof sodium?.crypto_sign_verify_detached !== 'function') return { ok: false, reason: 'sodium-native has no crypto_sign_verify_detached' };
  } catch (e) {
    return { ok: false, reason: `sodium-native did not load: ${(e as Error).message.split('\n')[0]}` };
  }
  const v = sodiumVerifierFrom(sodium);
  const pk = Buffer.from('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', 'hex');
  const msg = Buffer.from('72', 'hex');
  const sig = Buffer.from(
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    'hex',
  );
  const bad = Buffer.from(sig);
  bad[0]! ^= 1;
  try {
    if (!v.verify(pk, msg, sig) || v.verify(pk, msg, bad)) return { ok: false, reason: 'sodium-native failed its known-answer test' };
  } catch (e) {
    return { ok: false, reason: `sodium-native failed its known-answer test: ${(e as Error).message}` };
  }
  return { ok: true, verifier: v };
}

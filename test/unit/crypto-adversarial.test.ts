// Adversarial Ed25519 inputs: what vetPublicKey says about each key, what each verifier does with
// each signature, and the property Cairn relies on — for every key that PASSES vetting, nodeVerifier
// (OpenSSL) and nobleVerifier (portable) accept and reject exactly the same signatures; and on EVERY
// input, every verifier a peer can use (node:crypto, libsodium through sodium-native) gives the same
// verdict, so peers agree whichever one loaded. Raw libsodium's own verdict is recorded where it
// differs (small-order or non-canonical key or R): the peer's libsodium verifier defers to OpenSSL there.
// All values are constructed here with noble's Point API (see support/ed25519-adversarial.ts).
import { describe, expect, it } from 'vitest';
import * as ed from '@noble/ed25519';
import { nobleSigner, nobleVerifier } from '../../src/crypto/noble.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { vetPublicKey, type VetCode } from '../../src/crypto/vet.js';
import type { Ed25519Verifier } from '../../src/crypto/types.js';
import { loadSodiumVerifier } from '../../node/crypto/sodium.js';
import { createRequire } from 'node:module';
import { concatBytes, utf8 } from '../../src/encoding/bytes.js';
import * as adv from './support/ed25519-adversarial.js';
import { VerifyPool } from '../../node/peer/verify-pool.js';

const seed = new Uint8Array(32).fill(7);
const signer = nobleSigner(seed);
const A = signer.publicKey;
const a = adv.secretScalar(seed);
const msg = utf8('cairn adversarial message');
const good = signer.sign(msg);
const T8 = adv.torsionPointOfOrder8();
const IDENTITY = ed.Point.ZERO.toBytes();
const ZERO32 = new Uint8Array(32);

interface Case {
  name: string;
  publicKey: Uint8Array;
  signature: Uint8Array;
  message?: Uint8Array;
  /** What vetPublicKey says about the key: 'ok' or the error code. */
  vet: 'ok' | VetCode;
  node: boolean;
  noble: boolean;
  /** Raw libsodium crypto_sign_verify_detached, when it differs from `node` (documented; the peer's libsodium verifier returns `node`). */
  sodiumRaw?: boolean;
  /** Noble's own `verify(..., { zip215: false })` (cofactored); documented, not used by Cairn. */
  nobleCofactored?: boolean;
}

function withS(sig: Uint8Array, s: bigint): Uint8Array {
  return concatBytes(sig.subarray(0, 32), adv.numberToBytesLE(s, 32));
}

const sGood = adv.bytesToNumberLE(good.subarray(32));
const mixed = adv.signForMixedKey(a, T8, msg);
// R encoded non-canonically as y = p + 1 (the identity), with S = k·a so that [S]B - [k]A is the
// identity: a verifier that decoded R modulo p would accept; RFC 8032 strict decoding rejects.
const rNonCanonical = adv.nonCanonicalY(1n);
const sigNonCanonicalR = concatBytes(rNonCanonical, adv.numberToBytesLE((adv.challenge(rNonCanonical, A, msg) * a) % adv.L, 32));
// R = identity with the x sign bit set ("negative zero"), same trick.
const rNegZero = Uint8Array.from(IDENTITY);
rNegZero[31]! |= 0x80;
const sigNegZeroR = concatBytes(rNegZero, adv.numberToBytesLE((adv.challenge(rNegZero, A, msg) * a) % adv.L, 32));
// A non-canonical key that is a genuine large-order point: y = p + 3 decodes to the point with y = 3.
const nonCanonicalKey = adv.nonCanonicalY(3n);
// Small-order keys: OpenSSL accepts S = 0 "signatures" whenever R = -[k]T; noble strict rejects the key.
const forge8 = adv.forgeForSmallOrderKey(T8, msg);
const forge2 = adv.forgeForSmallOrderKey(adv.mulAny(T8, 4n), msg);
// R = the identity (canonical encoding) with S = k·a: on a vetted key the key's owner can always
// produce this; OpenSSL and the cofactorless noble check accept it, raw libsodium refuses small-order R.
const sigIdentityR = concatBytes(IDENTITY, adv.numberToBytesLE((adv.challenge(IDENTITY, A, msg) * a) % adv.L, 32));

const sodiumLoad = loadSodiumVerifier();
if (!sodiumLoad.ok) throw new Error(`sodium-native must load for this test: ${sodiumLoad.reason}`);
/** Every verifier a peer can use; each must give nodeVerifier's verdict on every row. */
const PEER_VERIFIERS: Ed25519Verifier[] = [nodeVerifier, sodiumLoad.verifier];
const rawSodium = createRequire(import.meta.url)('sodium-native') as {
  crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean;
};

const CASES: Case[] = [
  { name: 'valid signature (control)', publicKey: A, signature: good, vet: 'ok', node: true, noble: true, nobleCofactored: true },
  { name: 'S >= L (S + L: same point, non-canonical scalar, malleability)', publicKey: A, signature: withS(good, sGood + adv.L), vet: 'ok', node: false, noble: false, nobleCofactored: false },
  { name: 'S = 2^256 - 1', publicKey: A, signature: withS(good, (1n << 256n) - 1n), vet: 'ok', node: false, noble: false },
  { name: 'R with a torsion component (R = rB + T8)', publicKey: A, signature: adv.signWithTorsionR(a, A, msg, T8), vet: 'ok', node: false, noble: false, nobleCofactored: true },
  { name: 'R with an order-2 torsion component', publicKey: A, signature: adv.signWithTorsionR(a, A, msg, adv.mulAny(T8, 4n)), vet: 'ok', node: false, noble: false, nobleCofactored: true },
  { name: 'R = identity, S = k·a (owner-made, vetted key)', publicKey: A, signature: sigIdentityR, vet: 'ok', node: true, noble: true, sodiumRaw: false },
  { name: 'non-canonical R (y = p + 1)', publicKey: A, signature: sigNonCanonicalR, vet: 'ok', node: false, noble: false, nobleCofactored: false },
  { name: 'non-canonical R (identity with x sign bit)', publicKey: A, signature: sigNegZeroR, vet: 'ok', node: false, noble: false, nobleCofactored: false },
  { name: 'R not on the curve (y = 2)', publicKey: A, signature: concatBytes(adv.numberToBytesLE(2n, 32), good.subarray(32)), vet: 'ok', node: false, noble: false },
  { name: 'all-zero signature', publicKey: A, signature: new Uint8Array(64), vet: 'ok', node: false, noble: false },
  { name: 'identity public key, R = identity, S = 0', publicKey: IDENTITY, signature: concatBytes(IDENTITY, ZERO32), vet: 'key_small_order', node: true, noble: false, sodiumRaw: false, nobleCofactored: false },
  { name: 'order-8 public key T8, forged S = 0 signature', publicKey: T8.toBytes(), ...forge8, vet: 'key_small_order', node: true, noble: false, sodiumRaw: false },
  { name: 'order-2 public key (y = -1), forged S = 0 signature', publicKey: adv.mulAny(T8, 4n).toBytes(), ...forge2, vet: 'key_small_order', node: true, noble: false, sodiumRaw: false },
  { name: 'non-canonical identity key (y = p + 1), R = identity, S = 0', publicKey: adv.nonCanonicalY(1n), signature: concatBytes(IDENTITY, ZERO32), vet: 'key_noncanonical', node: true, noble: false, sodiumRaw: false },
  { name: 'non-canonical large-order key (y = p + 3)', publicKey: nonCanonicalKey, signature: good, vet: 'key_noncanonical', node: false, noble: false },
  { name: 'mixed-order key A + T8 with a valid cofactorless signature', publicKey: mixed.publicKey, signature: mixed.signature, vet: 'key_torsion', node: true, noble: true, nobleCofactored: true },
  { name: 'key not on the curve (y = 2)', publicKey: adv.numberToBytesLE(2n, 32), signature: good, vet: 'key_not_on_curve', node: false, noble: false },
  { name: 'signature of 63 bytes', publicKey: A, signature: good.subarray(0, 63), vet: 'ok', node: false, noble: false },
  { name: 'signature of 65 bytes', publicKey: A, signature: concatBytes(good, Uint8Array.of(0)), vet: 'ok', node: false, noble: false },
  { name: 'empty signature', publicKey: A, signature: new Uint8Array(0), vet: 'ok', node: false, noble: false },
  { name: 'key of 31 bytes', publicKey: A.subarray(0, 31), signature: good, vet: 'key_length', node: false, noble: false },
  { name: 'key of 33 bytes', publicKey: concatBytes(A, Uint8Array.of(0)), signature: good, vet: 'key_length', node: false, noble: false },
];

describe('adversarial Ed25519 table', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const m = c.message ?? msg;
      const vet = vetPublicKey(c.publicKey);
      expect(vet.ok ? 'ok' : vet.code).toBe(c.vet);
      if (!vet.ok) expect(vet.message.length).toBeGreaterThan(0);
      // Neither verifier may throw, whatever the input.
      const node = nodeVerifier.verify(c.publicKey, m, c.signature);
      const noble = nobleVerifier.verify(c.publicKey, m, c.signature);
      expect({ node, noble }).toEqual({ node: c.node, noble: c.noble });
      if (c.vet === 'ok') expect(node).toBe(noble); // the property Cairn relies on
      // Every verifier a peer can use: the same verdict as OpenSSL on every input, vetted or not.
      for (const v of PEER_VERIFIERS) expect({ [v.name]: v.verify(c.publicKey, m, c.signature) }).toEqual({ [v.name]: c.node });
      // Raw libsodium: the documented differences, and agreement everywhere else.
      if (c.publicKey.length === 32 && c.signature.length === 64) {
        expect(rawSodium.crypto_sign_verify_detached(c.signature, m, c.publicKey)).toBe(c.sodiumRaw ?? c.node);
      }
      if (c.nobleCofactored !== undefined) {
        expect(ed.verify(c.signature, m, c.publicKey, { zip215: false })).toBe(c.nobleCofactored);
      }
    });
  }

  it('the whole table through the worker-thread verify pool: node:crypto\'s verdict on every row, in order', async () => {
    // Small batches, so the rows travel in several messages to both workers.
    const pool = new VerifyPool({ workers: 2, batchMax: 4 });
    try {
      const got = await pool.verifyMany(CASES.map((c) => ({ publicKey: c.publicKey, message: c.message ?? msg, signature: c.signature })));
      expect(got).toEqual(CASES.map((c) => c.node));
      expect(pool.verifierName).toBe(sodiumLoad.verifier.name);
    } finally {
      await pool.close();
    }
  });

  it('every one of the 8 torsion points is rejected by vetting as small order', () => {
    const pts = adv.allTorsionPoints();
    expect(new Set(pts.map((p) => p.toHex())).size).toBe(8);
    for (const p of pts) {
      const r = vetPublicKey(p.toBytes());
      expect(r).toMatchObject({ ok: false, code: 'key_small_order' });
    }
  });

  it('adding any non-zero torsion point to a real key gives key_torsion', () => {
    const base = ed.Point.fromBytes(A);
    for (const t of adv.allTorsionPoints().slice(1)) {
      expect(vetPublicKey(base.add(t).toBytes())).toMatchObject({ ok: false, code: 'key_torsion' });
    }
    expect(vetPublicKey(A)).toEqual({ ok: true });
  });

  it('every non-canonical y in [p, 2^255) is rejected (noncanonical or not on the curve), never accepted', () => {
    for (let y = 0n; y < 19n; y++) {
      for (const sign of [false, true]) {
        const r = vetPublicKey(adv.nonCanonicalY(y, sign));
        expect(r.ok).toBe(false);
        if (!r.ok) expect(['key_noncanonical', 'key_not_on_curve']).toContain(r.code);
      }
    }
  });

  it('verifiers return false instead of throwing on non-Uint8Array input', () => {
    const junk = [undefined, null, 'abc', 42, {}, [1, 2, 3]] as unknown as Uint8Array[];
    for (const j of junk) {
      expect(nodeVerifier.verify(j, msg, good)).toBe(false);
      expect(nobleVerifier.verify(A, j, good)).toBe(false);
      expect(nobleVerifier.verify(A, msg, j)).toBe(false);
      expect(nodeVerifier.verify(A, msg, j)).toBe(false);
      for (const v of PEER_VERIFIERS) {
        expect(v.verify(j, msg, good)).toBe(false);
        expect(v.verify(A, j, good)).toBe(false);
        expect(v.verify(A, msg, j)).toBe(false);
      }
    }
    expect(vetPublicKey('x' as unknown as Uint8Array)).toMatchObject({ ok: false, code: 'key_length' });
  });
});

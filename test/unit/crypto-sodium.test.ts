// The libsodium verifier (node/crypto/sodium.ts) gives node:crypto's verdict on every input:
// random vetted keys with valid signatures and 1-bit flips, every small-order and non-canonical
// encoding as key and as R, and the fallback choice when the native module is refused.
import { describe, expect, it } from 'vitest';
import * as ed from '@noble/ed25519';
import { nobleSigner } from '../../src/crypto/noble.js';
import { nodeSigner, nodeVerifier } from '../../src/crypto/node.js';
import { concatBytes, utf8 } from '../../src/encoding/bytes.js';
import { loadSodiumVerifier, sodiumRefusesEncoding, sodiumVerifierFrom } from '../../node/crypto/sodium.js';
import { chooseVerifier } from '../../node/crypto/peer-verifier.js';
import { SeededRandom } from './support/seeded-random.js';
import * as adv from './support/ed25519-adversarial.js';

const loaded = loadSodiumVerifier();
if (!loaded.ok) throw new Error(`sodium-native must load for this test: ${loaded.reason}`);
const sodium = loaded.verifier;

function flip(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

describe('libsodium verifier', () => {
  it('agrees with node:crypto on valid signatures and 1-bit flips (seed sodium-v1)', () => {
    const rnd = new SeededRandom('sodium-v1');
    let accepted = 0;
    let rejected = 0;
    for (let k = 0; k < 16; k++) {
      const seed = rnd.bytes(32);
      const signer = rnd.int(2) === 0 ? nobleSigner(seed) : nodeSigner(seed);
      const pub = signer.publicKey;
      const msg = rnd.bytes(rnd.int(400));
      const sig = signer.sign(msg);
      expect(sodium.verify(pub, msg, sig)).toBe(true);
      for (let f = 0; f < 40; f++) {
        const what = rnd.int(3);
        const p = what === 0 ? flip(pub, rnd.int(256)) : pub;
        const m = what === 1 && msg.length > 0 ? flip(msg, rnd.int(msg.length * 8)) : msg;
        const s = what === 2 ? flip(sig, rnd.int(512)) : sig;
        const want = nodeVerifier.verify(p, m, s);
        expect(sodium.verify(p, m, s)).toBe(want);
        if (want) accepted++;
        else rejected++;
      }
      accepted++;
    }
    expect(accepted).toBeGreaterThanOrEqual(16);
    expect(rejected).toBeGreaterThan(500);
  });

  it('every small-order and non-canonical encoding, as key and as R, gets node:crypto verdict', () => {
    const seed = new Uint8Array(32).fill(3);
    const signer = nobleSigner(seed);
    const A = signer.publicKey;
    const a = adv.secretScalar(seed);
    const msg = utf8('edge');
    const encodings: Uint8Array[] = [];
    for (const t of adv.allTorsionPoints()) {
      const b = t.toBytes();
      encodings.push(b);
      const neg = b.slice();
      neg[31]! ^= 0x80;
      encodings.push(neg);
    }
    for (let y = 0n; y < 19n; y++) for (const sign of [false, true]) encodings.push(adv.nonCanonicalY(y, sign));
    let nodeAccepts = 0;
    for (const e of encodings) {
      expect(sodiumRefusesEncoding(e)).toBe(true);
      // As R, with S = k·a so that the equation holds whenever R decodes to the identity.
      const sig = concatBytes(e, adv.numberToBytesLE((adv.challenge(e, A, msg) * a) % adv.L, 32));
      const want = nodeVerifier.verify(A, msg, sig);
      if (want) nodeAccepts++;
      expect(sodium.verify(A, msg, sig)).toBe(want);
      // As the key, with R = identity and S = 0 (OpenSSL accepts that for some small-order keys).
      const forged = concatBytes(ed.Point.ZERO.toBytes(), new Uint8Array(32));
      expect(sodium.verify(e, msg, forged)).toBe(nodeVerifier.verify(e, msg, forged));
    }
    expect(nodeAccepts).toBeGreaterThanOrEqual(1); // the canonical identity R: OpenSSL accepts
    // Ordinary keys are never sent to the fallback.
    expect(sodiumRefusesEncoding(A)).toBe(false);
  });

  it('asks OpenSSL only when libsodium refused a special encoding', () => {
    let calls = 0;
    const counting = { name: 'count', verify: (p: Uint8Array, m: Uint8Array, s: Uint8Array) => (calls++, nodeVerifier.verify(p, m, s)) };
    const never = { crypto_sign_verify_detached: () => false };
    const v = sodiumVerifierFrom(never, counting);
    const signer = nodeSigner(new Uint8Array(32).fill(5));
    const sig = signer.sign(utf8('x'));
    expect(v.verify(signer.publicKey, utf8('x'), sig)).toBe(false); // ordinary R and key: libsodium's no stands
    expect(calls).toBe(0);
    const idR = concatBytes(ed.Point.ZERO.toBytes(), sig.subarray(32));
    v.verify(signer.publicKey, utf8('x'), idR);
    expect(calls).toBe(1);
    // A binding that throws counts as a refusal, never an exception out of verify.
    const throwing = sodiumVerifierFrom({ crypto_sign_verify_detached: () => { throw new Error('boom'); } });
    expect(throwing.verify(signer.publicKey, utf8('x'), sig)).toBe(false);
  });

  it('the peer picks libsodium, or node:crypto when told to', () => {
    expect(chooseVerifier({}).verifier.name).toBe('libsodium');
    expect(chooseVerifier({}).fallbackReason).toBeUndefined();
    const forced = chooseVerifier({ CAIRN_VERIFIER: 'node-crypto' });
    expect(forced.verifier).toBe(nodeVerifier);
    expect(forced.fallbackReason).toMatch(/CAIRN_VERIFIER/);
  });
});

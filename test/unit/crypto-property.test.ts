// Property test: on random vetted keys and random messages, nodeVerifier and nobleVerifier agree —
// on valid signatures and on every 1-bit flip of the key, the message or the signature.
// Deterministic: the seed is printed in the test name, so a failure is reproducible.
import { describe, expect, it } from 'vitest';
import { nobleSigner, nobleVerifier } from '../../src/crypto/noble.js';
import { nodeSigner, nodeVerifier } from '../../src/crypto/node.js';
import { vetPublicKey } from '../../src/crypto/vet.js';
import { toHex } from '../../src/encoding/bytes.js';
import { SeededRandom } from './support/seeded-random.js';

const SEED = 'crypto-property-v1';
const KEYS = 12;
const FLIPS_PER_KEY = 24;

function flip(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

describe(`Ed25519 verifiers agree (seed ${SEED})`, () => {
  it('on valid signatures and 1-bit flips of key, message and signature', () => {
    const rnd = new SeededRandom(SEED);
    let accepted = 0;
    let rejected = 0;
    let vettedFlippedKeys = 0;
    for (let k = 0; k < KEYS; k++) {
      const seed = rnd.bytes(32);
      const signer = rnd.int(2) === 0 ? nobleSigner(seed) : nodeSigner(seed);
      const pub = signer.publicKey;
      expect(vetPublicKey(pub)).toEqual({ ok: true }); // honest keys always pass vetting
      const msg = rnd.bytes(rnd.int(200));
      const sig = signer.sign(msg);
      expect(nodeVerifier.verify(pub, msg, sig)).toBe(true);
      expect(nobleVerifier.verify(pub, msg, sig)).toBe(true);
      accepted++;
      for (let f = 0; f < FLIPS_PER_KEY; f++) {
        const what = rnd.pick(['key', 'message', 'signature'] as const);
        let p = pub;
        let m = msg;
        let s = sig;
        if (what === 'key') p = flip(pub, rnd.int(256));
        else if (what === 'message') m = msg.length === 0 ? Uint8Array.of(rnd.int(256)) : flip(msg, rnd.int(msg.length * 8));
        else s = flip(sig, rnd.int(512));
        const node = nodeVerifier.verify(p, m, s);
        const noble = nobleVerifier.verify(p, m, s);
        const context = `key ${k} flip ${f} (${what}): pub=${toHex(p)} msg=${toHex(m)} sig=${toHex(s)}`;
        // A flipped key that fails vetting is outside the agreement guarantee, but a flip must
        // never make a signature valid, so both must still reject.
        if (what === 'key' && vetPublicKey(p).ok) vettedFlippedKeys++;
        expect({ node, noble, context }).toEqual({ node: false, noble: false, context });
        rejected++;
      }
    }
    expect(accepted).toBe(KEYS);
    expect(rejected).toBe(KEYS * FLIPS_PER_KEY);
    expect(vettedFlippedKeys).toBeGreaterThan(0); // the flips did exercise vetted keys too
  });

  it('on unrelated random signatures (almost all invalid) the verdicts are identical', () => {
    const rnd = new SeededRandom(SEED + '/random');
    const signer = nodeSigner(rnd.bytes(32));
    for (let i = 0; i < 100; i++) {
      const msg = rnd.bytes(16);
      const sig = rnd.bytes(64);
      sig[63]! &= 0x0f; // keep S < L often, so the check reaches the group equation
      expect(nodeVerifier.verify(signer.publicKey, msg, sig)).toBe(nobleVerifier.verify(signer.publicKey, msg, sig));
    }
  });
});

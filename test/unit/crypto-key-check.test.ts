// The fast path of key vetting (libsodium's crypto_core_ed25519_is_valid_point, installed by
// node/crypto/fast-key-check.ts) accepts exactly the keys noble's vetting accepts, on every
// adversarial key (identity, each small-order point, mixed-order keys, non-canonical encodings,
// bytes that are not a point) and on random keys; vetPublicKey gives the same verdict and code
// with and without it. A check that would accept a bad key, or refuse the base point, is not
// installed.
import { afterEach, describe, expect, it } from 'vitest';
import * as ed from '@noble/ed25519';
import { createRequire } from 'node:module';
import { keyCheckImplementation, setFastKeyCheck, vetPublicKey } from '../../src/crypto/vet.js';
import { installFastKeyCheck } from '../../node/crypto/fast-key-check.js';
import { SeededRandom } from './support/seeded-random.js';
import * as adv from './support/ed25519-adversarial.js';

const sodium = createRequire(import.meta.url)('sodium-native') as { crypto_core_ed25519_is_valid_point(p: Uint8Array): boolean };

afterEach(() => setFastKeyCheck(null));

function adversarialKeys(): { name: string; key: Uint8Array }[] {
  const rng = new SeededRandom('key-check');
  const out: { name: string; key: Uint8Array }[] = [];
  const torsion = adv.allTorsionPoints();
  torsion.forEach((T, i) => out.push({ name: `torsion ${i} (order ${adv.orderOfSmall(T)})`, key: T.toBytes() }));
  for (let i = 0; i < 40; i++) {
    const A = ed.Point.BASE.multiply(1n + BigInt(rng.int(2 ** 30)) * 7919n);
    out.push({ name: `valid ${i}`, key: A.toBytes() });
    for (const [j, T] of torsion.entries()) if (i < 4 && j > 0) out.push({ name: `mixed ${i}+T${j}`, key: A.add(T).toBytes() });
  }
  // Non-canonical encodings (y + p, for the y < 19 that have them), with and without the sign bit.
  for (let y = 0n; y < 19n; y++) for (const sign of [false, true]) out.push({ name: `y = p + ${y}${sign ? ' (sign)' : ''}`, key: adv.nonCanonicalY(y, sign) });
  // Identity and order-2 point with the x sign bit set ("negative zero").
  for (const T of [ed.Point.ZERO, torsion.find((t) => adv.orderOfSmall(t) === 2)!]) {
    const k = T.toBytes();
    k[31]! |= 0x80;
    out.push({ name: 'negative zero', key: k });
  }
  // Random bytes: about half are not points at all.
  for (let i = 0; i < 300; i++) out.push({ name: `random ${i}`, key: Uint8Array.from({ length: 32 }, () => rng.int(256)) });
  return out;
}

describe('fast Ed25519 key check', () => {
  it('libsodium accepts exactly the keys noble vetting accepts; vetPublicKey answers the same with it installed', () => {
    const keys = adversarialKeys();
    const slow = keys.map((k) => vetPublicKey(k.key));
    expect(installFastKeyCheck()).toBe('libsodium');
    expect(keyCheckImplementation()).toBe('libsodium');
    const fast = keys.map((k) => vetPublicKey(k.key));
    keys.forEach((k, i) => {
      expect(sodium.crypto_core_ed25519_is_valid_point(k.key), k.name).toBe(slow[i]!.ok);
      expect(fast[i], k.name).toEqual(slow[i]);
    });
    // The table covers both verdicts and every refusal code.
    expect(new Set(slow.map((v) => (v.ok ? 'ok' : v.code)))).toEqual(new Set(['ok', 'key_not_on_curve', 'key_noncanonical', 'key_small_order', 'key_torsion']));
  });

  it('a check that accepts a bad key or refuses the base point is not installed', () => {
    expect(() => setFastKeyCheck(() => true, 'lax')).toThrow(/lax fails/);
    expect(() => setFastKeyCheck(() => false, 'strict')).toThrow(/strict fails/);
    // Accepts everything canonical on the curve, torsion included: the mixed-order known answer catches it.
    expect(() => setFastKeyCheck((p) => { try { return !ed.Point.fromBytes(p).isSmallOrder(); } catch { return false; } }, 'no-subgroup')).toThrow(/no-subgroup fails/);
    expect(keyCheckImplementation()).toBe('noble');
    const mixed = ed.Point.BASE.add(adv.torsionPointOfOrder8()).toBytes();
    expect(vetPublicKey(mixed)).toMatchObject({ ok: false, code: 'key_torsion' });
  });
});

// toHex / fromHex (src/encoding/bytes.ts), on the hot path of every entry and vote: the same
// strings and bytes as Node's own hex codec, for every byte value, short and long inputs, both
// letter cases; anything that is not even-length hex is refused (null), never decoded partly.
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/encoding/bytes.js';
import { SeededRandom } from './support/seeded-random.js';

describe('hex codec', () => {
  it('matches Buffer hex for every byte value and for lengths 0..5000 (seed hex-v1)', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(toHex(all)).toBe(Buffer.from(all).toString('hex'));
    const rnd = new SeededRandom('hex-v1');
    for (const n of [0, 1, 2, 31, 32, 33, 64, 4095, 4096, 4097, 5000]) {
      const b = rnd.bytes(n);
      const h = Buffer.from(b).toString('hex');
      expect(toHex(b)).toBe(h);
      expect(fromHex(h)).toEqual(b);
      expect(fromHex(h.toUpperCase())).toEqual(b);
    }
    // A long input then a short one: nothing of the first is left in the second.
    expect(toHex(rnd.bytes(3000)).length).toBe(6000);
    expect(toHex(Uint8Array.of(0xab))).toBe('ab');
  });

  it('refuses odd length and any non-hex character', () => {
    for (const s of ['a', 'abc', '0x00', 'zz', 'g0', '0G', ' 00', '00 ', 'éé', '0\u0660', '\u0130\u0130', 'ab\u0000c']) expect(fromHex(s)).toBeNull();
    expect(fromHex('')).toEqual(new Uint8Array(0));
    expect(fromHex('aBcD')).toEqual(Uint8Array.of(0xab, 0xcd));
  });
});

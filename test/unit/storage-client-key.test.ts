// LoggedIndex.clientKey takes the client and id byte lengths from the key it builds (no UTF-8
// encoding of ASCII pairs): the same key bytes as clientIdKey and the same maxClientIdBytes
// refusals as lengths measured with UTF-8, also past the key's u16 client length.
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/encoding/bytes.js';
import { clientIdKey } from '../../node/storage/keys.js';
import { LoggedIndex } from '../../node/storage/logged-index.js';
import type { StoreContext } from '../../node/storage/store-context.js';
import { DEFAULT_LIMITS } from '../../node/storage/store-limits.js';

const indexWith = (maxClientIdBytes: number) => new LoggedIndex({ limits: { ...DEFAULT_LIMITS, maxClientIdBytes } } as unknown as StoreContext);

/** The refusal by UTF-8 lengths, or null. */
function expectedRefusal(client: string, id: string, max: number): string | null {
  const cb = utf8(client).length;
  const ib = utf8(id).length;
  return cb > max || ib > max ? `t: client (${cb} bytes) or id (${ib} bytes) exceeds maxClientIdBytes = ${max}` : null;
}

describe('LoggedIndex.clientKey', () => {
  it('returns clientIdKey bytes and refuses exactly the pairs whose UTF-8 lengths exceed maxClientIdBytes', () => {
    const max = 8;
    const samples = ['', 'a', 'alice', 'a'.repeat(8), 'a'.repeat(9), 'é'.repeat(4), 'é'.repeat(5), 'ü'.repeat(3) + 'ab', '日本語', '😀😀', '😀😀x', '\u007f\u0080'];
    const index = indexWith(max);
    for (const c of samples) {
      for (const i of samples) {
        const refusal = expectedRefusal(c, i, max);
        if (refusal === null) expect(index.clientKey(c, i, 't')).toEqual(clientIdKey(c, i));
        else expect(() => index.clientKey(c, i, 't')).toThrow(refusal);
      }
    }
  });

  it('measures a client of 65,536 bytes or more exactly (the key holds its length modulo 65,536)', () => {
    const index = indexWith(70_000);
    for (const [c, i] of [['a'.repeat(65_536), 'x'], ['é'.repeat(32_768), ''], ['a'.repeat(65_000), 'b'.repeat(1_000)], ['a', 'b'.repeat(69_000)]] as const) {
      expect(index.clientKey(c, i, 't')).toEqual(clientIdKey(c, i));
    }
    expect(() => indexWith(65_535).clientKey('a'.repeat(65_536), 'x', 't')).toThrow(expectedRefusal('a'.repeat(65_536), 'x', 65_535)!);
    expect(() => indexWith(65_536).clientKey('a'.repeat(65_537), '', 't')).toThrow(expectedRefusal('a'.repeat(65_537), '', 65_536)!);
    expect(() => indexWith(1_000).clientKey('a', 'b'.repeat(69_000), 't')).toThrow(expectedRefusal('a', 'b'.repeat(69_000), 1_000)!);
  });
});

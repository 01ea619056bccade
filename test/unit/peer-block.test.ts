import { describe, expect, it } from 'vitest';
import { encodeBlock, decodeBlock, blockHash, entriesHashOf, peekBlockHeight, type Block } from '../../node/peer/block.js';
import { sha256 } from '../../src/crypto/hash.js';
import { utf8, toHex } from '../../src/encoding/bytes.js';

const limits = { maxBlockEntries: 10, maxBlockBytes: 100_000 };

function sample(entries = [utf8('{"a":1}'), utf8('{"b":2}')]): Block {
  return {
    header: {
      height: 7,
      prevHash: sha256(utf8('prev')),
      proposer: 2,
      timeMs: 1_790_000_000_000,
      treeSize: 42,
      root: sha256(utf8('root')),
      entriesHash: entriesHashOf(entries.map((e) => sha256(e))),
    },
    entries,
  };
}

describe('block codec', () => {
  it('round-trips and hashes the encoding', () => {
    const b = sample();
    const bytes = encodeBlock(b);
    const d = decodeBlock(bytes, limits);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.block.header.height).toBe(7);
    expect(d.block.header.proposer).toBe(2);
    expect(d.block.header.timeMs).toBe(b.header.timeMs);
    expect(toHex(d.block.header.root)).toBe(toHex(b.header.root));
    expect(d.block.entries.map(toHex)).toEqual(b.entries.map(toHex));
    expect(toHex(encodeBlock(d.block))).toBe(toHex(bytes));
    expect(toHex(blockHash(bytes))).toBe(toHex(sha256(bytes)));
    expect(peekBlockHeight(bytes)).toBe(7);
  });

  it('rejects every malformation with a specific code', () => {
    const bytes = encodeBlock(sample());
    const code = (x: unknown, l = limits) => {
      const r = decodeBlock(x, l);
      return r.ok ? 'ok' : r.code;
    };
    expect(code('nope')).toBe('block_not_bytes');
    expect(code(bytes.slice(0, 0))).toBe('block_truncated');
    expect(code(bytes.slice(0, 50))).toBe('block_truncated');
    expect(code(bytes.slice(0, bytes.length - 1))).toBe('block_truncated');
    const trailing = new Uint8Array(bytes.length + 1);
    trailing.set(bytes);
    expect(code(trailing)).toBe('block_trailing_bytes');
    const v2 = bytes.slice();
    v2[0] = 2;
    expect(code(v2)).toBe('block_bad_version');
    const h0 = bytes.slice();
    h0.fill(0, 1, 9);
    expect(code(h0)).toBe('block_bad_height');
    const huge = bytes.slice();
    huge[1] = 0xff; // height >= 2^53
    expect(code(huge)).toBe('block_bad_height');
    expect(code(bytes, { maxBlockEntries: 1, maxBlockBytes: 100_000 })).toBe('block_too_many_entries');
    expect(code(bytes, { maxBlockEntries: 10, maxBlockBytes: 4 })).toBe('block_too_large');
    const empty = encodeBlock({ ...sample(), entries: [] });
    expect(code(empty)).toBe('block_empty');
  });

  it('decoding random bytes and mutations never throws', () => {
    const bytes = encodeBlock(sample());
    let seed = 1;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 256);
    for (let i = 0; i < 2000; i++) {
      const m = bytes.slice();
      m[rnd() % m.length] = rnd();
      const r = decodeBlock(m, limits);
      expect(typeof r.ok).toBe('boolean');
      const junk = new Uint8Array(rnd() * 2).map(() => rnd());
      expect(decodeBlock(junk, limits).ok).toBe(false);
    }
  });
});

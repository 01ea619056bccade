// Compact range (O(log n) append state): stored hashes, serialization, input validation; and
// the tlog-tiles entry bundle codec.
import { describe, expect, it } from 'vitest';
import {
  EMPTY_RANGE,
  MAX_APPEND_BATCH,
  MAX_ENTRY_BYTES,
  MAX_STATE_BYTES,
  MAX_TREE_SIZE,
  MerkleLog,
  appendLeafHashes,
  compactRangeNodes,
  decodeEntryBundle,
  decodeState,
  encodeEntryBundle,
  encodeState,
  leafHash,
  rootOf,
  type CompactRange,
} from '../../src/merkle/index.js';
import { NaiveTree, hex } from './support/merkle-naive.js';

const errCode = (code: string) => expect.objectContaining({ code });
const leaves = Array.from({ length: 300 }, (_, i) => leafHash(new TextEncoder().encode(`c${i}`)));
const naive = new NaiveTree(leaves);

describe('appendLeafHashes', () => {
  it('reports every complete node exactly once, each equal to the naive MTH of its range', () => {
    let state: CompactRange = EMPTY_RANGE;
    const seen = new Map<string, string>();
    // Mixed batch sizes, including empty batches.
    const batches = [1, 0, 2, 5, 8, 1, 13, 100, 0, 170];
    let at = 0;
    for (const n of batches) {
      const { state: next, stored } = appendLeafHashes(state, leaves.slice(at, at + n));
      expect(next.size).toBe(at + n);
      expect(state.size).toBe(at); // the input state is not modified
      for (const s of stored) {
        const key = `${s.level}/${s.index}`;
        expect(seen.has(key), `${key} reported twice`).toBe(false);
        seen.set(key, hex(s.hash));
      }
      state = next;
      at += n;
    }
    expect(at).toBe(300);
    // Every complete node of the 300-leaf tree: Σ_l ⌊300/2^l⌋.
    let total = 0;
    for (let level = 0; 2 ** level <= 300; level++) {
      const count = Math.floor(300 / 2 ** level);
      total += count;
      for (let index = 0; index < count; index++) {
        const lo = index * 2 ** level;
        expect(seen.get(`${level}/${index}`), `node ${level}/${index}`).toBe(hex(naive.mth(lo, lo + 2 ** level)));
      }
    }
    expect(seen.size).toBe(total);
  });

  it('roots are the perfect subtrees of the size, largest first', () => {
    const { state } = appendLeafHashes(EMPTY_RANGE, leaves.slice(0, 300)); // 300 = 256 + 32 + 8 + 4
    expect(compactRangeNodes(300)).toEqual([
      { level: 8, index: 0 },
      { level: 5, index: 8 },
      { level: 3, index: 36 },
      { level: 2, index: 74 },
    ]);
    expect(state.roots.map(hex)).toEqual([naive.mth(0, 256), naive.mth(256, 288), naive.mth(288, 296), naive.mth(296, 300)].map(hex));
    expect(hex(rootOf(state))).toBe(hex(naive.root(300)));
  });

  it('rejects bad leaf hashes with BAD_HASH and appends nothing', () => {
    const { state } = appendLeafHashes(EMPTY_RANGE, leaves.slice(0, 3));
    expect(() => appendLeafHashes(state, [leaves[3]!, new Uint8Array(31)])).toThrow(errCode('BAD_HASH'));
    expect(() => appendLeafHashes(state, ['x' as unknown as Uint8Array])).toThrow(errCode('BAD_HASH'));
    expect(() => appendLeafHashes(state, null as unknown as Uint8Array[])).toThrow(errCode('BAD_HASH'));
    expect(state.size).toBe(3);
    expect(hex(rootOf(state))).toBe(hex(naive.root(3)));
  });

  it('enforces MAX_APPEND_BATCH and MAX_TREE_SIZE', () => {
    const tooMany = new Array<Uint8Array>(MAX_APPEND_BATCH + 1); // sparse: the limit is checked first
    expect(() => appendLeafHashes(EMPTY_RANGE, tooMany)).toThrow(errCode('LIMIT_EXCEEDED'));
    // A state at MAX_TREE_SIZE (2^53 − 1: 53 set bits → 53 roots) cannot grow.
    const full: CompactRange = { size: MAX_TREE_SIZE, roots: new Array(53).fill(leaves[0]) };
    expect(() => appendLeafHashes(full, [leaves[0]!])).toThrow(errCode('LIMIT_EXCEEDED'));
  });

  it('rejects a structurally broken state', () => {
    expect(() => appendLeafHashes({ size: 3, roots: [leaves[0]!] }, [])).toThrow(errCode('BAD_STATE_ENCODING'));
    expect(() => rootOf({ size: 1, roots: [new Uint8Array(5)] })).toThrow(errCode('BAD_STATE_ENCODING'));
    expect(() => rootOf({ size: -1, roots: [] })).toThrow(errCode('BAD_SIZE'));
  });
});

describe('encodeState / decodeState', () => {
  it('round-trips every size 0..300 and a huge one', () => {
    let state: CompactRange = EMPTY_RANGE;
    for (let s = 0; s <= 300; s++) {
      if (s > 0) state = appendLeafHashes(state, [leaves[s - 1]!]).state;
      const back = decodeState(encodeState(state));
      expect(back.size).toBe(s);
      expect(back.roots.map(hex)).toEqual(state.roots.map(hex));
    }
    const huge: CompactRange = { size: MAX_TREE_SIZE, roots: new Array(53).fill(leaves[1]) };
    const enc = encodeState(huge);
    expect(enc.length).toBe(MAX_STATE_BYTES);
    expect(decodeState(enc).size).toBe(MAX_TREE_SIZE);
    // Decoding from a view into a larger buffer works (node/ reads values out of LevelDB buffers).
    const padded = new Uint8Array(enc.length + 10);
    padded.set(enc, 5);
    expect(decodeState(padded.subarray(5, 5 + enc.length)).size).toBe(MAX_TREE_SIZE);
  });

  it('rejects malformed encodings with BAD_STATE_ENCODING', () => {
    const good = encodeState(appendLeafHashes(EMPTY_RANGE, leaves.slice(0, 5)).state); // 2 roots
    const bad: Uint8Array[] = [
      new Uint8Array(0),
      good.subarray(0, 8),
      good.subarray(0, good.length - 1),
      Uint8Array.from([...good, 0]),
      Uint8Array.from([2, ...good.subarray(1)]), // unknown version
      Uint8Array.from([1, 0, 0x20, 0, 0, 0, 0, 0, 0]), // size 2^53 > MAX_TREE_SIZE
      Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 1]), // size 1 but no root
      new Uint8Array(MAX_STATE_BYTES + 1),
    ];
    for (const b of bad) expect(() => decodeState(b), hex(b.subarray(0, 12))).toThrow(errCode('BAD_STATE_ENCODING'));
    expect(() => decodeState('abc' as unknown as Uint8Array)).toThrow(errCode('BAD_STATE_ENCODING'));
  });
});

describe('MerkleLog', () => {
  it('append returns first indexes, serialises concurrent appends, refuses sizes beyond its own', async () => {
    const log = new MerkleLog();
    const enc = (s: string) => new TextEncoder().encode(s);
    const [a, b, c] = await Promise.all([log.append([enc('a'), enc('b')]), log.append([enc('c')]), log.append([enc('d'), enc('e'), enc('f')])]);
    expect([a, b, c]).toEqual([0, 2, 3]);
    expect(log.size).toBe(6);
    expect(hex(await log.rootAt(6))).toBe(hex(log.root()));
    await expect(log.rootAt(7)).rejects.toThrow(errCode('BAD_SIZE'));
    await expect(log.inclusionProof(6, 6)).rejects.toThrow(errCode('BAD_INDEX'));
    await expect(log.consistencyProof(4, 3)).rejects.toThrow(errCode('SIZE_ORDER'));
    // A failed append leaves the log usable and unchanged.
    await expect(log.appendLeafHashes([new Uint8Array(3)])).rejects.toThrow(errCode('BAD_HASH'));
    expect(await log.append([enc('g')])).toBe(6);
  });
});

describe('entry bundles (tlog-tiles: big-endian uint16 length-prefixed entries)', () => {
  it('round-trips, including empty and maximum-size entries', () => {
    const entries = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(MAX_ENTRY_BYTES).fill(7)];
    const b = encodeEntryBundle(entries);
    expect(Array.from(b.subarray(0, 7))).toEqual([0, 0, 0, 3, 1, 2, 3]);
    expect(Array.from(b.subarray(7, 9))).toEqual([0xff, 0xff]);
    expect(decodeEntryBundle(b, 3).map(hex)).toEqual(entries.map(hex));
  });

  it('rejects oversize entries, bad counts and truncation with BAD_ENTRY_BUNDLE', () => {
    expect(() => encodeEntryBundle([new Uint8Array(MAX_ENTRY_BYTES + 1)])).toThrow(errCode('BAD_ENTRY_BUNDLE'));
    expect(() => encodeEntryBundle([])).toThrow(errCode('BAD_ENTRY_BUNDLE'));
    expect(() => encodeEntryBundle(new Array(257).fill(new Uint8Array(1)))).toThrow(errCode('BAD_ENTRY_BUNDLE'));
    const b = encodeEntryBundle([Uint8Array.of(9, 9), Uint8Array.of(8)]);
    expect(() => decodeEntryBundle(b, 3)).toThrow(errCode('BAD_ENTRY_BUNDLE'));
    expect(() => decodeEntryBundle(b.subarray(0, b.length - 1))).toThrow(errCode('BAD_ENTRY_BUNDLE'));
    expect(() => decodeEntryBundle(Uint8Array.of(0))).toThrow(errCode('BAD_ENTRY_BUNDLE'));
    expect(() => decodeEntryBundle(new Uint8Array(0))).toThrow(errCode('BAD_ENTRY_BUNDLE'));
    expect(() => decodeEntryBundle(new Uint8Array(2 * 257))).toThrow(errCode('BAD_ENTRY_BUNDLE')); // 257 empty entries
  });
});

// The store on the catch-up path: applyBlock hashes every leaf by default and refuses a block whose
// leafHashes disagree, while a caller that derived the hashes from these leaves (the ledger,
// leafHashesFromLeaves) is not made to pay a second SHA-256 per entry (the tree is still
// re-derived); the partial right-edge tiles come from memory for the next block; the search and
// (client, id) key encodings are byte-identical to UTF-8 with the ASCII fast path.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { utf8 } from '../../src/encoding/bytes.js';
import { openStore, type Store } from '../../node/storage/index.js';
import { clientIdKey } from '../../node/storage/keys.js';
import { postingBase, INDEX_VALUE_BYTES_MAX } from '../../node/search/keys.js';
import { TempDirs, nextBlock, withRawDb } from './support/storage-fixture.js';
import { decodeTimeSummary, encodeTimeSummary, timeKey } from '../../node/search/keys.js';
import { ClassicLevel } from 'classic-level';
import { tilesForSize } from '../../src/merkle/index.js';

const calls = { leafHash: 0 };
vi.mock('../../src/merkle/index.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/merkle/index.js')>();
  return { ...m, leafHash: (leaf: Uint8Array) => (calls.leafHash++, m.leafHash(leaf)) };
});

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

async function fresh(): Promise<Store> {
  const s = await openStore(await dirs.make());
  open.push(s);
  return s;
}

const leaves = (tag: string, n: number) => Array.from({ length: n }, (_, i) => utf8(`{"leaf":"${tag}-${i}"}`));

describe('store applyBlock leaf hashes', () => {
  it('hashes every leaf by default and none when the caller derived the hashes from the leaves', async () => {
    const s = await fresh();
    const b1 = await nextBlock(s, leaves('a', 7));
    calls.leafHash = 0;
    await s.applyBlock(b1);
    expect(calls.leafHash).toBe(7);
    const b2 = await nextBlock(s, leaves('b', 5));
    calls.leafHash = 0;
    await s.applyBlock({ ...b2, leafHashesFromLeaves: true });
    expect(calls.leafHash).toBe(0);
    expect(s.head()?.treeSize).toBe(12);
  });

  it('still refuses a wrong leaf hash by default, and a hash of the wrong length or a root that does not follow either way', async () => {
    const s = await fresh();
    const b = await nextBlock(s, leaves('c', 3));
    const wrong = { ...b, leafHashes: b.leafHashes.map((h, i) => (i === 1 ? new Uint8Array(32).fill(9) : h)) };
    await expect(s.applyBlock(wrong)).rejects.toMatchObject({ code: 'BAD_BLOCK' });
    await expect(s.applyBlock({ ...wrong, leafHashesFromLeaves: true })).rejects.toMatchObject({ code: 'BAD_BLOCK' }); // root / log state no longer match
    const short = { ...b, leafHashes: b.leafHashes.map((h, i) => (i === 0 ? h.subarray(0, 31) : h)), leafHashesFromLeaves: true };
    await expect(s.applyBlock(short)).rejects.toMatchObject({ code: 'BAD_BLOCK' });
    expect(s.head()).toBeNull();
    await s.applyBlock(b);
    expect(s.head()?.treeSize).toBe(3);
  });
});

describe('right-edge tiles', () => {
  it('the next block reads the tiles the last one wrote from memory, and they equal the stored ones', async () => {
    const dir = await dirs.make();
    let s = await openStore(dir, { searchIndexes: false });
    open.push(s);
    const getMany = vi.spyOn(ClassicLevel.prototype, 'getMany');
    try {
      await s.applyBlock(await nextBlock(s, leaves('t0', 300)));
      for (let k = 1; k <= 6; k++) {
        const b = await nextBlock(s, leaves(`t${k}`, 37 * k)); // the builder reads the edge tiles
        getMany.mockClear();
        await s.applyBlock({ ...b, leafHashesFromLeaves: true });
        expect(getMany.mock.calls.filter((c) => (c[0] as Uint8Array[]).some((key) => key[0] === 0x54)).length).toBe(0); // no 'T' tile key read
      }
      const size = s.head()!.treeSize;
      const ids = tilesForSize(size);
      const fromMemory = await s.readTiles(ids);
      open.splice(open.indexOf(s), 1);
      await s.close();
      s = await openStore(dir, { searchIndexes: false });
      open.push(s);
      expect(await s.readTiles(ids)).toEqual(fromMemory); // after reopen: all from LevelDB
    } finally {
      getMany.mockRestore();
    }
  });
});

describe('search time summaries', () => {
  it('the next block merges with the summary the last one wrote without reading it back; the record covers every entry time', async () => {
    const dir = await dirs.make();
    const s = await openStore(dir);
    open.push(s);
    const base = Date.parse('2026-01-01T00:00:00.000Z');
    const offsets = [[5, 9, 7], [2, 30, 11], [40, 1, 3]]; // seconds; each block widens the range
    const getMany = vi.spyOn(ClassicLevel.prototype, 'getMany');
    try {
      for (let k = 0; k < offsets.length; k++) {
        const ls = offsets[k]!.map((sec, i) => utf8(JSON.stringify({ id: `s${k}-${i}`, time: new Date(base + sec * 1000).toISOString() })));
        const b = await nextBlock(s, ls);
        getMany.mockClear();
        await s.applyBlock(b);
        const timeReads = getMany.mock.calls.filter((c) => (c[0] as Uint8Array[]).some((key) => key[0] === 0x78 && key[1] === 0x73)).length;
        expect(timeReads).toBe(k === 0 ? 1 : 0); // the first block reads (nothing kept yet)
      }
    } finally {
      getMany.mockRestore();
    }
    open.splice(open.indexOf(s), 1);
    await s.close();
    await withRawDb(dir, async (db) => {
      const v = await db.get(timeKey(0));
      expect(v && decodeTimeSummary(v)).toEqual({ min: base + 1000, max: base + 40_000 });
    });
  });
});

describe('search time summaries after another search write', () => {
  it('a summary rewritten through the search writer (reindex, maintenance) is read back by the next block, not the kept copy', async () => {
    const s = await fresh();
    const base = Date.parse('2026-01-01T00:00:00.000Z');
    const block = (tag: string, sec: number) => nextBlock(s, [utf8(JSON.stringify({ id: tag, time: new Date(base + sec * 1000).toISOString() }))]);
    await s.applyBlock(await block('w0', 10));
    await s.searchAccess().exclusive((w) => w.write([{ type: 'put', key: timeKey(0), value: encodeTimeSummary(base - 5000, base + 10_000) }]));
    await s.applyBlock(await block('w1', 20));
    const [v] = await s.searchAccess().get([timeKey(0)]);
    expect(v && decodeTimeSummary(v)).toEqual({ min: base - 5000, max: base + 20_000 });
  });
});

describe('key encodings with the ASCII fast path', () => {
  const reference = (kind: number, ...values: string[]): Uint8Array | null => {
    const parts = values.map((v) => utf8(v));
    if (parts.some((p) => p.length > INDEX_VALUE_BYTES_MAX)) return null;
    const out: number[] = [0x78, kind];
    for (const p of parts) out.push(p.length >> 8, p.length & 0xff, ...p);
    return Uint8Array.from(out);
  };
  const samples = ['', 'alice', 'db.query', 'ü', 'ñame-日本', '😀x', 'a'.repeat(INDEX_VALUE_BYTES_MAX), 'é'.repeat(INDEX_VALUE_BYTES_MAX / 2 + 1), '\u007f\u0080'];
  it('postingBase and clientIdKey equal the UTF-8 encodings for ASCII and non-ASCII values', () => {
    for (const a of samples) {
      expect(postingBase(0x61, a)).toEqual(reference(0x61, a));
      for (const b of samples) {
        expect(postingBase(0x72, a, b)).toEqual(reference(0x72, a, b));
        const c = utf8(a);
        const i = utf8(b);
        expect(clientIdKey(a, b)).toEqual(Uint8Array.from([0x63, Math.floor(c.length / 256), c.length % 256, ...c, ...i]));
      }
    }
  });
});

// C2SP tlog-tiles layout: paths, which tiles exist for a size, which an append touches, tile
// contents against the spec definition (checked with the naive MTH), the tile store, the cache.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FULL_TILE_BYTES,
  MAX_TILE_PATH_CHARS,
  MemoryTileStore,
  MerkleError,
  MerkleLog,
  TileCache,
  appendLeafHashes,
  buildTileBytes,
  compactRangeAt,
  entryBundlePath,
  hashAt,
  parseTilePath,
  partialTilesForSize,
  readNodeHashes,
  readTilesChecked,
  rootOf,
  tileHash,
  tilePath,
  tileStartLeaf,
  tileWidthAt,
  tileWritesForAppend,
  tilesForSize,
  tilesTouchedByAppend,
  treeHash,
  truncateTile,
  type TileId,
  type TileReader,
} from '../../src/merkle/index.js';
import { SeededRandom } from './support/seeded-random.js';
import { NaiveTree, fastRandomBytes, hex } from './support/merkle-naive.js';

const errCode = (code: string) => expect.objectContaining({ code });

describe('tile paths', () => {
  it('formats the spec examples', () => {
    expect(tilePath({ level: 0, index: 1234067, width: 256 })).toBe('tile/0/x001/x234/067');
    expect(tilePath({ level: 0, index: 0, width: 256 })).toBe('tile/0/000');
    expect(tilePath({ level: 1, index: 0, width: 17 })).toBe('tile/1/000.p/17');
    expect(tilePath({ level: 2, index: 1000, width: 1 })).toBe('tile/2/x001/000.p/1');
    expect(tilePath({ level: 63, index: 999, width: 255 })).toBe('tile/63/999.p/255');
    expect(entryBundlePath({ index: 273, width: 112 })).toBe('tile/entries/273.p/112');
    expect(entryBundlePath({ index: 1234067, width: 256 })).toBe('tile/entries/x001/x234/067');
  });

  it('rejects invalid tile ids with BAD_TILE_ID', () => {
    for (const t of [
      { level: -1, index: 0, width: 256 },
      { level: 64, index: 0, width: 256 },
      { level: 0, index: -1, width: 256 },
      { level: 0, index: 1.5, width: 256 },
      { level: 0, index: 0, width: 0 },
      { level: 0, index: 0, width: 257 },
      { level: 0, index: 2 ** 53, width: 1 },
    ]) {
      expect(() => tilePath(t), JSON.stringify(t)).toThrow(errCode('BAD_TILE_ID'));
    }
  });

  it('parse ∘ format is the identity (seeded random ids, hash tiles and entry bundles)', () => {
    const rnd = new SeededRandom('tile-path-roundtrip');
    for (let i = 0; i < 2000; i++) {
      const digits = rnd.int(16) + 1;
      const index = Math.min(Number.MAX_SAFE_INTEGER, Math.floor(Number('0.' + hex(rnd.bytes(8)).replace(/[a-f]/g, '7')) * 10 ** digits));
      const width = rnd.int(3) === 0 ? 256 : rnd.int(255) + 1;
      const level = rnd.int(64);
      const t = { level, index, width };
      const p = tilePath(t);
      expect(parseTilePath(p), p).toEqual({ ok: true, kind: 'hash', tile: t });
      const e = entryBundlePath({ index, width });
      expect(parseTilePath(e), e).toEqual({ ok: true, kind: 'entries', bundle: { index, width } });
    }
    const max = { level: 0, index: Number.MAX_SAFE_INTEGER, width: 256 };
    expect(parseTilePath(tilePath(max))).toEqual({ ok: true, kind: 'hash', tile: max });
  });

  const malformed: [string, string][] = [
    ['', 'NOT_A_TILE_PATH'],
    ['tile', 'NOT_A_TILE_PATH'],
    ['tile/0', 'NOT_A_TILE_PATH'],
    ['/tile/0/000', 'NOT_A_TILE_PATH'],
    ['tiles/0/000', 'NOT_A_TILE_PATH'],
    ['checkpoint', 'NOT_A_TILE_PATH'],
    ['tile/00/000', 'BAD_LEVEL'], // leading zero in L
    ['tile/01/000', 'BAD_LEVEL'],
    ['tile/64/000', 'BAD_LEVEL'], // L is 0..63
    ['tile/-1/000', 'BAD_LEVEL'],
    ['tile/1e1/000', 'BAD_LEVEL'],
    ['tile/ 1/000', 'BAD_LEVEL'],
    ['tile/data/000', 'BAD_LEVEL'], // Go sumdb's old data tiles are not tlog-tiles
    ['tile/0/', 'BAD_INDEX'],
    ['tile/0/67', 'BAD_INDEX'], // not zero-padded
    ['tile/0/0067', 'BAD_INDEX'],
    ['tile/0/x001/x234/67', 'BAD_INDEX'],
    ['tile/0/001/234/067', 'BAD_INDEX'], // inner elements need the x
    ['tile/0/x067', 'BAD_INDEX'], // the last element has no x
    ['tile/0/x000/067', 'BAD_INDEX'], // superfluous leading group
    ['tile/0/x001//067', 'BAD_INDEX'],
    ['tile/0/０６７', 'BAD_INDEX'], // non-ASCII digits
    ['tile/0/067/', 'BAD_INDEX'],
    ['tile/0/.p/5', 'BAD_INDEX'],
    ['tile/0/067.p', 'BAD_INDEX'],
    ['tile/0/x999/x999/x999/x999/x999/999', 'INDEX_TOO_LARGE'],
    ['tile/0/x009/x007/x199/x254/x740/992', 'INDEX_TOO_LARGE'], // 2^53
    ['tile/0/000.p/0', 'BAD_WIDTH'],
    ['tile/0/000.p/256', 'BAD_WIDTH'], // a full tile has no .p
    ['tile/0/000.p/1000', 'BAD_WIDTH'],
    ['tile/0/000.p/007', 'BAD_WIDTH'], // leading zeros in W
    ['tile/0/000.p/', 'BAD_WIDTH'],
    ['tile/0/000.p/+5', 'BAD_WIDTH'],
    ['tile/entries/000.p/0', 'BAD_WIDTH'],
    ['tile/entries/x000/001', 'BAD_INDEX'],
    ['tile/0/' + 'x001/'.repeat(20) + '000', 'PATH_TOO_LONG'],
  ];
  for (const [path, want] of malformed) {
    it(`rejects ${JSON.stringify(path.length > 40 ? path.slice(0, 40) + '…' : path)} with ${want}`, () => {
      const r = parseTilePath(path);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.code).toBe(want);
        expect(r.message.length).toBeGreaterThan(0);
      }
    });
  }

  it('rejects a non-string without throwing', () => {
    expect(parseTilePath(42 as unknown as string)).toMatchObject({ ok: false, code: 'NOT_A_STRING' });
    expect(parseTilePath(null as unknown as string)).toMatchObject({ ok: false, code: 'NOT_A_STRING' });
  });

  it('the longest valid path fits MAX_TILE_PATH_CHARS', () => {
    const longest = tilePath({ level: 63, index: Number.MAX_SAFE_INTEGER, width: 255 });
    expect(longest.length).toBeLessThanOrEqual(MAX_TILE_PATH_CHARS);
    expect(parseTilePath(longest).ok).toBe(true);
  });
});

describe('which tiles exist', () => {
  it('size 70,000 matches the tlog-tiles example', () => {
    // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0
    // tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one
    // partial level 2 tile of width 1."
    const tiles = tilesForSize(70_000);
    const l0 = tiles.filter((t) => t.level === 0);
    expect(l0.filter((t) => t.width === 256)).toHaveLength(273);
    expect(l0.filter((t) => t.width !== 256)).toEqual([{ level: 0, index: 273, width: 112 }]);
    expect(tiles.filter((t) => t.level === 1)).toEqual([
      { level: 1, index: 0, width: 256 },
      { level: 1, index: 1, width: 17 },
    ]);
    expect(tiles.filter((t) => t.level === 2)).toEqual([{ level: 2, index: 0, width: 1 }]);
    expect(tiles).toHaveLength(273 + 1 + 2 + 1);
    expect(partialTilesForSize(70_000)).toEqual([
      { level: 0, index: 273, width: 112 },
      { level: 1, index: 1, width: 17 },
      { level: 2, index: 0, width: 1 },
    ]);
  });

  it('size 256: a full level 0 tile and a partial level 1 tile of width 1', () => {
    expect(tilesForSize(256)).toEqual([
      { level: 0, index: 0, width: 256 },
      { level: 1, index: 0, width: 1 },
    ]);
    expect(tilesForSize(0)).toEqual([]);
    expect(tilesForSize(1)).toEqual([{ level: 0, index: 0, width: 1 }]);
    expect(tilesForSize(255)).toEqual([{ level: 0, index: 0, width: 255 }]);
  });

  it('partial widths are ⌊s/256^l⌋ mod 256 at large sizes', () => {
    const s = 2 ** 40 + 5 * 2 ** 32 + 3;
    expect(partialTilesForSize(s)).toEqual([
      { level: 0, index: Math.floor(s / 256), width: 3 },
      // level 1..3: ⌊s/256^l⌋ mod 256 = 0 → no partial tile
      // level 4: ⌊s/2^32⌋ = 256 + 5 hashes → full tile 0, partial tile 1 of width 5
      { level: 4, index: 1, width: 5 },
      { level: 5, index: 0, width: 1 },
    ]);
    expect(tileWidthAt(s, 4, 0)).toBe(256);
    expect(tileWidthAt(s, 4, 1)).toBe(5);
    expect(tileWidthAt(s, 3, Math.floor(s / 2 ** 32) - 1)).toBe(256);
    expect(tileWidthAt(s, 5, 1)).toBe(0);
    expect(() => tilesForSize(2 ** 40)).toThrow(errCode('LIMIT_EXCEEDED'));
  });

  it('tilesTouchedByAppend equals the tiles that are new or wider (brute force over seeded sizes)', () => {
    const rnd = new SeededRandom('touched');
    const key = (t: TileId) => `${t.level}/${t.index}/${t.width}`;
    const pairs: [number, number][] = [[0, 0], [0, 1], [255, 256], [256, 257], [65_535, 65_536], [0, 70_000], [70_000, 70_000]];
    for (let i = 0; i < 300; i++) {
      const a = rnd.int(80_000);
      pairs.push([a, a + rnd.int(i % 3 === 0 ? 70_000 : 600)]);
    }
    for (const [a, b] of pairs) {
      const before = new Set(tilesForSize(a).map(key));
      const want = tilesForSize(b).filter((t) => !before.has(key(t)));
      expect(tilesTouchedByAppend(a, b), `${a}→${b}`).toEqual(want);
    }
    expect(() => tilesTouchedByAppend(5, 4)).toThrow(errCode('SIZE_ORDER'));
  });

  it('tileStartLeaf is index·256^(level+1)', () => {
    expect(tileStartLeaf({ level: 0, index: 3 })).toBe(768);
    expect(tileStartLeaf({ level: 1, index: 1 })).toBe(65_536);
    expect(() => tileStartLeaf({ level: 6, index: 2 ** 10 })).toThrow(errCode('BAD_TILE_ID'));
  });
});

describe('tile contents equal the spec definition (naive MTH)', () => {
  // 70,000 random leaf hashes: 274 level-0 tiles, 2 level-1 tiles, 1 level-2 tile.
  const N = 70_000;
  let leaves: Uint8Array[];
  let naive: NaiveTree;
  let log: MerkleLog;
  beforeAll(async () => {
    const raw = fastRandomBytes(N * 32, 7);
    leaves = Array.from({ length: N }, (_, i) => raw.subarray(i * 32, (i + 1) * 32));
    naive = new NaiveTree(leaves);
    log = new MerkleLog();
    // Uneven batches so tiles are extended across many appends.
    const rnd = new SeededRandom('batches');
    let at = 0;
    while (at < N) {
      const n = Math.min(N - at, 1 + rnd.int(rnd.int(4) === 0 ? 5000 : 300));
      await log.appendLeafHashes(leaves.slice(at, at + n));
      at += n;
    }
  }, 60_000);

  it('tile n at level l holds MTH(D[(n·256+i)·256^l : (n·256+i+1)·256^l]) for every tile of size 70,000', () => {
    let checked = 0;
    for (const t of tilesForSize(N)) {
      const bytes = log.tiles.get(t);
      expect(bytes, tilePath(t)).toBeDefined();
      expect(bytes!.length).toBe(t.width * 32);
      const span = 256 ** t.level;
      for (let i = 0; i < t.width; i++) {
        const lo = (t.index * 256 + i) * span;
        expect(hex(tileHash(bytes!, i)), `${tilePath(t)} hash ${i}`).toBe(hex(naive.mth(lo, lo + span)));
        checked++;
      }
    }
    expect(checked).toBe(N + Math.floor(N / 256) + Math.floor(N / 65_536));
  });

  it('partial tiles of past sizes are prefixes of the stored (widest) tiles', () => {
    for (const s of [1, 255, 256, 257, 1000, 65_535, 65_536, 65_537, 69_999]) {
      for (const t of partialTilesForSize(s)) {
        const bytes = log.tiles.get(t)!;
        const span = 256 ** t.level;
        for (let i = 0; i < t.width; i++) {
          const lo = (t.index * 256 + i) * span;
          expect(hex(tileHash(bytes, i))).toBe(hex(naive.mth(lo, lo + span)));
        }
      }
    }
  });

  it('hashAt reads any complete node, at levels between tile levels too', async () => {
    const rnd = new SeededRandom('hashAt');
    for (let j = 0; j < 200; j++) {
      const level = rnd.int(17);
      const count = Math.floor(N / 2 ** level);
      const index = rnd.int(count);
      const lo = index * 2 ** level;
      expect(hex(await hashAt(log.tiles, N, level, index)), `(${level}, ${index})`).toBe(hex(naive.mth(lo, lo + 2 ** level)));
    }
    await expect(hashAt(log.tiles, N, 17, 0)).rejects.toThrow(errCode('BAD_INDEX')); // 2^17 > N: incomplete
    await expect(hashAt(log.tiles, 100, 7, 0)).rejects.toThrow(errCode('BAD_INDEX'));
    await expect(hashAt(log.tiles, N, 53, 0)).rejects.toThrow(errCode('BAD_LEVEL'));
    await expect(hashAt(log.tiles, N, 0, -1)).rejects.toThrow(errCode('BAD_INDEX'));
  });

  it('compactRangeAt rebuilds the append state of any past size', async () => {
    for (const s of [0, 1, 256, 300, 65_536, 69_999, N]) {
      const st = await compactRangeAt(log.tiles, s);
      expect(st.size).toBe(s);
      expect(hex(rootOf(st))).toBe(hex(naive.root(s)));
      // Continuing from the rebuilt state gives the same tree as never stopping.
      if (s < N) expect(hex(rootOf(appendLeafHashes(st, leaves.slice(s, N)).state))).toBe(hex(naive.root(N)));
    }
  });

  it('tiles do not depend on how appends were batched', async () => {
    const one = new MerkleLog();
    await one.appendLeafHashes(leaves);
    for (const t of tilesForSize(N)) expect(hex(one.tiles.get(t)!)).toBe(hex(log.tiles.get(t)!));
    expect(one.tiles.tileCount).toBe(log.tiles.tileCount);
  });

  it('a TileCache in front of the store gives the same results and stays within its bound', async () => {
    const cache = new TileCache(log.tiles, { maxTiles: 4 });
    for (const s of [N, 65_537, 1000]) {
      expect(hex(await treeHash(cache, s))).toBe(hex(naive.root(s)));
      expect(hex(await treeHash(cache, s))).toBe(hex(naive.root(s)));
    }
    expect(cache.hits).toBeGreaterThan(0);
    expect(cache.misses).toBeGreaterThan(0);
    // Bounded: a burst over many distinct tiles never keeps more than maxTiles.
    await cache.readTiles(Array.from({ length: 20 }, (_, i) => ({ level: 0, index: i, width: 256 })));
    expect((cache as unknown as { entries: Map<string, Uint8Array> }).entries.size).toBe(4);
    expect(() => new TileCache(log.tiles, { maxTiles: 0 })).toThrow(errCode('LIMIT_EXCEEDED'));
  });
});

describe('tile store', () => {
  const h = (b: number) => new Uint8Array(32).fill(b);

  it('MemoryTileStore: missing tiles reject with TILE_MISSING; narrower writes never shrink a tile', async () => {
    const store = new MemoryTileStore();
    await expect(store.readTiles([{ level: 0, index: 0, width: 1 }])).rejects.toThrow(errCode('TILE_MISSING'));
    store.write({ level: 0, index: 0, width: 3 }, buildTileBytes([h(1), h(2), h(3)]));
    store.write({ level: 0, index: 0, width: 2 }, buildTileBytes([h(1), h(2)]));
    expect(store.get({ level: 0, index: 0, width: 3 })?.length).toBe(96);
    expect(store.get({ level: 0, index: 0, width: 2 })).toEqual(buildTileBytes([h(1), h(2)]));
    expect(store.get({ level: 0, index: 0, width: 4 })).toBeUndefined();
    await expect(store.readTiles([{ level: 0, index: 0, width: 4 }])).rejects.toThrow(errCode('TILE_MISSING'));
    expect(() => store.write({ level: 0, index: 1, width: 2 }, buildTileBytes([h(1)]))).toThrow(errCode('BAD_TILE'));
    expect(() => store.write({ level: 0, index: 1, width: 2 }, new Uint8Array(63))).toThrow(errCode('BAD_TILE'));
  });

  it('readTilesChecked turns a reader breaking its contract into specific errors', async () => {
    const req = [{ level: 0, index: 0, width: 2 }];
    const reader = (result: unknown): TileReader => ({ readTiles: async () => result as Uint8Array[] });
    await expect(readTilesChecked(reader([]), req)).rejects.toThrow(errCode('READER_CONTRACT'));
    await expect(readTilesChecked(reader('nope'), req)).rejects.toThrow(errCode('READER_CONTRACT'));
    await expect(readTilesChecked(reader([new Uint8Array(32)]), req)).rejects.toThrow(errCode('BAD_TILE')); // narrower
    await expect(readTilesChecked(reader([new Uint8Array(50)]), req)).rejects.toThrow(errCode('BAD_TILE'));
    await expect(readTilesChecked(reader([new Uint8Array(FULL_TILE_BYTES + 32)]), req)).rejects.toThrow(errCode('BAD_TILE'));
    await expect(readTilesChecked(reader([null]), req)).rejects.toThrow(errCode('BAD_TILE'));
    // A wider tile is allowed.
    expect(await readTilesChecked(reader([new Uint8Array(96)]), req)).toHaveLength(1);
    // And the errors reach proof generation as MerkleError.
    await expect(readNodeHashes(reader([]), 2, [{ level: 0, index: 0 }])).rejects.toBeInstanceOf(MerkleError);
  });

  it('tileWritesForAppend needs the stored hashes of the append', async () => {
    const store = new MemoryTileStore();
    const leaves = [h(1), h(2), h(3)];
    const { stored } = appendLeafHashes({ size: 0, roots: [] }, leaves);
    await expect(tileWritesForAppend(store, 0, 3, stored.slice(1))).rejects.toThrow(errCode('MISSING_STORED_HASH'));
    const writes = await tileWritesForAppend(store, 0, 3, stored);
    expect(writes).toEqual([{ tile: { level: 0, index: 0, width: 3 }, bytes: buildTileBytes(leaves) }]);
    // Extending needs the old partial tile from the store (not written here).
    const next = appendLeafHashes(appendLeafHashes({ size: 0, roots: [] }, leaves).state, [h(4)]);
    await expect(tileWritesForAppend(store, 3, 4, next.stored)).rejects.toThrow(errCode('TILE_MISSING'));
  });

  it('truncateTile cuts a wider tile to a served width', () => {
    const t = buildTileBytes([h(1), h(2), h(3)]);
    expect(truncateTile(t, 2)).toEqual(buildTileBytes([h(1), h(2)]));
    expect(() => truncateTile(t, 4)).toThrow(errCode('BAD_TILE'));
    expect(() => truncateTile(t, 0)).toThrow(errCode('BAD_TILE'));
    expect(() => buildTileBytes([])).toThrow(errCode('BAD_TILE'));
    expect(() => buildTileBytes(new Array(257).fill(h(0)))).toThrow(errCode('BAD_TILE'));
  });
});

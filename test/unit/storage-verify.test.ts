// verifyStore: recompute the Merkle tree from the stored leaves and name the FIRST inconsistency.
// Corruption is made by editing the closed store's LevelDB directly, as a disk fault or an
// operator with file access would.
import { afterEach, describe, expect, it } from 'vitest';
import { utf8 } from '../../src/encoding/bytes.js';
import { leafHash } from '../../src/merkle/index.js';
import { openStore, verifyStore, type Store } from '../../node/storage/index.js';
import { P_LEAF, P_LEAF_HASH, bytesKey, tileKey, u64Key } from '../../node/storage/keys.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs, appendBlock, withRawDb } from './support/storage-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

const SIZE = 1500; // level-0 tiles 0..4 full, 5 partial; level-1 tile 0 partial (5 hashes)

/** A closed store of SIZE distinct leaves written in blocks of 100..400. */
async function makeStore(): Promise<{ dir: string; leaves: Uint8Array[] }> {
  const dir = await dirs.make();
  const store = await openStore(dir);
  const rng = new SeededRandom('storage-verify');
  const leaves: Uint8Array[] = [];
  while (leaves.length < SIZE) {
    const n = Math.min(SIZE - leaves.length, 100 + rng.int(300));
    const ls = Array.from({ length: n }, (_, k) => utf8(`entry ${leaves.length + k} ${rng.int(1e9)}`));
    await appendBlock(store, ls);
    leaves.push(...ls);
  }
  await store.close();
  return { dir, leaves };
}

async function reopen(dir: string): Promise<Store> {
  const s = await openStore(dir);
  open.push(s);
  return s;
}

async function flipByte(dir: string, key: Uint8Array, at: number): Promise<void> {
  await withRawDb(dir, async (db) => {
    const v = Uint8Array.from((await db.get(key))!);
    v[at] = v[at]! ^ 0x01;
    await db.put(key, v);
  });
}

describe('verifyStore', () => {
  it('a clean store verifies: every leaf checked, root equals the head', async () => {
    const { dir } = await makeStore();
    const store = await reopen(dir);
    const progress: number[] = [];
    const r = await verifyStore(store, { chunkLeaves: 500, onProgress: (n) => progress.push(n) });
    expect(r).toMatchObject({ ok: true, treeSize: SIZE, leavesChecked: SIZE });
    if (r.ok) expect(r.root).toEqual(store.head()!.root);
    expect(progress).toEqual([500, 1000, 1500]);
  });

  it('an empty store verifies', async () => {
    const store = await reopen(await dirs.make());
    expect(await verifyStore(store)).toMatchObject({ ok: true, treeSize: 0 });
  });

  // A leaf in the middle of a tile, the first leaf, the last leaf of a full tile, the last leaf of
  // the tree (which the open-time head check would already catch, so it is tested apart below).
  for (const index of [0, 777, 1023, 1024, 1498]) {
    it(`a single flipped byte in leaf ${index} is reported as LEAF_HASH_MISMATCH at index ${index}`, async () => {
      const { dir, leaves } = await makeStore();
      await flipByte(dir, u64Key(P_LEAF, index), Math.floor(leaves[index]!.length / 2));
      const store = await reopen(dir);
      const r = await verifyStore(store, { chunkLeaves: 256 });
      expect(r).toMatchObject({ ok: false, code: 'LEAF_HASH_MISMATCH', index });
      if (!r.ok) expect(r.message).toContain(`leaf ${index}`);
    });
  }

  it('a flipped byte in the LAST leaf is refused already at open (CORRUPT_HEAD)', async () => {
    const { dir } = await makeStore();
    await flipByte(dir, u64Key(P_LEAF, SIZE - 1), 0);
    await expect(openStore(dir)).rejects.toMatchObject({ code: 'CORRUPT_HEAD' });
  });

  it('with two corrupted leaves, the FIRST one is reported', async () => {
    const { dir } = await makeStore();
    await flipByte(dir, u64Key(P_LEAF, 900), 3);
    await flipByte(dir, u64Key(P_LEAF, 300), 3);
    const store = await reopen(dir);
    expect(await verifyStore(store)).toMatchObject({ ok: false, code: 'LEAF_HASH_MISMATCH', index: 300 });
  });

  it('a missing leaf is reported as LEAF_MISSING with its index', async () => {
    const { dir } = await makeStore();
    await withRawDb(dir, (db) => db.del(u64Key(P_LEAF, 613)));
    const store = await reopen(dir);
    expect(await verifyStore(store)).toMatchObject({ ok: false, code: 'LEAF_MISSING', index: 613 });
  });

  it('an altered level-0 tile hash (leaf intact) is blamed on the tile', async () => {
    const { dir } = await makeStore();
    await flipByte(dir, tileKey(0, 2), 32 * 10 + 5); // hash of leaf 2·256 + 10
    const store = await reopen(dir);
    expect(await verifyStore(store)).toMatchObject({ ok: false, code: 'TILE_MISMATCH', index: 522, tile: { level: 0, index: 2 } });
  });

  it('an altered level-1 tile hash is refused at open: the head check rebuilds the log state from the tiles', async () => {
    const { dir } = await makeStore();
    await flipByte(dir, tileKey(1, 0), 32 * 3 + 31); // level-8 node 3 = leaves 768..1023
    await expect(openStore(dir)).rejects.toMatchObject({ code: 'CORRUPT_HEAD' });
  });

  it('a level-1 tile hash that differs from the leaves is reported with the first leaf under that node', async () => {
    // Every level-1 hash of a tree below 65,536 leaves feeds the head check at open, so the fault
    // is injected behind the Store interface instead: the real store serves one altered hash.
    const { dir } = await makeStore();
    const real = await reopen(dir);
    const tampered: Store = Object.create(real, {
      readTile: {
        value: async (level: number, index: number, width?: number) => {
          const t = await real.readTile(level, index, width);
          if (level !== 1 || t === undefined) return t;
          const c = t.slice();
          c[32 * 3 + 31]! ^= 1; // level-8 node 3 = leaves 768..1023
          return c;
        },
      },
    });
    expect(await verifyStore(tampered)).toMatchObject({ ok: false, code: 'TILE_MISMATCH', index: 768, tile: { level: 1, index: 0 } });
  });

  it('a corrupted leaf-hash index entry is reported as LEAF_INDEX_MISMATCH', async () => {
    const { dir, leaves } = await makeStore();
    await withRawDb(dir, (db) => db.del(bytesKey(P_LEAF_HASH, leafHash(leaves[42]!))));
    const store = await reopen(dir);
    expect(await verifyStore(store)).toMatchObject({ ok: false, code: 'LEAF_INDEX_MISMATCH', index: 42 });
    expect(await verifyStore(store, { checkLeafHashIndex: false })).toMatchObject({ ok: true });
  });

  it('stops on an aborted signal and rejects a chunk size beyond its limit', async () => {
    const { dir } = await makeStore();
    const store = await reopen(dir);
    const ac = new AbortController();
    const r = await verifyStore(store, { chunkLeaves: 100, onProgress: (n) => n >= 300 && ac.abort(), signal: ac.signal });
    expect(r).toMatchObject({ ok: false, code: 'ABORTED', index: 300 });
    await expect(verifyStore(store, { chunkLeaves: 16_385 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});

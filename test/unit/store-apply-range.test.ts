// Store.applyBlocks (the catch-up range write): consecutive blocks in ONE synced LevelDB batch
// (one fsync for the range, not one per block), leaving exactly the records block-by-block
// applyBlock leaves (leaves, indexes, tiles, search postings and time summaries, head; postings
// in one group per value for the range instead of one per block); a block
// that does not follow in the middle of a range refuses the whole range and writes nothing; a
// restart opens at the range's head.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { utf8, toHex } from '../../src/encoding/bytes.js';
import { openStore, type AppliedBlock, type Store } from '../../node/storage/index.js';
import { TempDirs, nextBlock, withRawDb } from './support/storage-fixture.js';
import { K_STATE, K_TIME, P_SEARCH, decodeGroup, indexOfPostingKey } from '../../node/search/keys.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

async function fresh(): Promise<{ s: Store; dir: string }> {
  const dir = await dirs.make();
  const s = await openStore(dir);
  open.push(s);
  return { s, dir };
}

// Search-indexable leaves; times cross time chunks and come back (a late entry merges into the summary of an earlier chunk).
const leavesOf = (h: number, n: number) =>
  Array.from({ length: n }, (_, i) => utf8(JSON.stringify({ actor: `a${i % 3}`, action: 'doc.read', timeMs: 1_700_000_000_000 + h * 1000 - (i % 5) * 7_000, k: `${h}-${i}` })));

/** Counts the synced LevelDB batch writes of every ClassicLevel (chained batches share one prototype). */
async function countSyncedBatches<T>(fn: () => Promise<T>): Promise<{ value: T; synced: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-batch-proto-'));
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const proto = Object.getPrototypeOf(db.batch()) as { write: (o?: { sync?: boolean }) => Promise<void> };
  await db.close();
  await rm(dir, { recursive: true, force: true });
  const write = proto.write;
  let synced = 0;
  proto.write = function (this: unknown, o?: { sync?: boolean }) {
    if (o?.sync === true) synced++;
    return write.call(this, o);
  };
  try {
    return { value: await fn(), synced };
  } finally {
    proto.write = write;
  }
}

/**
 * Every record of a (closed) store; search posting groups (which a range cuts differently from
 * single blocks) as the postings they hold, one `posting:<key base>@<leaf>` each. `groups`: how
 * many posting group records there were.
 */
async function dump(dir: string): Promise<{ records: Map<string, string>; groups: number }> {
  const records = new Map<string, string>();
  let groups = 0;
  await withRawDb(dir, async (db) => {
    for await (const [k, v] of db.iterator()) {
      if (k[0] === P_SEARCH && k[1] !== K_STATE && k[1] !== K_TIME) {
        groups++;
        for (const i of decodeGroup(indexOfPostingKey(k), v)!) records.set(`posting:${toHex(k.subarray(0, k.length - 8))}@${i}`, '');
      } else records.set(toHex(k), toHex(v));
    }
  });
  return { records, groups };
}

/**
 * Every LevelDB record of the (closed) store in `b` is byte-identical to `a`'s and there are no
 * others, except that posting groups compare by the postings they hold. Returns both group counts.
 */
async function expectSameRecords(a: string, b: string): Promise<[number, number]> {
  const [x, y] = [await dump(a), await dump(b)];
  expect(y.records.size).toBe(x.records.size);
  for (const [k, v] of x.records) expect(y.records.get(k), `key ${k}`).toBe(v);
  return [x.groups, y.groups];
}

describe('store applyBlocks (catch-up range)', () => {
  it('writes a range in one synced batch and leaves the same records as block-by-block applies', async () => {
    // Reference: block by block (one synced batch each), collecting what was applied.
    const ref = await fresh();
    const blocks: AppliedBlock[] = [];
    const one = await countSyncedBatches(async () => {
      for (let h = 1; h <= 12; h++) {
        const b = await nextBlock(ref.s, leavesOf(h, 40 + h * 3));
        await ref.s.applyBlock(b);
        blocks.push(b);
      }
    });
    expect(one.synced).toBe(12);
    // The same blocks as two ranges (3 + 9): two synced batches.
    const r = await fresh();
    const range = await countSyncedBatches(async () => {
      await r.s.applyBlocks(blocks.slice(0, 3));
      await r.s.applyBlocks(blocks.slice(3));
    });
    expect(range.synced).toBe(2);
    expect(r.s.head()?.height).toBe(12);
    expect(toHex(r.s.head()!.root)).toBe(toHex(ref.s.head()!.root));
    // Reads served from memory (edge tiles, search state) agree before the stores close.
    const tiles = [{ level: 0, index: 0, width: 256 }, { level: 0, index: 2, width: blocks.at(-1)!.treeSize - 512 }];
    expect((await r.s.readTiles(tiles)).map(toHex)).toEqual((await ref.s.readTiles(tiles)).map(toHex));
    for (const s of [ref.s, r.s]) await s.close();
    // The logged filter file and other non-LevelDB state aside, every record is byte-identical
    // and the same postings are stored; a range writes one posting group per value, not per block.
    const [perBlock, perRange] = await expectSameRecords(ref.dir, r.dir);
    expect(perBlock).toBe(12 * 2); // 'doc.read' and its prefix 'doc.' in each block
    expect(perRange).toBe(2 * 2); // ... in each range
  });

  it('refuses the whole range when a block in the middle does not follow, the same live store then takes the good blocks, and a restart opens there', async () => {
    const ref = await fresh();
    const blocks: AppliedBlock[] = [];
    for (let h = 1; h <= 6; h++) {
      const b = await nextBlock(ref.s, leavesOf(h, 20));
      await ref.s.applyBlock(b);
      blocks.push(b);
    }
    const { s, dir } = await fresh();
    await s.applyBlocks(blocks.slice(0, 2));
    // Block 4 is missing: 3, 5, 6 do not follow each other.
    await expect(s.applyBlocks([blocks[2]!, blocks[4]!, blocks[5]!])).rejects.toMatchObject({ code: 'NOT_NEXT_BLOCK' });
    // A wrong root in the last block of a range refuses the blocks before it too.
    const badRoot = { ...blocks[3]!, root: new Uint8Array(32).fill(7) };
    await expect(s.applyBlocks([blocks[2]!, badRoot])).rejects.toMatchObject({ code: 'BAD_BLOCK' });
    expect(s.head()?.height).toBe(2);
    expect(await s.getLeaf(blocks[1]!.treeSize)).toBeUndefined();
    expect(await s.getBlock(3)).toBeUndefined();
    // Block 3 passed its checks in both refused ranges: its edge tile must not be served.
    await expect(s.readTiles([{ level: 0, index: 0, width: blocks[2]!.treeSize }])).rejects.toMatchObject({ code: 'TILE_MISSING' });
    // The good blocks on the SAME live store: whatever a refused range left in its memory (edge
    // tiles, the logged filter, search summaries) would show in what it serves or writes next.
    await s.applyBlocks(blocks.slice(2));
    expect(s.head()?.height).toBe(6);
    expect(toHex(s.head()!.root)).toBe(toHex(ref.s.head()!.root));
    const tiles = [{ level: 0, index: 0, width: blocks.at(-1)!.treeSize }];
    expect((await s.readTiles(tiles)).map(toHex)).toEqual((await ref.s.readTiles(tiles)).map(toHex));
    expect(await s.indexOfLeafHash(blocks[5]!.leafHashes[19]!)).toBe(blocks[5]!.treeSize - 1);
    for (const x of [s, ref.s]) {
      await x.close();
      open.splice(open.indexOf(x), 1);
    }
    await expectSameRecords(ref.dir, dir);
    const again = await openStore(dir);
    open.push(again);
    expect(again.head()?.height).toBe(6);
    expect(toHex(again.head()!.root)).toBe(toHex(blocks[5]!.root));
  });

  it('bounds a range by count and refuses an empty one', async () => {
    const { s } = await fresh();
    await expect(s.applyBlocks([])).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    const many = Array.from({ length: 65 }, () => ({}) as AppliedBlock);
    await expect(s.applyBlocks(many)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(s.head()).toBeNull();
  });
});

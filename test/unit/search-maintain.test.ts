// The search indexes are derived data: after `reindex` they hold exactly the postings and time
// summaries applyBlock wrote (grouped per reindex batch instead of per block), also for a store
// written without indexes and while blocks are applied during the rebuild; `verifyIndexes` and
// `cairn verify store` name a missing, extra, overlapping, malformed or altered index record;
// queries refuse to answer until the indexes cover the pinned tree. A store written with one
// posting record per entry reads as groups of one, before and after new blocks.
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../node/storage/index.js';
import { INDEX_BATCH_LEAVES, reindex, verifyIndexes } from '../../node/search/maintain.js';
import { SearchEngine } from '../../node/search/query.js';
import { K_ACTOR, K_TIME, P_SEARCH, SEARCH_LT, decodeGroup, indexOfPostingKey, postingBase, postingEnd, postingKey, timeKey } from '../../node/search/keys.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs, nextBlock, withRawDb } from './support/storage-fixture.js';
import { fieldsOfLeaf } from '../../node/search/index-writer.js';
import { entryLeaf } from '../../src/entry/index.js';
import { SearchLog, bruteForce } from './support/search-fixture.js';
import { cli } from './support/cli.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close().catch(() => undefined)));
  await dirs.removeAll();
});

/** The postings (key base ‖ leaf) the posting groups hold, and the other search records as they are. */
async function allPostings(dir: string): Promise<{ postings: string[]; others: string[]; groups: number }> {
  const postings: string[] = [];
  const others: string[] = [];
  let groups = 0;
  await withRawDb(dir, async (db) => {
    for await (const [k, v] of db.iterator({ gte: Uint8Array.of(P_SEARCH), lt: SEARCH_LT })) {
      if (k[1] === K_TIME || k.length < 12) {
        others.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
        continue;
      }
      groups++;
      const base = Buffer.from(k.subarray(0, k.length - 8)).toString('hex');
      for (const i of decodeGroup(indexOfPostingKey(k), v)!) postings.push(`${base}@${i}`);
    }
  });
  return { postings: postings.sort(), others, groups };
}

/** The stored posting group of `base` that holds leaf `i` (the first key at or after base ‖ i). */
async function groupOf(dir: string, base: Uint8Array, i: number): Promise<{ key: Uint8Array; value: Uint8Array }> {
  let out: { key: Uint8Array; value: Uint8Array } | undefined;
  await withRawDb(dir, async (db) => {
    const [e] = await db.iterator({ gte: postingKey(base, i), lt: postingEnd(base), limit: 1 }).all();
    if (e !== undefined) out = { key: Uint8Array.from(e[0]), value: Uint8Array.from(e[1]) };
  });
  if (out === undefined || !decodeGroup(indexOfPostingKey(out.key), out.value)!.includes(i)) throw new Error(`no group holds leaf ${i}`);
  return out;
}

async function build(dir: string, opts: { searchIndexes?: boolean } = {}): Promise<SearchLog> {
  const store = await openStore(dir, opts);
  open.push(store);
  const log = new SearchLog(store, new SeededRandom('maintain'));
  for (let b = 0; b < 15; b++) await log.appendBlock(1 + log.rng.int(60));
  return log;
}

describe('search index maintenance', () => {
  it('reindex rebuilds exactly the postings and summaries applyBlock wrote; verifyIndexes agrees', async () => {
    const dir = await dirs.make();
    const log = await build(dir);
    expect(await verifyIndexes(log.store)).toMatchObject({ ok: true, treeSize: log.entries.length });
    await log.store.close();
    const written = await allPostings(dir);
    // One record per value per block, not one per entry: far fewer records than postings.
    expect(written.postings.length).toBeGreaterThan(5 * log.entries.length);
    expect(written.groups).toBeLessThan(written.postings.length / 3);
    const store = await openStore(dir);
    open.push(store);
    expect(await reindex(store)).toEqual({ indexed: log.entries.length });
    expect(await verifyIndexes(store)).toMatchObject({ ok: true, postings: written.postings.length });
    await store.close();
    const rebuilt = await allPostings(dir);
    expect(rebuilt.postings).toEqual(written.postings);
    expect(rebuilt.others).toEqual(written.others);
  });

  it('fields handed in with a block (the catch-up path parsed the leaves already) are what is indexed, and give the same records as parsing', async () => {
    const given = await dirs.make();
    const parsed = await dirs.make();
    for (const [dir, withFields] of [[given, true], [parsed, false]] as const) {
      const store = await openStore(dir);
      open.push(store);
      const log = new SearchLog(store, new SeededRandom('fields-given'));
      for (let b = 0; b < 8; b++) {
        const entries = Array.from({ length: 1 + log.rng.int(40) }, () => log.randomEntry());
        const leaves = entries.map((e) => entryLeaf(e));
        const blk = await nextBlock(store, leaves, entries.map((e) => ({ client: e.client, id: e.id })));
        // Every other entry without fields: the indexer parses those itself.
        if (withFields) blk.fields = leaves.map((l, i) => (i % 2 === 0 ? fieldsOfLeaf(l) : undefined));
        await store.applyBlock(blk);
      }
      await store.close();
    }
    const a = await allPostings(given);
    expect(a.postings.length).toBeGreaterThan(100);
    expect(a).toEqual(await allPostings(parsed));
    // And the fields are used, not parsed again: a block whose given fields name another actor is indexed under it.
    const dir = await dirs.make();
    const store = await openStore(dir);
    open.push(store);
    const log = new SearchLog(store, new SeededRandom('fields-used'));
    const entries = [log.randomEntry(), log.randomEntry()];
    const leaves = entries.map((e) => entryLeaf(e));
    const blk = await nextBlock(store, leaves, entries.map((e) => ({ client: e.client, id: e.id })));
    blk.fields = [{ ...fieldsOfLeaf(leaves[0]!)!, actor: 'given-actor' }, undefined];
    await store.applyBlock(blk);
    await store.close();
    const base = Buffer.from(postingBase(K_ACTOR, 'given-actor')!).toString('hex');
    expect((await allPostings(dir)).postings).toContain(`${base}@0`);
  });

  it('blocks applied while reindex runs are indexed once: no leaf ends up in two groups', async () => {
    const dir = await dirs.make();
    const store = await openStore(dir);
    open.push(store);
    const log = new SearchLog(store, new SeededRandom('reindex-concurrent'));
    // Three reindex batches; a block is applied after each of the first two.
    while (log.entries.length < 2 * INDEX_BATCH_LEAVES + 500) await log.appendBlock(500);
    const before = log.entries.length;
    // Each block is applied after one batch and before the next: reindex's next turn of the
    // store's lock waits for it.
    let appended: Promise<void> = Promise.resolve();
    const totals: number[] = [];
    const gated = Object.create(store, {
      searchAccess: {
        value: () => {
          const a = store.searchAccess();
          return { ...a, exclusive: async <T>(fn: Parameters<typeof a.exclusive<T>>[0]): Promise<T> => (await appended, a.exclusive(fn)) };
        },
      },
    }) as Store;
    const r = await reindex(gated, {
      onProgress: (_done, total) => {
        totals.push(total);
        if (totals.length <= 2) appended = log.appendBlock(40);
      },
    });
    // Both blocks were applied before the last batch, which ends at the head: a rebuild that read
    // up to the head there would write their leaves again, into a group overlapping theirs.
    expect(totals).toEqual([before, before + 40, before + 80]);
    expect(r.indexed).toBe(before + 80);
    expect(await verifyIndexes(store)).toMatchObject({ ok: true, treeSize: before + 80 });
    const engine = await SearchEngine.open(store);
    // The newest page reaches back past both blocks into the rebuilt part.
    const page = await engine.search({ actor: 'alice' }, { limit: 100, order: 'newest' });
    expect(page.treeSize).toBe(before + 80);
    expect(page.results.map((x) => x.index)).toEqual(bruteForce(log, page.treeSize, { actor: 'alice' }, 'newest').slice(0, 100));
    expect(page.results[99]!.index).toBeLessThan(before);
  }, 60_000);

  it('a store whose postings were written one record per entry (groups of one) verifies and answers without a rebuild, also after new blocks', async () => {
    const dir = await dirs.make();
    const log = await build(dir);
    await log.store.close();
    // Rewrite every posting group as the former layout: one record per entry, empty value.
    const before = await allPostings(dir);
    await withRawDb(dir, async (db) => {
      const groups: [Uint8Array, Uint8Array][] = [];
      for await (const [k, v] of db.iterator({ gte: Uint8Array.of(P_SEARCH, 1), lt: SEARCH_LT })) if (k[1] !== K_TIME) groups.push([Uint8Array.from(k), Uint8Array.from(v)]);
      const batch = db.batch();
      for (const [k, v] of groups) {
        batch.del(k);
        for (const i of decodeGroup(indexOfPostingKey(k), v)!) batch.put(postingKey(k.subarray(0, k.length - 8), i), new Uint8Array(0));
      }
      await batch.write();
    });
    const old = await allPostings(dir);
    expect(old.groups).toBe(old.postings.length);
    expect(old.postings).toEqual(before.postings);
    const store = await openStore(dir);
    open.push(store);
    const log2 = Object.assign(Object.create(Object.getPrototypeOf(log)), log, { store }) as SearchLog;
    const engine = await SearchEngine.open(store);
    for (let round = 0; round < 2; round++) {
      expect(await verifyIndexes(store)).toMatchObject({ ok: true, treeSize: log2.entries.length });
      for (const order of ['oldest', 'newest'] as const) {
        for (const f of [{ actor: 'alice' }, { actor: 'bob', outcome: 'failure' as const }, { resourceType: 'db.table', resourceId: 'orders' }]) {
          const page = await engine.search(f, { limit: 1000, order });
          expect(page.results.map((r) => r.index), `${JSON.stringify(f)} ${order}`).toEqual(bruteForce(log2, page.treeSize, f, order));
        }
      }
      // New blocks write groups after the old records.
      if (round === 0) for (let b = 0; b < 3; b++) await log2.appendBlock(30);
    }
  });

  it('a store written without indexes is refused by queries until reindexed, then answers like brute force', async () => {
    const dir = await dirs.make();
    const log = await build(dir, { searchIndexes: false });
    await log.store.close();
    const store = await openStore(dir);
    open.push(store);
    expect(await verifyIndexes(store)).toMatchObject({ ok: false, code: 'INDEX_INCOMPLETE', index: 0 });
    const engine = await SearchEngine.open(store);
    await expect(engine.search({ actor: 'alice' })).rejects.toMatchObject({ code: 'INDEX_INCOMPLETE' });
    // New blocks while incomplete do not make the indexes look complete.
    const log2 = Object.assign(Object.create(Object.getPrototypeOf(log)), log, { store }) as SearchLog;
    await log2.appendBlock(5);
    expect(store.searchAccess().indexedSize()).toBe(0);
    await reindex(store);
    expect(await verifyIndexes(store)).toMatchObject({ ok: true });
    const page = await engine.search({ actor: 'alice' }, { limit: 1000, order: 'oldest' });
    expect(page.results.map((r) => r.index)).toEqual(bruteForce(log2, page.treeSize, { actor: 'alice' }, 'oldest'));
  });

  it('verifyIndexes and `cairn verify store` name a deleted, an added and an altered index record', async () => {
    const dir = await dirs.make();
    const log = await build(dir);
    await log.store.close();
    const ok = await cli(['verify', 'store', '--store', dir]);
    expect(ok.code, ok.stderr).toBe(0);
    const aliceAt = log.entries.findIndex((e) => e.actor.id === 'alice');
    const bobAt = log.entries.findIndex((e) => e.actor.id === 'bob');
    const alice = postingBase(K_ACTOR, 'alice')!;
    const aliceGroup = await groupOf(dir, alice, aliceAt);
    // The first alice entry shares its block's group with later ones (the overlap case needs that).
    expect(indexOfPostingKey(aliceGroup.key)).toBeGreaterThan(aliceAt);
    type Db = Parameters<Parameters<typeof withRawDb>[1]>[0];
    const cases: { name: string; corrupt: (db: Db) => Promise<void>; code: string; index: number | null; undo: (db: Db) => Promise<void> }[] = [
      { name: 'deleted', corrupt: (db) => db.del(aliceGroup.key), code: 'INDEX_MISSING', index: aliceAt, undo: (db) => db.put(aliceGroup.key, aliceGroup.value) },
      {
        name: 'added',
        corrupt: (db) => db.put(postingKey(alice, bobAt), new Uint8Array(0)),
        code: 'INDEX_EXTRA',
        index: bobAt,
        undo: (db) => db.del(postingKey(alice, bobAt)),
      },
      {
        // aliceAt listed twice: in its block's group and in a group of its own before it.
        name: 'overlapping',
        corrupt: (db) => db.put(postingKey(alice, aliceAt), new Uint8Array(0)),
        code: 'INDEX_EXTRA',
        index: aliceAt,
        undo: (db) => db.del(postingKey(alice, aliceAt)),
      },
      {
        // A gap of 0 is never written: the value is not a posting group.
        name: 'malformed group',
        corrupt: (db) => db.put(aliceGroup.key, Uint8Array.of(0)),
        code: 'INDEX_EXTRA',
        index: indexOfPostingKey(aliceGroup.key),
        undo: (db) => db.put(aliceGroup.key, aliceGroup.value),
      },
      { name: 'beyond the tree', corrupt: (db) => db.put(postingKey(postingBase(K_ACTOR, 'x')!, 10 ** 6), new Uint8Array(0)), code: 'INDEX_EXTRA', index: 10 ** 6, undo: (db) => db.del(postingKey(postingBase(K_ACTOR, 'x')!, 10 ** 6)) },
    ];
    let savedTime: Uint8Array | undefined;
    cases.push({
      name: 'altered time summary',
      corrupt: async (db) => {
        savedTime = (await db.get(timeKey(0)))!;
        savedTime = Uint8Array.from(savedTime);
        const bad = Uint8Array.from(savedTime);
        bad[15] = bad[15]! ^ 1;
        await db.put(timeKey(0), bad);
      },
      code: 'TIME_SUMMARY_MISMATCH',
      index: 0,
      undo: (db) => db.put(timeKey(0), savedTime!),
    });
    for (const c of cases) {
      await withRawDb(dir, c.corrupt);
      const store = await openStore(dir);
      const r = await verifyIndexes(store);
      await store.close();
      expect(r, c.name).toMatchObject({ ok: false, code: c.code, index: c.index });
      const out = await cli(['verify', 'store', '--store', dir]);
      expect(out.code, c.name).toBe(1);
      expect(out.stderr).toContain(`[${c.code}]`);
      await withRawDb(dir, c.undo);
    }
    const restored = await cli(['verify', 'store', '--store', dir]);
    expect(restored.code, restored.stderr).toBe(0);
    // `cairn reindex` repairs a corrupted index.
    await withRawDb(dir, cases[0]!.corrupt);
    const re = await cli(['reindex', '--store', dir]);
    expect(re.code, re.stderr).toBe(0);
    expect(re.stdout).toContain(`leaves   ${log.entries.length}`);
    expect((await cli(['verify', 'store', '--store', dir])).code).toBe(0);
  });
});

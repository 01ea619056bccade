// The search indexes are derived data: after `reindex` they agree with the log record for record
// (also for a store written without indexes); `verifyIndexes` and `cairn verify store` name a
// missing, extra or altered index record; queries refuse to answer until the indexes cover the
// pinned tree.
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../node/storage/index.js';
import { reindex, verifyIndexes } from '../../node/search/maintain.js';
import { SearchEngine } from '../../node/search/query.js';
import { K_ACTOR, P_SEARCH, SEARCH_LT, postingBase, postingKey, timeKey } from '../../node/search/keys.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs, withRawDb } from './support/storage-fixture.js';
import { SearchLog, bruteForce } from './support/search-fixture.js';
import { cli } from './support/cli.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close().catch(() => undefined)));
  await dirs.removeAll();
});

async function allSearchRecords(dir: string): Promise<string[]> {
  const out: string[] = [];
  await withRawDb(dir, async (db) => {
    for await (const [k, v] of db.iterator({ gte: Uint8Array.of(P_SEARCH), lt: SEARCH_LT })) out.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
  });
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
  it('reindex rebuilds exactly the records applyBlock wrote; verifyIndexes agrees', async () => {
    const dir = await dirs.make();
    const log = await build(dir);
    expect(await verifyIndexes(log.store)).toMatchObject({ ok: true, treeSize: log.entries.length });
    await log.store.close();
    const written = await allSearchRecords(dir);
    const store = await openStore(dir);
    open.push(store);
    expect(await reindex(store)).toEqual({ indexed: log.entries.length });
    expect(await verifyIndexes(store)).toMatchObject({ ok: true });
    await store.close();
    expect(await allSearchRecords(dir)).toEqual(written);
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
    const aliceKey = postingKey(postingBase(K_ACTOR, 'alice')!, aliceAt);
    const cases: { name: string; corrupt: (db: Parameters<Parameters<typeof withRawDb>[1]>[0]) => Promise<void>; code: string; index: number | null; undo: (db: Parameters<Parameters<typeof withRawDb>[1]>[0]) => Promise<void> }[] = [
      { name: 'deleted', corrupt: (db) => db.del(aliceKey), code: 'INDEX_MISSING', index: aliceAt, undo: (db) => db.put(aliceKey, new Uint8Array(0)) },
      {
        name: 'added',
        corrupt: (db) => db.put(postingKey(postingBase(K_ACTOR, 'alice')!, bobAt), new Uint8Array(0)),
        code: 'INDEX_EXTRA',
        index: bobAt,
        undo: (db) => db.del(postingKey(postingBase(K_ACTOR, 'alice')!, bobAt)),
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

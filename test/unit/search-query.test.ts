// The search engine over a real LevelDB store filled through applyBlock: every query (random
// filters, both orders, random page sizes and work budgets) returns exactly the brute-force filter
// of the entries below the pinned size, in the same order, across pages, while blocks keep being
// appended between pages. Cursors are tamper-proof and bound to their query.
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../node/storage/index.js';
import { SearchEngine, filterFromParams, type SearchPage, type SearchScope } from '../../node/search/query.js';
import { SearchError } from '../../node/search/errors.js';
import type { SearchFilter } from '../../src/search/fields.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs } from './support/storage-fixture.js';
import { CLIENTS, SearchLog, bruteForce, randomFilter } from './support/search-fixture.js';
import { signEntry } from '../../src/entry/sign.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

async function freshLog(seed: string, blocks: number): Promise<SearchLog> {
  const store = await openStore(await dirs.make());
  open.push(store);
  const rng = new SeededRandom(seed);
  const log = new SearchLog(store, rng);
  for (let b = 0; b < blocks; b++) await log.appendBlock(1 + rng.int(40));
  return log;
}

/** Pages through a query to the end, appending a block after every page. */
async function pageAll(
  engine: SearchEngine,
  log: SearchLog,
  f: SearchFilter,
  order: 'oldest' | 'newest',
  limit: number,
  maxWork: number,
  scope?: SearchScope,
): Promise<{ indexes: number[]; pages: SearchPage[] }> {
  const pages: SearchPage[] = [];
  let cursor: string | undefined;
  for (let n = 0; n < 5000; n++) {
    const opts: Parameters<SearchEngine['search']>[1] = { order, limit, maxWork };
    if (cursor !== undefined) opts.cursor = cursor;
    if (scope !== undefined) opts.scope = scope;
    const page = await engine.search(f, opts);
    pages.push(page);
    // The log grows between pages (every third page, to keep the test quick).
    if (n % 3 === 0 && n < 15) await log.appendBlock(1 + log.rng.int(5));
    if (page.next === undefined) break;
    cursor = page.next;
  }
  expect(pages[pages.length - 1]!.stop).toBe('end');
  return { indexes: pages.flatMap((p) => p.results.map((r) => r.index)), pages };
}

describe('search query engine', () => {
  it('equals a brute-force filter over the pinned size, across pages, while the log grows (property)', async () => {
    const log = await freshLog('search-property', 30);
    const engine = await SearchEngine.open(log.store);
    const rng = new SeededRandom('queries');
    let budgetStops = 0;
    let scans = 0;
    for (let q = 0; q < 40; q++) {
      const f = randomFilter(rng);
      const order = rng.int(2) === 0 ? 'oldest' : 'newest';
      const limit = 1 + rng.int(q % 3 === 0 ? 200 : 40);
      const maxWork = q % 4 === 0 ? 20 + rng.int(60) : 10_000;
      const { indexes, pages } = await pageAll(engine, log, f, order, limit, maxWork);
      const size = pages[0]!.treeSize;
      for (const p of pages) expect(p.treeSize).toBe(size);
      if (JSON.stringify(indexes) !== JSON.stringify(bruteForce(log, size, f, order))) console.log(JSON.stringify({ f, order, limit, maxWork, pages: pages.map((p) => ({ stop: p.stop, c: p.covered, n: p.results.map((r) => r.index), plan: p.plan })) }));
      expect(indexes).toEqual(bruteForce(log, size, f, order));
      // Claimed ranges tile [0, size) with no gap and no overlap.
      const covered = pages.map((p) => p.covered).filter((c) => c.from < c.to);
      const sorted = [...covered].sort((a, b) => a.from - b.from);
      let at = 0;
      for (const c of sorted) {
        expect(c.from).toBe(at);
        at = c.to;
      }
      expect(at).toBe(size);
      for (const p of pages) for (const r of p.results) expect(r.index >= p.covered.from && r.index < p.covered.to).toBe(true);
      budgetStops += pages.filter((p) => p.stop === 'budget').length;
      if (pages[0]!.plan.scan) scans++;
    }
    // The random mix exercised budget-bounded pages and unindexed (scan) plans.
    expect(budgetStops).toBeGreaterThan(0);
    expect(scans).toBeGreaterThan(0);
  }, 120_000);

  it('applies a scope predicate to every candidate, with and without an index restriction', async () => {
    const log = await freshLog('search-scope', 20);
    const engine = await SearchEngine.open(log.store);
    const pred = (e: { tenant?: string }) => e.tenant === 'acme';
    for (const restrict of [undefined, { tenant: ['acme'] }]) {
      const scope = restrict === undefined ? { key: 'reader:acme', predicate: pred } : { key: 'reader:acme', predicate: pred, restrict };
      for (const f of [{}, { actor: 'alice' }, { actionPrefix: 'db.' }, { outcome: 'denied' }] as SearchFilter[]) {
        const { indexes, pages } = await pageAll(engine, log, f, 'newest', 7, 40, scope);
        expect(indexes).toEqual(bruteForce(log, pages[0]!.treeSize, f, 'newest', pred));
        for (const p of pages) for (const r of p.results) expect(JSON.parse(new TextDecoder().decode(r.entry)).tenant).toBe('acme');
        if (restrict !== undefined) expect(pages[0]!.plan.streams).toContain('scope:tenant');
      }
    }
  }, 60_000);

  it('with an index restriction the engine never even examines an entry outside the scope', async () => {
    const log = await freshLog('search-scope-examine', 20);
    const engine = await SearchEngine.open(log.store);
    for (const restrict of [{ tenant: ['acme'] }, undefined]) {
      const seen = new Set<string | undefined>();
      const pred = (e: { tenant?: string }) => {
        seen.add(e.tenant);
        return e.tenant === 'acme';
      };
      const scope = restrict === undefined ? { key: 'r', predicate: pred } : { key: 'r', predicate: pred, restrict };
      for (const f of [{}, { actor: 'bob' }, { outcome: 'failure' }, { fromMs: 0 }] as SearchFilter[]) {
        const { indexes, pages } = await pageAll(engine, log, f, 'oldest', 5, 30, scope);
        expect(indexes).toEqual(bruteForce(log, pages[0]!.treeSize, f, 'oldest', (e) => e.tenant === 'acme'));
      }
      // Restricted: only acme entries reach the predicate (so nothing about others shapes the pages).
      if (restrict !== undefined) expect([...seen]).toEqual(['acme']);
      else expect(seen.size).toBeGreaterThan(1);
    }
  }, 60_000);

  it('refuses a modified cursor, a cursor of another query or scope, and bad arguments, each with its code', async () => {
    const log = await freshLog('search-cursor', 10);
    const engine = await SearchEngine.open(log.store);
    const page = await engine.search({ actor: 'alice' }, { limit: 2 });
    expect(page.next).toBeDefined();
    const c = page.next!;
    const code = async (p: Promise<unknown>): Promise<string> => {
      try {
        await p;
        return 'resolved';
      } catch (e) {
        return e instanceof SearchError ? e.code : `other: ${(e as Error).message}`;
      }
    };
    // Flip one bit in the middle of the cursor (still valid base64url).
    const raw = Buffer.from(c, 'base64url');
    raw[30]! ^= 1;
    expect(await code(engine.search({ actor: 'alice' }, { cursor: raw.toString('base64url') }))).toBe('CURSOR_TAMPERED');
    expect(await code(engine.search({ actor: 'alice' }, { cursor: c.slice(0, -4) }))).toBe('CURSOR_MALFORMED');
    expect(await code(engine.search({ actor: 'alice' }, { cursor: 'not a cursor!' }))).toBe('CURSOR_MALFORMED');
    expect(await code(engine.search({ actor: 'bob' }, { cursor: c }))).toBe('CURSOR_MISMATCH');
    expect(await code(engine.search({ actor: 'alice' }, { cursor: c, scope: { key: 'other', predicate: () => true } }))).toBe('CURSOR_MISMATCH');
    expect(await code(engine.search({ actor: 'alice' }, { cursor: c, order: 'oldest' }))).toBe('CURSOR_MISMATCH');
    // A cursor from another peer (another secret) does not authenticate.
    const other = await openStore(await dirs.make());
    open.push(other);
    const log2 = new SearchLog(other, new SeededRandom('other'));
    await log2.appendBlock(5);
    expect(await code((await SearchEngine.open(other)).search({ actor: 'alice' }, { cursor: c }))).toBe('CURSOR_TAMPERED');
    expect(await code(engine.search({}, { limit: 1001 }))).toBe('BAD_ARGUMENT');
    expect(await code(engine.search({}, { limit: 0 }))).toBe('BAD_ARGUMENT');
    expect(await code(engine.search({ actionPrefix: '*' }))).toBe('BAD_ARGUMENT');
    expect(await code(engine.search({ fromMs: 10, toMs: 5 }))).toBe('BAD_ARGUMENT');
    // The untampered cursor still works.
    expect((await engine.search({ actor: 'alice' }, { cursor: c })).results.length).toBeGreaterThan(0);
  }, 60_000);

  it('bounds one intersection step: disjoint interleaved streams pause at the work budget instead of walking the log', async () => {
    const store = await openStore(await dirs.make());
    open.push(store);
    const log = new SearchLog(store, new SeededRandom('disjoint'));
    // Even entries: alice in acme; odd: bob in globex. actor=alice ∩ tenant=globex is empty while
    // both posting lists run along the whole log.
    for (let b = 0; b < 16; b++) {
      const entries = Array.from({ length: 400 }, (_, k) => {
        const alice = k % 2 === 0;
        const { client: _c, sig: _s, ...u } = log.randomEntry();
        return signEntry({ ...u, actor: { id: alice ? 'alice' : 'bob' }, tenant: alice ? 'acme' : 'globex' }, CLIENTS[0]!);
      });
      await log.appendEntries(entries);
    }
    const engine = await SearchEngine.open(store);
    const first = await engine.search({ actor: 'alice', tenant: 'globex' }, { maxWork: 4, order: 'oldest' });
    expect(first.results).toEqual([]);
    expect(first.stop).toBe('budget');
    expect(first.covered.to).toBeLessThan(first.treeSize);
    const { indexes, pages } = await pageAll(engine, log, { actor: 'alice', tenant: 'globex' }, 'oldest', 10, 4);
    expect(indexes).toEqual([]);
    expect(pages.length).toBeGreaterThan(2);
  });

  it('parses HTTP parameters: action with * is a prefix, times as RFC 3339 or ms', () => {
    expect(filterFromParams({ action: 'db.*', 'resource.type': 'db.table', from: '2026-01-01T00:00:00Z', to: '1767225600500' })).toEqual({
      actionPrefix: 'db.',
      resourceType: 'db.table',
      fromMs: Date.parse('2026-01-01T00:00:00Z'),
      toMs: 1767225600500,
    });
    expect(() => filterFromParams({ from: 'yesterday' })).toThrow(SearchError);
  });

  it('refuses to answer past the indexed size (store opened without indexes)', async () => {
    const store = await openStore(await dirs.make(), { searchIndexes: false });
    open.push(store);
    const log = new SearchLog(store, new SeededRandom('noindex'));
    await log.appendBlock(5);
    const engine = await SearchEngine.open(store);
    await expect(engine.search({ actor: 'alice' })).rejects.toMatchObject({ code: 'INDEX_INCOMPLETE' });
  });
});

// A sparse filter intersected with a dense one (actor=rare ∩ action=db.query): the dense posting
// list is checked per batch of candidates instead of being sought along, which used to cost one
// LevelDB range read per candidate of the sparse list. Results stay exactly the brute-force
// filter, in both orders, across pages and work budgets, and with a scope restriction (which is
// never checked that way: out-of-scope entries are still never examined).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../node/storage/index.js';
import { SearchEngine, type SearchScope } from '../../node/search/query.js';
import type { SearchAccess } from '../../node/search/db.js';
import type { SearchFilter } from '../../src/search/fields.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { signEntry } from '../../src/entry/sign.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs } from './support/storage-fixture.js';
import { CLIENTS, SearchLog, bruteForce } from './support/search-fixture.js';

const dirs = new TempDirs();
let log: SearchLog;
let n: { ranges: number; lookups: number };
beforeAll(async () => {
  log = await build();
  n = counting(log.store);
}, 120_000);
afterAll(async () => {
  await log?.store.close();
  await dirs.removeAll();
});

const ENTRIES = 6000;
const RARE_EVERY = 300;

/** 6,000 entries: two in every 300 by actor 'rare'; action db.query on every other entry; tenants alternate. */
async function build(): Promise<SearchLog> {
  const store = await openStore(await dirs.make());
  const log = new SearchLog(store, new SeededRandom('sparse-dense'));
  for (let b = 0; b < ENTRIES / 1000; b++) {
    const entries: AuditEntry[] = [];
    for (let k = 0; k < 1000; k++) {
      const i = b * 1000 + k;
      const { client: _c, sig: _s, ...u } = log.randomEntry();
      const rare = i % RARE_EVERY === 7 || i % RARE_EVERY === 8;
      entries.push(signEntry({ ...u, actor: { id: rare ? 'rare' : `user-${i % 97}` }, action: i % 2 === 0 ? 'db.query' : 'user.login', tenant: i % 3 === 0 ? 'acme' : 'globex' }, CLIENTS[i % CLIENTS.length]!));
    }
    await log.appendEntries(entries);
  }
  return log;
}

/** Counts the engine's LevelDB range reads of posting lists and its batched point lookups. */
function counting(store: Store): { ranges: number; lookups: number } {
  const n = { ranges: 0, lookups: 0 };
  const orig = store.searchAccess.bind(store);
  store.searchAccess = (): SearchAccess => {
    const a = orig();
    return {
      ...a,
      enabled: a.enabled,
      records: (r) => {
        n.ranges++;
        return a.records(r);
      },
      firstRecords: (r) => {
        n.lookups++;
        return a.firstRecords(r);
      },
    };
  };
  return n;
}

async function pageAll(engine: SearchEngine, f: SearchFilter, order: 'oldest' | 'newest', limit: number, maxWork: number, scope?: SearchScope): Promise<number[]> {
  const out: number[] = [];
  let cursor: string | undefined;
  for (let n = 0; n < 2000; n++) {
    const page = await engine.search(f, { order, limit, maxWork, ...(cursor !== undefined ? { cursor } : {}), ...(scope !== undefined ? { scope } : {}) });
    out.push(...page.results.map((r) => r.index));
    if (page.next === undefined) {
      expect(page.stop).toBe('end');
      return out;
    }
    cursor = page.next;
  }
  throw new Error('too many pages');
}

describe('sparse ∩ dense intersection', () => {
  it('one page costs a few LevelDB reads, not one per candidate of the sparse list', async () => {
    const engine = await SearchEngine.open(log.store);
    const f = { actor: 'rare', action: 'db.query' };
    for (const order of ['newest', 'oldest'] as const) {
      n.ranges = 0;
      n.lookups = 0;
      const page = await engine.search(f, { order, limit: 100 });
      expect(page.results.map((r) => r.index)).toEqual(bruteForce(log, ENTRIES, f, order));
      expect(page.results.length).toBe(ENTRIES / RARE_EVERY);
      expect(page.stop).toBe('end');
      // One read per filter stream to measure it (newest first: two range reads, the posting group
      // that may straddle the start and the groups before it), then one batched lookup of the
      // dense one. (Seeking the dense list took a range read per rare entry, about 40.)
      expect(n.ranges).toBeLessThanOrEqual(order === 'newest' ? 5 : 3);
      expect(n.lookups).toBeLessThanOrEqual(2);
    }
  }, 60_000);

  it('equals the brute-force filter in both orders, across pages and small work budgets, with and without a scope restriction', async () => {
    const engine = await SearchEngine.open(log.store);
    const acme = (e: { tenant?: string }) => e.tenant === 'acme';
    const filters: SearchFilter[] = [{ actor: 'rare', action: 'db.query' }, { actor: 'rare', action: 'user.login', tenant: 'globex' }, { action: 'db.query', actor: 'rare', fromMs: 0 }];
    for (const f of filters) {
      for (const order of ['newest', 'oldest'] as const) {
        for (const [limit, maxWork] of [
          [3, 10_000],
          [100, 10_000],
          [7, 5],
          [1, 2],
        ] as const) {
          expect(await pageAll(engine, f, order, limit, maxWork)).toEqual(bruteForce(log, ENTRIES, f, order));
          const scope: SearchScope = { key: 'acme', predicate: acme, restrict: { tenant: ['acme'] } };
          expect(await pageAll(engine, f, order, limit, maxWork, scope)).toEqual(bruteForce(log, ENTRIES, f, order, acme));
        }
      }
    }
  }, 120_000);
});

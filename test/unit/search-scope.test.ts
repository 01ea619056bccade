// From an access scope to the engine's scope: the index restriction read off scope expressions
// (only what the expression implies), and its effect — a scoped reader's query that matches only
// other tenants' entries ends at once exactly like a query that matches nothing, whatever the
// number of those entries and the work budget; without the restriction it would not.
import { afterEach, describe, expect, it } from 'vitest';
import { compileFilter } from '../../src/filter/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { openStore, type Store } from '../../node/storage/index.js';
import { SearchEngine, type SearchPage } from '../../node/search/query.js';
import { restrictionOfExpression, searchScopeOf } from '../../node/search/scope.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs } from './support/storage-fixture.js';
import { SearchLog, bruteForce, randomFilter } from './support/search-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

const matcher = (src: string): ((e: AuditEntry) => boolean) => {
  const f = compileFilter(src);
  if (!f.ok) throw new Error(f.error.message);
  return (e) => f.filter.matches(e);
};

describe('restriction of a scope expression', () => {
  it('takes only terms the whole expression implies', () => {
    const cases: [string, Record<string, string[]>][] = [
      ['entry.tenant == "acme"', { tenant: ['acme'] }],
      ['"acme" == entry.tenant', { tenant: ['acme'] }],
      ['(entry.tenant == "acme")', { tenant: ['acme'] }],
      ['entry.tenant == "acme" && entry.resource.type.startsWith("payments.")', { tenant: ['acme'] }],
      ['entry.tenant in ["acme", "initech"] && (entry.outcome == "success")', { tenant: ['acme', 'initech'], outcome: ['success'] }],
      ['entry.actor.id == "alice" && entry.client == "ab"', { actor: ['alice'], client: ['ab'] }],
      ['entry.tenant == "acme" && entry.tenant == "globex"', { tenant: [] }],
      ['entry.tenant == "acme" || entry.tenant == "globex"', {}],
      ['(entry.tenant == "acme") || true', {}],
      ['(entry.tenant == "acme") && (true) || false', {}],
      ['entry.tenant == "acme" ? true : false', {}],
      ['!(entry.tenant == "acme")', {}],
      ['entry.tenant != "acme"', {}],
      ['entry.tenant == "a\\"b"', {}],
      ["entry.tenant == 'acme'", {}],
      ['entry.data.tenant == "acme"', {}],
      ['(entry.tenant == "acme") && (entry.outcome == "denied"', {}],
      ['true', {}],
    ];
    for (const [src, want] of cases) expect(restrictionOfExpression(src), src).toEqual(want);
  });

  it('a field is restricted only when every reading role restricts it; the predicate enforces it', () => {
    const both = searchScopeOf('k', () => true, ['entry.tenant == "acme"', 'entry.tenant == "globex" && entry.outcome == "denied"']);
    expect(both.restrict).toEqual({ tenant: ['acme', 'globex'] });
    expect(searchScopeOf('k', () => true, ['entry.tenant == "acme"', 'entry.data.x == 1']).restrict).toBeUndefined();
    // Even a predicate that says yes to everything cannot widen past the restriction.
    const s = searchScopeOf('k', () => true, ['entry.tenant == "acme"']);
    expect(s.predicate({ tenant: 'globex' } as AuditEntry)).toBe(false);
    expect(s.predicate({ tenant: 'acme' } as AuditEntry)).toBe(true);
  });
});

describe('scoped search', () => {
  async function log(seed: string, blocks: number): Promise<SearchLog> {
    const store = await openStore(await dirs.make());
    open.push(store);
    const l = new SearchLog(store, new SeededRandom(seed));
    for (let b = 0; b < blocks; b++) await l.appendBlock(40);
    return l;
  }

  it('a query matching only other tenants ends at once like an empty one, at any budget', async () => {
    const l = await log('scope-empty', 25);
    const engine = await SearchEngine.open(l.store);
    const src = 'entry.tenant == "acme"';
    const scope = searchScopeOf('acme-reader', matcher(src), [src]);
    const strip = (p: SearchPage) => ({ ...p, filter: null });
    for (const maxWork of [20, 200, 10_000]) {
      for (const order of ['oldest', 'newest'] as const) {
        const globex = await engine.search({ tenant: 'globex' }, { scope, maxWork, order, limit: 5 });
        const none = await engine.search({ tenant: 'initech' }, { scope, maxWork, order, limit: 5 });
        expect(globex.results).toEqual([]);
        expect(globex.next).toBeUndefined();
        expect(strip(globex)).toEqual(strip(none));
      }
    }
    // Contrast: the same scope as a bare predicate walks the globex postings and, at a small
    // budget, stops with a cursor — a difference a reader could observe.
    const bare = await engine.search({ tenant: 'globex' }, { scope: { key: 'acme-reader', predicate: matcher(src) }, maxWork: 20, limit: 5 });
    expect(bare.stop).toBe('budget');
    expect(bare.next).toBeDefined();
  }, 60_000);

  it('scoped pages equal the brute-force filter within the scope (random filters, small budgets)', async () => {
    const l = await log('scope-property', 10);
    const engine = await SearchEngine.open(l.store);
    const src = 'entry.tenant == "acme" && entry.outcome != "unknown"';
    const pred = matcher(src);
    const scope = searchScopeOf('r', pred, [src]);
    const rng = new SeededRandom('scope-filters');
    for (let q = 0; q < 25; q++) {
      const f = randomFilter(rng);
      const order = rng.int(2) === 0 ? 'oldest' : 'newest';
      const got: number[] = [];
      let cursor: string | undefined;
      let size = 0;
      for (let n = 0; n < 2000; n++) {
        const p = await engine.search(f, { scope, order, limit: 1 + rng.int(7), maxWork: 10 + rng.int(100), ...(cursor !== undefined ? { cursor } : {}) });
        size = p.treeSize;
        got.push(...p.results.map((r) => r.index));
        if (p.next === undefined) break;
        cursor = p.next;
      }
      expect(got, JSON.stringify(f)).toEqual(bruteForce(l, size, f, order, pred));
    }
  }, 120_000);
});

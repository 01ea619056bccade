// Posting groups (node/search/keys.ts): one record per index value per write. The group codec
// round-trips any ascending set and refuses what the writer never produces; a value with more
// leaves in one write than a group holds is split into disjoint groups; queries walking groups
// (both orders, straddling group boundaries, small pages and work budgets) give exactly the
// brute-force answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP_LEAVES_MAX, K_ACTION, decodeGroup, encodeGroup, groupSize, indexOfPostingKey, postingBase } from '../../node/search/keys.js';
import { postingOpsOf } from '../../node/search/index-writer.js';
import type { BatchOp } from '../../node/storage/durable.js';
import { openStore } from '../../node/storage/index.js';
import { SearchEngine } from '../../node/search/query.js';
import { signEntry } from '../../src/entry/sign.js';
import type { AuditEntry } from '../../src/entry/types.js';
import type { SearchFilter } from '../../src/search/fields.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs } from './support/storage-fixture.js';
import { CLIENTS, SearchLog, bruteForce } from './support/search-fixture.js';

describe('posting group codec', () => {
  it('round-trips ascending sets (descending out), one leaf as an empty value', () => {
    const rng = new SeededRandom('groups');
    for (let n = 0; n < 300; n++) {
      const size = 1 + rng.int(n < 200 ? 50 : GROUP_LEAVES_MAX);
      const set = new Set<number>();
      let at = rng.int(n % 3 === 0 ? 2 ** 40 : 1000);
      while (set.size < size) set.add((at += 1 + rng.int(n % 2 === 0 ? 3 : 100_000)));
      const idx = [...set];
      const v = encodeGroup(idx);
      expect(groupSize(v)).toBe(idx.length);
      expect(decodeGroup(idx[idx.length - 1]!, v)).toEqual(idx.slice().reverse());
    }
    expect(encodeGroup([7])).toEqual(new Uint8Array(0));
    expect(decodeGroup(7, new Uint8Array(0))).toEqual([7]);
    // Consecutive leaves: one byte each.
    expect(encodeGroup([10, 11, 12, 13])).toEqual(Uint8Array.of(1, 1, 1));
  });

  it('refuses values the writer never produces', () => {
    expect(decodeGroup(5, Uint8Array.of(0))).toBeNull(); // a gap of 0: a leaf twice
    expect(decodeGroup(5, Uint8Array.of(6))).toBeNull(); // below leaf 0
    expect(decodeGroup(5, Uint8Array.of(0x81))).toBeNull(); // varint cut short
    expect(decodeGroup(2 ** 52, new Uint8Array(9).fill(0x81))).toBeNull(); // varint longer than 8 bytes
    expect(decodeGroup(10 ** 6, new Uint8Array(GROUP_LEAVES_MAX - 1).fill(1))).toHaveLength(GROUP_LEAVES_MAX);
    expect(decodeGroup(10 ** 6, new Uint8Array(GROUP_LEAVES_MAX).fill(1))).toBeNull(); // too many leaves
  });

  it('a value with more leaves in one write than a group holds is split into disjoint groups', () => {
    const n = 3 * GROUP_LEAVES_MAX;
    const fields = Array.from({ length: n }, (_, i) => (i % 5 === 4 ? null : { action: 'db.query', outcome: i % 2 === 0 ? 'success' : 'failure' }));
    const ops: BatchOp[] = [];
    postingOpsOf(1000, fields as never, ops);
    const base = Buffer.from(postingBase(K_ACTION, 'db.query')!).toString('hex');
    const groups = ops
      .filter((o) => o.type === 'put' && Buffer.from(o.key.subarray(0, o.key.length - 8)).toString('hex') === base)
      .map((o) => decodeGroup(indexOfPostingKey(o.key), (o as { value: Uint8Array }).value)!.reverse());
    const listed = fields.flatMap((f, i) => (f === null ? [] : [1000 + i]));
    expect(listed).toHaveLength(9831);
    expect(groups.map((g) => g.length)).toEqual([GROUP_LEAVES_MAX, GROUP_LEAVES_MAX, 9831 - 2 * GROUP_LEAVES_MAX]);
    expect(groups.flat()).toEqual(listed);
    // 'db.query' and 'db' (its prefix) 3 groups each; 'success' and 'failure' (~4,915 each) 2 each:
    // 10 records for 9,831 entries.
    expect(ops).toHaveLength(10);
  });
});

describe('queries over posting groups', () => {
  const dirs = new TempDirs();
  let log: SearchLog;
  beforeAll(async () => {
    log = new SearchLog(await openStore(await dirs.make()), new SeededRandom('groups-query'));
    const rng = log.rng;
    // Blocks of 1 to 5,000 entries: single-leaf groups, ordinary ones and split ones; 'db.query'
    // in runs, so groups end and start at varied places relative to pages.
    for (const count of [1, 3, 5000, 1, 700, 2, 4500, 30]) {
      const entries: AuditEntry[] = [];
      for (let k = 0; k < count; k++) {
        const { client: _c, sig: _s, ...u } = log.randomEntry();
        const run = Math.floor((log.entries.length + k) / 37) % 3 !== 0;
        entries.push(signEntry({ ...u, action: run ? 'db.query' : 'user.login', actor: { id: rng.int(40) === 0 ? 'rare' : 'alice' } }, CLIENTS[k % CLIENTS.length]!));
      }
      await log.appendEntries(entries);
    }
  }, 120_000);
  afterAll(async () => {
    await log?.store.close();
    await dirs.removeAll();
  });

  it('equal the brute-force answer in both orders, across pages and work budgets', async () => {
    const engine = await SearchEngine.open(log.store);
    const size = log.entries.length;
    const filters: SearchFilter[] = [{ action: 'db.query' }, { actor: 'rare' }, { actor: 'rare', action: 'db.query' }, { action: 'user.login', actor: 'alice' }];
    for (const f of filters) {
      for (const order of ['oldest', 'newest'] as const) {
        for (const [limit, maxWork] of [
          [1000, 100_000],
          [37, 100_000],
          [5, 3],
        ] as const) {
          const out: number[] = [];
          let cursor: string | undefined;
          for (let p = 0; p < 5000; p++) {
            const page = await engine.search(f, { order, limit, maxWork, ...(cursor !== undefined ? { cursor } : {}) });
            out.push(...page.results.map((r) => r.index));
            if (page.next === undefined) break;
            cursor = page.next;
            if (out.length > 1200) break;
          }
          const want = bruteForce(log, size, f, order);
          expect(out, `${JSON.stringify(f)} ${order} ${limit}/${maxWork}`).toEqual(want.slice(0, out.length));
          expect(out.length).toBeGreaterThanOrEqual(Math.min(want.length, 1200));
        }
      }
    }
  }, 120_000);
});

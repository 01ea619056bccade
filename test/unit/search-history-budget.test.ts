// The peer's byte budget for a history step's change summary (node/search/history.ts): a diff's
// paths repeat every ancestor key for each changed leaf under them, so a small entry (12 levels
// of 128-character keys above a 1,000-element array) would list ~1.5 MB of changes. The peer cuts
// the list at HISTORY_STEP_BYTES_MAX bytes and marks the step `truncatedBy: "bytes"`, so a page
// stays within the SDK's history-page cap (src/client/response-caps.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { signEntry } from '../../src/entry/sign.js';
import { diffJson } from '../../src/search/diff.js';
import { HISTORY_STEP_BYTES_MAX } from '../../src/search/history-budget.js';
import { encodePage } from '../../src/search/wire.js';
import { searchPageMaxBytes } from '../../src/client/response-caps.js';
import { openStore, type Store } from '../../node/storage/index.js';
import { SearchEngine } from '../../node/search/query.js';
import { resourceHistory } from '../../node/search/history.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs } from './support/storage-fixture.js';
import { CLIENTS, SearchLog, T0 } from './support/search-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

/** 12 nested objects with 128-character keys around `leaf`. */
function deep(leaf: unknown): Record<string, unknown> {
  let v = leaf;
  for (let level = 11; level >= 0; level--) v = { [`${'k'.repeat(125)}${String(level).padStart(3, '0')}`]: v };
  return v as Record<string, unknown>;
}

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

describe('resource history: change summaries within a byte budget', () => {
  it('a step whose paths would dwarf the entry is cut at HISTORY_STEP_BYTES_MAX and marked; a small one is whole and unmarked', async () => {
    const store = await openStore(await dirs.make());
    open.push(store);
    const log = new SearchLog(store, new SeededRandom('history-budget'));
    const before = deep(new Array(1000).fill(0));
    const after = deep(new Array(1000).fill(1));
    const mk = (i: number, data: Record<string, unknown>) =>
      signEntry(
        { v: 1, id: `b${i}`, time: new Date(T0 + i).toISOString(), actor: { id: 'alice' }, action: 'config.set', resource: { type: 'config', id: 'deep' }, outcome: 'success', data: data as never },
        CLIENTS[1]!,
      );
    const big = mk(0, { before, after });
    await log.appendEntries([big, mk(1, { before: { limit: 1 }, after: { limit: 2 } })]);
    const engine = await SearchEngine.open(store);
    const page = await resourceHistory(engine, 'config', 'deep', { limit: 2 });
    expect(page.results.length).toBe(2);

    const full = diffJson(before as never, after as never);
    expect(full.changes.length).toBe(1000);
    expect(bytes(full.changes)).toBeGreaterThan(10 * HISTORY_STEP_BYTES_MAX); // what the old page carried
    const [cut, small] = page.steps;
    expect(bytes(cut)).toBeLessThanOrEqual(HISTORY_STEP_BYTES_MAX);
    expect(cut).toMatchObject({ truncated: true, truncatedBy: 'bytes', continuous: null });
    // The longest prefix of the changes that fits, in diff order.
    const n = cut!.changes!.length;
    expect(n).toBeGreaterThan(0);
    expect(cut!.changes).toEqual(full.changes.slice(0, n));
    expect(bytes({ ...cut, changes: full.changes.slice(0, n + 1) })).toBeGreaterThan(HISTORY_STEP_BYTES_MAX);
    expect(small).toEqual({ changes: [{ path: '/limit', op: 'replace', old: 1, new: 2 }], truncated: false, continuous: false });
    // The page as the peer sends it fits the SDK's cap for a history page of that limit.
    expect(bytes(encodePage(page, (b) => Buffer.from(b).toString('base64')))).toBeLessThanOrEqual(searchPageMaxBytes(2, true));
  });
});

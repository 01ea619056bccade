// A page of up to 1,000 results is found in several candidate batches, and the engine proves each
// batch's results while it looks for the next (one page prover, shared right-edge folds and
// partial tiles). Whatever the batch boundaries and the candidates a scope rejects in between,
// every result must carry the inclusion proof of its own index at the pinned size, byte for byte
// src/merkle inclusionProof's, and its own leaf.
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../node/storage/index.js';
import { SearchEngine, type SearchPage, type SearchScope } from '../../node/search/query.js';
import { resourceHistory } from '../../node/search/history.js';
import { inclusionProof, rootFromInclusionProof, treeHash } from '../../src/merkle/proof.js';
import { leafHash } from '../../src/merkle/index.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs } from './support/storage-fixture.js';
import { SearchLog, bruteForce } from './support/search-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

/** Every result is the leaf at its index with a proof that is exactly inclusionProof's. */
async function expectProven(log: SearchLog, page: SearchPage): Promise<void> {
  const root = await treeHash(log.store, page.treeSize);
  for (const [k, r] of page.results.entries()) {
    expect(r.entry, `result ${k}`).toEqual(log.leaves[r.index]);
    expect(rootFromInclusionProof(leafHash(r.entry), r.index, page.treeSize, r.proof), `result ${k} (index ${r.index})`).toEqual({ ok: true, root });
    // Byte equality on a sample (inclusionProof reads tiles per call).
    if (k % 37 === 0 || k === page.results.length - 1) expect(r.proof).toEqual(await inclusionProof(log.store, r.index, page.treeSize));
  }
}

describe('page proofs across candidate batches', () => {
  it('every result of a 1,000-result page carries its own proof, with a scope rejecting candidates in between', async () => {
    const store = await openStore(await dirs.make());
    open.push(store);
    const rng = new SeededRandom('page-proofs-batches');
    const log = new SearchLog(store, rng);
    // 1,400 entries in blocks of uneven size: the pinned size is not a multiple of a tile.
    while (log.entries.length < 1_400) await log.appendBlock(1 + rng.int(150));
    const engine = await SearchEngine.open(store);
    // An unrestricted scope (a predicate only): the engine examines every candidate and rejects
    // bob's, so the 256-candidate batches hold rejected entries between accepted ones.
    const scope: SearchScope = { key: 'not-bob', predicate: (e) => e.actor.id !== 'bob' };
    const size = log.entries.length;
    for (const order of ['oldest', 'newest'] as const) {
      const first = await engine.search({}, { order, limit: 1000, scope });
      const want = bruteForce(log, size, {}, order, (e) => e.actor.id !== 'bob');
      expect(first.results.map((r) => r.index)).toEqual(want.slice(0, 1000));
      await expectProven(log, first);
      // The rest through the cursor: same prover rules on a page that starts mid-log.
      const rest = await engine.search({}, { cursor: first.next!, limit: 1000, scope });
      expect(rest.results.map((r) => r.index)).toEqual(want.slice(1000));
      await expectProven(log, rest);
    }
  }, 120_000);

  it('a page spanning two batches and a small history page prove every result', async () => {
    const store = await openStore(await dirs.make());
    open.push(store);
    const rng = new SeededRandom('page-proofs-history');
    const log = new SearchLog(store, rng);
    while (log.entries.length < 700) await log.appendBlock(1 + rng.int(120));
    const engine = await SearchEngine.open(store);
    // One resource has only ~50 versions here: an action prefix (4 of 7 actions, ~400 entries)
    // spans two batches of 256 candidates.
    const size = log.entries.length;
    const db = await engine.search({ actionPrefix: 'db.' }, { order: 'oldest', limit: 1000 });
    const want = bruteForce(log, size, { actionPrefix: 'db.' }, 'oldest');
    expect(want.length).toBeGreaterThan(256);
    expect(db.results.map((r) => r.index)).toEqual(want);
    await expectProven(log, db);
    const hist = await resourceHistory(engine, 'db.table', 'payments', { limit: 7 });
    expect(hist.results.map((r) => r.index)).toEqual(bruteForce(log, size, { resourceType: 'db.table', resourceId: 'payments' }, 'oldest').slice(0, 7));
    expect(hist.steps.length).toBe(hist.results.length);
    await expectProven(log, hist);
  }, 120_000);
});

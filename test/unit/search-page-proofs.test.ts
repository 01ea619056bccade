// A page of up to 1,000 results is found in several candidate batches, and the engine proves each
// batch's results while it looks for the next (one page prover, shared right-edge folds and
// partial tiles). Whatever the batch boundaries and the candidates a scope rejects in between,
// every result must carry the inclusion proof of its own index at the pinned size, byte for byte
// src/merkle inclusionProof's, and its own leaf. Warming the proof cache (every full tile, newest
// first, within the cache's bound) leaves later pages with no tile to read and proofs unchanged.
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../node/storage/index.js';
import { SearchEngine, type SearchPage, type SearchScope } from '../../node/search/query.js';
import { resourceHistory } from '../../node/search/history.js';
import { inclusionProof, rootFromInclusionProof, treeHash } from '../../src/merkle/proof.js';
import { leafHash } from '../../src/merkle/index.js';
import { configureProofCache, pageProofs, warmProofCache } from '../../node/search/proofs.js';
import { ENTRY_BYTES } from '../../node/search/tile-cache.js';
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

  it('warmProofCache fills the cache newest tile first, within its bound; pages then read no tile and stay exact', async () => {
    const store = await openStore(await dirs.make(), { searchIndexes: false });
    open.push(store);
    const log = new SearchLog(store, new SeededRandom('page-proofs-warm'));
    while (log.entries.length < 3_000) await log.appendBlock(200);
    const size = log.entries.length; // 11 full level-0 tiles and a partial one
    // Room for 5 tiles: the 5 newest full ones are warmed, nothing else.
    const small = configureProofCache(store, { maxBytes: 5 * ENTRY_BYTES + 10 });
    expect(await warmProofCache(store, size, small)).toBeGreaterThanOrEqual(5);
    expect([6, 7, 8, 9, 10].every((t) => small.has(0, t))).toBe(true);
    expect(small.stats().entries).toBe(5);
    const big = configureProofCache(store, {});
    expect(await warmProofCache(store, size, big)).toBe(11);
    for (let t = 0; t < 11; t++) expect(big.has(0, t)).toBe(true);
    expect(big.has(0, 11)).toBe(false); // partial: never cached
    expect(await warmProofCache(store, size, big)).toBe(0); // nothing left to read
    const misses = big.stats().misses;
    const idx = [0, 255, 256, 1_500, 2_815, 2_816, size - 1];
    const got = await pageProofs(store, idx, size);
    expect(big.stats().misses).toBe(misses);
    for (const [k, i] of idx.entries()) expect(got[k]).toEqual(await inclusionProof(store, i, size));
  }, 60_000);
});

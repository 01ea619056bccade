// The cross-request cache of full-tile node hashes behind page proofs: after many pages the proofs
// still equal src/merkle inclusionProof, the cache stays within its byte and count bounds, and a
// partial right-edge tile is never cached — when the tree grows and that tile becomes full, proofs
// through it (at the new size and the old one) are still exactly inclusionProof's.
import { afterEach, describe, expect, it } from 'vitest';
import { inclusionProof } from '../../src/merkle/proof.js';
import { nodeHash } from '../../src/merkle/index.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { openStore, type Store } from '../../node/storage/index.js';
import { configureProofCache, pageProofs, proofCacheStats } from '../../node/search/proofs.js';
import { ENTRY_BYTES, TileNodeCache } from '../../node/search/tile-cache.js';
import { fastNodeHash } from '../../node/search/node-hash.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs, appendBlock } from './support/storage-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

async function storeWith(n: number): Promise<Store> {
  const store = await openStore(await dirs.make(), { searchIndexes: false });
  open.push(store);
  await grow(store, 0, n);
  return store;
}

async function grow(store: Store, from: number, to: number): Promise<void> {
  for (let at = from; at < to; at += 10_000) {
    await appendBlock(store, Array.from({ length: Math.min(10_000, to - at) }, (_, i) => utf8(`leaf ${at + i}`)));
  }
}

async function expectExact(store: Store, idx: number[], size: number, got: Uint8Array[][]): Promise<void> {
  expect(got.length).toBe(idx.length);
  for (let k = 0; k < idx.length; k++) expect(got[k], `size ${size} index ${idx[k]}`).toEqual(await inclusionProof(store, idx[k]!, size));
}

describe('page proof cache', () => {
  it('native node hash equals the portable one', () => {
    const rng = new SeededRandom('node-hash');
    for (let i = 0; i < 200; i++) {
      const l = Uint8Array.from({ length: 32 }, () => rng.int(256));
      const r = Uint8Array.from({ length: 32 }, () => rng.int(256));
      expect(fastNodeHash(l, r)).toEqual(nodeHash(l, r));
    }
    expect(() => fastNodeHash(new Uint8Array(31), new Uint8Array(32))).toThrow(RangeError);
  });

  it('after many pages proofs still equal inclusionProof and the cache stays within its bounds', async () => {
    const total = 20_000;
    const store = await storeWith(total);
    const rng = new SeededRandom('proof-cache-pages');
    // Room for 12 tiles by bytes (count bound larger): far fewer than the 79 full tiles in use.
    const small = configureProofCache(store, { maxBytes: 12 * ENTRY_BYTES + 100, maxEntries: 1000 });
    // A second cache bound by count only, checked the same way.
    const byCount = new TileNodeCache({ maxBytes: 1 << 30, maxEntries: 5 });
    for (let page = 0; page < 40; page++) {
      const size = page % 4 === 0 ? total : total - rng.int(5000);
      const idx = Array.from({ length: 25 }, () => rng.int(size));
      const got = await pageProofs(store, idx, size);
      // Checked in full on every fourth page (inclusionProof is slow); the rest on a sample.
      await expectExact(store, page % 4 === 0 ? idx : idx.slice(0, 3), size, page % 4 === 0 ? got : got.slice(0, 3));
      const s = small.stats();
      expect(s.bytes).toBeLessThanOrEqual(s.maxBytes);
      expect(s.entries).toBeLessThanOrEqual(12);
      const g2 = await pageProofs(store, idx, size, byCount);
      expect(g2).toEqual(got);
      expect(byCount.stats().entries).toBeLessThanOrEqual(5);
    }
    const s = proofCacheStats(store);
    expect(s.entries).toBe(12);
    expect(s.evictions).toBeGreaterThan(0);
    expect(s.misses).toBeGreaterThan(0);
    // The upper tiles (level 1, shared by every proof) stay hot and hit.
    expect(s.hits).toBeGreaterThan(0);

    // A big cache: repeating pages hits without reading or hashing, with the same proofs.
    const big = configureProofCache(store, {});
    const idx = Array.from({ length: 60 }, () => rng.int(total));
    const first = await pageProofs(store, idx, total);
    const missesAfterFirst = big.stats().misses;
    const again = await pageProofs(store, idx, total);
    expect(again).toEqual(first);
    expect(big.stats().misses).toBe(missesAfterFirst);
    expect(big.stats().hits).toBeGreaterThanOrEqual(missesAfterFirst);
    await expectExact(store, idx, total, again);
    // Callers own the proof arrays: mutating one does not change the cache.
    again[0]![0]![0]! ^= 0xff;
    expect(await pageProofs(store, idx.slice(0, 1), total)).toEqual(first.slice(0, 1));
  }, 120_000);

  it('never caches a partial tile; once the tree grows it full, proofs through it stay exact', async () => {
    // 1,000 leaves: level-0 tile 3 is partial (232 of 256), level-1 tile 0 is partial (3 of 256).
    const store = await storeWith(1000);
    const cache = configureProofCache(store, {});
    const early = [768, 800, 999, 0, 500];
    await expectExact(store, early, 1000, await pageProofs(store, early, 1000));
    expect(cache.has(0, 3)).toBe(false);
    expect(cache.has(1, 0)).toBe(false);
    expect(cache.has(0, 0)).toBe(true);
    expect(cache.stats().partial).toBeGreaterThan(0);

    // Grow to 1,100: tile 3 is now full (leaves 768..1023), tile 4 partial.
    await grow(store, 1000, 1100);
    const later = [768, 800, 999, 1000, 1023, 1024, 1099];
    await expectExact(store, later, 1100, await pageProofs(store, later, 1100));
    expect(cache.has(0, 3)).toBe(true);
    expect(cache.has(0, 4)).toBe(false);
    // The old size still proves correctly: there tile 3 is partial again and not served from cache.
    await expectExact(store, early, 1000, await pageProofs(store, early, 1000));

    // Level-1 tile 0 becomes full at 65,536 leaves: partial before, cached after, exact both sides.
    await grow(store, 1100, 65_000);
    const mid = [0, 30_000, 64_999, 64_000];
    await expectExact(store, mid, 65_000, await pageProofs(store, mid, 65_000));
    expect(cache.has(1, 0)).toBe(false);
    await grow(store, 65_000, 66_000);
    const top = [0, 30_000, 64_999, 65_535, 65_536, 65_999];
    await expectExact(store, top, 66_000, await pageProofs(store, top, 66_000));
    expect(cache.has(1, 0)).toBe(true);
    await expectExact(store, mid, 65_000, await pageProofs(store, mid, 65_000));
    const s = cache.stats();
    expect(s.bytes).toBeLessThanOrEqual(s.maxBytes);
  }, 120_000);

  it('maxBytes 0 turns the cache off and proofs are still exact', async () => {
    const store = await storeWith(3000);
    const off = configureProofCache(store, { maxBytes: 0 });
    const idx = [0, 1, 255, 256, 2047, 2999];
    await expectExact(store, idx, 3000, await pageProofs(store, idx, 3000));
    expect(off.stats().entries).toBe(0);
    expect(off.stats().misses).toBeGreaterThan(0);
  }, 60_000);
});

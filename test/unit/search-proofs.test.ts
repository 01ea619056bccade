// Page proofs (memoized node hashes, tiles read once per page) equal src/merkle inclusionProof for
// every result, at past and current tree sizes, for contiguous and scattered results, across tile
// bands (sizes beyond 65,536 leaves reach the third tile level) and partial right-edge tiles.
import { afterEach, describe, expect, it } from 'vitest';
import { inclusionProof, rootFromInclusionProof } from '../../src/merkle/proof.js';
import { leafHash } from '../../src/merkle/index.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { openStore, type Store } from '../../node/storage/index.js';
import { pageProofs } from '../../node/search/proofs.js';
import { treeHash } from '../../src/merkle/proof.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs, appendBlock } from './support/storage-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

describe('page proofs', () => {
  it('equal inclusionProof for every index, size and spread', async () => {
    const store = await openStore(await dirs.make(), { searchIndexes: false });
    open.push(store);
    const total = 70_000;
    for (let at = 0; at < total; at += 10_000) {
      await appendBlock(store, Array.from({ length: Math.min(10_000, total - at) }, (_, i) => utf8(`leaf ${at + i}`)));
    }
    const rng = new SeededRandom('page-proofs');
    for (const size of [1, 2, 3, 255, 256, 257, 511, 4097, 65_535, 65_536, 65_537, 69_999, 70_000]) {
      const spread = Array.from({ length: Math.min(size, 40) }, () => rng.int(size));
      const start = rng.int(size);
      const run = Array.from({ length: Math.min(size - start, 30) }, (_, k) => start + k);
      for (const idx of [spread, run, [size - 1, 0, size - 1]]) {
        const got = await pageProofs(store, idx, size);
        const root = await treeHash(store, size);
        for (let k = 0; k < idx.length; k++) {
          expect(got[k], `size ${size} index ${idx[k]}`).toEqual(await inclusionProof(store, idx[k]!, size));
          expect(rootFromInclusionProof(leafHash(utf8(`leaf ${idx[k]}`)), idx[k]!, size, got[k]!)).toEqual({ ok: true, root });
        }
      }
    }
    await expect(pageProofs(store, [5], 5)).rejects.toMatchObject({ code: 'BAD_INDEX' });
  }, 120_000);
});

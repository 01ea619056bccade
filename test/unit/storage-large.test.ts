// A store past 65,536 leaves (level-1 tiles full and partial, level-2 tile started), in 1,000-entry
// blocks each applied with ONE synced LevelDB batch; prints the applyBlock throughput. Spot checks
// tiles against an in-memory MerkleLog and proofs through readTiles. Takes a few seconds on 2 cores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/crypto/hash.js';
import { utf8 } from '../../src/encoding/bytes.js';
import {
  MerkleLog,
  TILE_WIDTH,
  consistencyProof,
  inclusionProof,
  leafHash,
  partialTilesForSize,
  verifyConsistency,
  verifyInclusion,
} from '../../src/merkle/index.js';
import { openStore, verifyStore, type AppliedBlock, type Store } from '../../node/storage/index.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs, nextBlock } from './support/storage-fixture.js';

const BLOCKS = 70;
const PER_BLOCK = 1000;
const SIZE = BLOCKS * PER_BLOCK; // 70,000 > 65,536 = 256²

const dirs = new TempDirs();
let dir = '';
let store: Store;
const log = new MerkleLog();
const sizes: number[] = [0];
const roots: Uint8Array[] = [];

function entry(i: number): Uint8Array {
  // ~100-byte entries, distinct.
  return utf8(`{"client":"load","id":"${i}","payload":"${'x'.repeat(60)}"}`);
}

beforeAll(async () => {
  dir = await dirs.make();
  store = await openStore(dir, { genesisHash: sha256(utf8('large')) });
  roots.push(log.root());
  let applyMs = 0;
  let prepareMs = 0;
  for (let b = 0; b < BLOCKS; b++) {
    const leaves = Array.from({ length: PER_BLOCK }, (_, k) => entry(b * PER_BLOCK + k));
    const t0 = performance.now();
    const block: AppliedBlock = await nextBlock(store, leaves);
    const t1 = performance.now();
    await store.applyBlock(block);
    const t2 = performance.now();
    prepareMs += t1 - t0;
    applyMs += t2 - t1;
    await log.append(leaves);
    sizes.push(log.size);
    roots.push(log.root());
  }
  // The measurement the storage brief asks for: applyBlock of 1,000-entry blocks, sync: true.
  console.log(
    `[storage] applyBlock: ${BLOCKS} blocks × ${PER_BLOCK} entries (sync: true, one batch each): ` +
      `${(applyMs / BLOCKS).toFixed(1)} ms/block, ${Math.round(SIZE / (applyMs / 1000))} entries/s ` +
      `(prepareAppend ${(prepareMs / BLOCKS).toFixed(1)} ms/block)`,
  );
}, 120_000);

afterAll(async () => {
  await store?.close();
  await dirs.removeAll();
});

describe('storage at ≥ 65,536 leaves (level-1 and level-2 tiles)', () => {
  it('survives reopen; level-1 tiles (full and partial) and the level-2 tile equal the MerkleLog', async () => {
    await store.close();
    store = await openStore(dir, { genesisHash: sha256(utf8('large')) });
    const head = store.head()!;
    expect(head).toMatchObject({ height: BLOCKS, treeSize: SIZE });
    expect(head.root).toEqual(log.root());
    // Level 1: 273 hashes at size 70,000 → tile 1/0 full, tile 1/1 partial (17); level 2: tile 2/0 width 1.
    expect(partialTilesForSize(SIZE)).toEqual([
      { level: 0, index: 273, width: 112 },
      { level: 1, index: 1, width: 17 },
      { level: 2, index: 0, width: 1 },
    ]);
    const spot = [
      { level: 1, index: 0, width: 256 },
      { level: 1, index: 1, width: 17 },
      { level: 1, index: 1, width: 1 },
      { level: 2, index: 0, width: 1 },
      { level: 0, index: 0, width: 256 },
      { level: 0, index: 255, width: 256 },
      { level: 0, index: 256, width: 256 },
      { level: 0, index: 273, width: 112 },
    ];
    for (const t of spot) expect(await store.readTile(t.level, t.index, t.width)).toEqual(log.tiles.get(t));
    expect(await store.readTile(1, 1, 18)).toBeUndefined();
    expect(await store.readTile(2, 0, 2)).toBeUndefined();
    // Past partial level-1 tiles (every 1,000-leaf block boundary) are still served exactly.
    for (let k = 66; k < sizes.length; k++) {
      for (const t of partialTilesForSize(sizes[k]!)) expect(await store.readTile(t.level, t.index, t.width)).toEqual(log.tiles.get(t));
    }
    const rng = new SeededRandom('large-bundles');
    for (let trial = 0; trial < 5; trial++) {
      const n = rng.int(Math.floor(SIZE / TILE_WIDTH));
      const bundle = (await store.readEntryBundle(n))!;
      expect(bundle.length).toBe(Array.from({ length: TILE_WIDTH }, (_, k) => 2 + entry(n * TILE_WIDTH + k).length).reduce((a, b) => a + b, 0));
    }
  });

  it('inclusion and consistency proofs generated through readTiles verify at large sizes', async () => {
    const rng = new SeededRandom('large-proofs');
    for (let trial = 0; trial < 100; trial++) {
      const k = 1 + rng.int(sizes.length - 1);
      const size = sizes[k]!;
      const index = rng.int(size);
      const p = await inclusionProof(store, index, size);
      expect(verifyInclusion(leafHash(entry(index)), index, size, p, roots[k]!)).toBe(true);
      const k1 = 1 + rng.int(k);
      const c = await consistencyProof(store, sizes[k1]!, size);
      expect(verifyConsistency(sizes[k1]!, size, c, roots[k1]!, roots[k]!)).toBe(true);
    }
    // Against the MerkleLog too, at the final size.
    expect(await inclusionProof(store, 65_535, SIZE)).toEqual(await log.inclusionProof(65_535, SIZE));
  });

  it('verifyStore recomputes all 70,000 leaves and agrees with the head', async () => {
    const t0 = performance.now();
    const r = await verifyStore(store, { chunkLeaves: 4096 });
    const ms = performance.now() - t0;
    console.log(`[storage] verifyStore: ${SIZE} leaves in ${ms.toFixed(0)} ms (${Math.round(SIZE / (ms / 1000))} leaves/s)`);
    expect(r).toMatchObject({ ok: true, treeSize: SIZE, leavesChecked: SIZE });
  });
});

// The peer store over real LevelDB in temp dirs: blocks built with the merkle library from random
// leaves, compared with an in-memory MerkleLog (tiles, roots, proofs), across close/reopen; the
// refusal paths of applyBlock; open-time checks; bounded catch-up reads. The records beside the
// log (signer state, WAL, evidence, checkpoints, meta) are in storage-records.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/crypto/hash.js';
import { bytesEqual, toHex, utf8 } from '../../src/encoding/bytes.js';
import {
  MerkleError,
  MerkleLog,
  TILE_WIDTH,
  consistencyProof,
  inclusionProof,
  leafHash,
  partialTilesForSize,
  tilesForSize,
  treeHash,
  verifyConsistency,
  verifyInclusion,
  type TileId,
} from '../../src/merkle/index.js';
import { openStore, type AppliedBlock, type Store } from '../../node/storage/index.js';
import { P_HEAD, P_SCHEMA, singleKey, tileKey } from '../../node/storage/keys.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempStores, appendBlock, blockBytesFor, certFor, expectCode, nextBlock, withRawDb } from './support/storage-fixture.js';

const stores = new TempStores();
afterEach(() => stores.closeAll());
const fresh = stores.fresh.bind(stores);
const reopen = stores.reopen.bind(stores);

function randomLeaves(rng: SeededRandom, count: number): Uint8Array[] {
  return Array.from({ length: count }, () => rng.bytes(1 + rng.int(120)));
}

/** Manual C2SP entry bundle: uint16 BE length ‖ bytes, per entry (independent of the merkle lib). */
function manualBundle(entries: Uint8Array[]): Uint8Array {
  const parts: number[] = [];
  for (const e of entries) {
    parts.push(Math.floor(e.length / 256), e.length % 256, ...e);
  }
  return Uint8Array.from(parts);
}

describe('storage: blocks built from random leaves, compared with an in-memory MerkleLog', () => {
  it('every leaf, tile, index, block and proof survives close/reopen; partial tiles across 256 boundaries', async () => {
    const rng = new SeededRandom('storage-blocks-1');
    const { dir, store: s0 } = await fresh({ genesisHash: sha256(utf8('genesis A')) });
    let store = s0;
    const log = new MerkleLog();
    const leaves: Uint8Array[] = [];
    const sizes: number[] = [0];
    const roots: Uint8Array[] = [await log.rootAt(0)];
    // Block sizes chosen to land below, on and across multiples of 256, plus an empty block.
    const blockSizes = [1, 0, 254, 1, 1, 255, 256, 3, 300, 37, 512, 2, 129, 127, 1, 200];
    for (const [bi, count] of blockSizes.entries()) {
      const ls = randomLeaves(rng, count);
      const b = await appendBlock(store, ls);
      await log.append(ls);
      leaves.push(...ls);
      expect(b.height).toBe(bi + 1);
      const head = store.head()!;
      expect(head.height).toBe(bi + 1);
      expect(head.treeSize).toBe(leaves.length);
      expect(bytesEqual(head.root, log.root())).toBe(true);
      sizes.push(leaves.length);
      roots.push(log.root());
      // The right edge (partial tiles) at this size, exactly as C2SP serves them.
      for (const t of partialTilesForSize(leaves.length)) {
        expect(await store.readTile(t.level, t.index, t.width)).toEqual(log.tiles.get(t));
        if (t.width < TILE_WIDTH) expect(await store.readTile(t.level, t.index, t.width + 1)).toBeUndefined();
      }
    }
    const size = leaves.length;
    expect(size).toBe(blockSizes.reduce((a, b) => a + b, 0));

    store = await reopen(dir, store, { genesisHash: sha256(utf8('genesis A')) });
    const head = store.head()!;
    expect(head.height).toBe(blockSizes.length);
    expect(head.treeSize).toBe(size);
    expect(bytesEqual(head.root, log.root())).toBe(true);
    expect(bytesEqual(head.blockHash, sha256(blockBytesFor(blockSizes.length)))).toBe(true);

    // Every leaf, individually and in ranges; indexes.
    expect(await store.getLeaves(0, size + 10)).toEqual(leaves);
    const firstIndex = new Map<string, number>(); // short random leaves repeat: the index keeps the first
    for (let i = 0; i < size; i++) {
      const key = toHex(leaves[i]!);
      if (!firstIndex.has(key)) firstIndex.set(key, i);
      expect(await store.getLeaf(i)).toEqual(leaves[i]);
      expect(await store.indexOfLeafHash(leafHash(leaves[i]!))).toBe(firstIndex.get(key));
    }
    expect(firstIndex.size).toBeLessThan(size); // the duplicate path was exercised
    expect(await store.getLeaf(size)).toBeUndefined();
    const h3 = blockSizes.slice(0, 2).reduce((a, b) => a + b, 0);
    expect(await store.lookupClientId('c', 'h3-0')).toEqual({ index: h3, leafHash: leafHash(leaves[h3]!) });
    expect(await store.lookupClientId('c', 'h2-0')).toBeUndefined(); // block 2 was empty
    expect(await store.indexOfLeafHash(sha256(utf8('not a leaf')))).toBeUndefined();

    // Every tile of the final tree, and every partial tile of every past size, equals the MerkleLog's.
    for (const t of tilesForSize(size)) expect(await store.readTile(t.level, t.index, t.width)).toEqual(log.tiles.get(t));
    for (const s of sizes) {
      for (const t of partialTilesForSize(s)) expect(await store.readTile(t.level, t.index, t.width)).toEqual(log.tiles.get(t));
    }
    expect(await store.readTile(0, Math.ceil(size / TILE_WIDTH) + 1)).toBeUndefined();

    // Blocks and certificates.
    for (let h = 1; h <= blockSizes.length; h++) {
      expect(await store.getBlock(h)).toEqual(blockBytesFor(h));
      expect(await store.getCertificate(h)).toEqual(certFor(h));
    }
    expect(await store.getBlock(0)).toBeUndefined();
    expect(await store.getBlock(blockSizes.length + 1)).toBeUndefined();

    // Past roots and proofs generated through readTiles verify and equal the MerkleLog's.
    for (let k = 0; k < sizes.length; k++) expect(await treeHash(store, sizes[k]!)).toEqual(roots[k]);
    for (let trial = 0; trial < 200; trial++) {
      const k = 1 + rng.int(sizes.length - 1);
      const s = sizes[k]!;
      const index = rng.int(s);
      const proof = await inclusionProof(store, index, s);
      expect(proof).toEqual(await log.inclusionProof(index, s));
      expect(verifyInclusion(leafHash(leaves[index]!), index, s, proof, roots[k]!)).toBe(true);
      const k1 = rng.int(k + 1);
      const c = await consistencyProof(store, sizes[k1]!, s);
      expect(c).toEqual(await log.consistencyProof(sizes[k1]!, s));
      expect(verifyConsistency(sizes[k1]!, s, c, roots[k1]!, roots[k]!)).toBe(true);
    }

    // Entry bundles: byte-exact, full and partial, and absent beyond the tree.
    const fullBundles = Math.floor(size / TILE_WIDTH);
    for (let n = 0; n < fullBundles; n++) {
      expect(await store.readEntryBundle(n)).toEqual(manualBundle(leaves.slice(n * TILE_WIDTH, (n + 1) * TILE_WIDTH)));
    }
    const rest = size % TILE_WIDTH;
    expect(rest).toBeGreaterThan(0);
    expect(await store.readEntryBundle(fullBundles, rest)).toEqual(manualBundle(leaves.slice(fullBundles * TILE_WIDTH)));
    expect(await store.readEntryBundle(fullBundles, 1)).toEqual(manualBundle(leaves.slice(fullBundles * TILE_WIDTH, fullBundles * TILE_WIDTH + 1)));
    expect(await store.readEntryBundle(fullBundles)).toBeUndefined();
    expect(await store.readEntryBundle(fullBundles, rest + 1)).toBeUndefined();
  });

  it('readTiles answers exactly the requested width and rejects missing tiles with MerkleError TILE_MISSING', async () => {
    const rng = new SeededRandom('storage-readtiles');
    const { store } = await fresh();
    const log = new MerkleLog();
    const ls = randomLeaves(rng, 300);
    await appendBlock(store, ls);
    await log.append(ls);
    const ids: TileId[] = [
      { level: 0, index: 0, width: 256 },
      { level: 0, index: 0, width: 7 },
      { level: 0, index: 1, width: 44 },
      { level: 0, index: 1, width: 1 },
      { level: 1, index: 0, width: 1 },
    ];
    const got = await store.readTiles(ids);
    ids.forEach((t, i) => expect(got[i]).toEqual(log.tiles.get(t)));
    const err = await store.readTiles([{ level: 0, index: 1, width: 45 }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MerkleError);
    expect(err).toMatchObject({ code: 'TILE_MISSING' });
    await expectCode(store.readTiles([{ level: 0, index: -1, width: 1 }]), 'BAD_ARGUMENT');
    await expectCode(store.readTiles([{ level: 0, index: 0, width: 257 }]), 'BAD_ARGUMENT');
    await expectCode(store.readTiles(Array.from({ length: 4097 }, () => ({ level: 0, index: 0, width: 1 }))), 'LIMIT_EXCEEDED');
  });

  it('an empty store has no head, no leaves, no tiles; the first block must be height 1', async () => {
    const { store } = await fresh();
    expect(store.head()).toBeNull();
    expect(await store.getLeaves(0, 10)).toEqual([]);
    expect(await store.readTile(0, 0, 1)).toBeUndefined();
    expect(await store.readEntryBundle(0, 1)).toBeUndefined();
    expect(await store.getBlocks(1, 10, 1000)).toEqual([]);
    expect(await treeHash(store, 0)).toEqual(new MerkleLog().root());
    const b = await nextBlock(store, [utf8('x')]);
    await expectCode(store.applyBlock({ ...b, height: 2 }), 'NOT_NEXT_BLOCK');
    await store.applyBlock(b);
    expect(store.head()!.height).toBe(1);
  });
});

describe('storage: applyBlock refuses inconsistent blocks and changes nothing', () => {
  async function setup(): Promise<{ store: Store; next: AppliedBlock; rng: SeededRandom }> {
    const rng = new SeededRandom('storage-refuse');
    const { store } = await fresh();
    await appendBlock(store, randomLeaves(rng, 250));
    const next = await nextBlock(store, randomLeaves(rng, 20));
    return { store, next, rng };
  }

  function flip(b: Uint8Array, at = 0): Uint8Array {
    const c = b.slice();
    c[at] = c[at]! ^ 1;
    return c;
  }

  const cases: [string, string, (b: AppliedBlock) => AppliedBlock][] = [
    ['height repeats the head', 'NOT_NEXT_BLOCK', (b) => ({ ...b, height: b.height - 1 })],
    ['height skips one', 'NOT_NEXT_BLOCK', (b) => ({ ...b, height: b.height + 1 })],
    ['firstIndex is not the tree size', 'NOT_NEXT_BLOCK', (b) => ({ ...b, firstIndex: b.firstIndex + 1 })],
    ['a leaf hash is not H(0x00 ‖ leaf)', 'BAD_BLOCK', (b) => ({ ...b, leafHashes: b.leafHashes.map((h, i) => (i === 3 ? flip(h) : h)) })],
    ['a leaf was altered', 'BAD_BLOCK', (b) => ({ ...b, leaves: b.leaves.map((l, i) => (i === 5 ? flip(l) : l)) })],
    ['leaves and clientIds not parallel', 'BAD_BLOCK', (b) => ({ ...b, clientIds: b.clientIds.slice(1) })],
    ['treeSize wrong', 'BAD_BLOCK', (b) => ({ ...b, treeSize: b.treeSize + 1 })],
    ['root wrong', 'BAD_BLOCK', (b) => ({ ...b, root: flip(b.root) })],
    ['log state wrong', 'BAD_BLOCK', (b) => ({ ...b, logState: flip(b.logState, b.logState.length - 1) })],
    ['a tile hash wrong (new part)', 'BAD_BLOCK', (b) => ({ ...b, tiles: b.tiles.map((t) => ({ ...t, bytes: flip(t.bytes, t.bytes.length - 1) })) })],
    ['a tile hash wrong (old prefix)', 'BAD_BLOCK', (b) => ({ ...b, tiles: b.tiles.map((t, i) => (i === 0 ? { ...t, bytes: flip(t.bytes, 0) } : t)) })],
    ['a tile missing', 'BAD_BLOCK', (b) => ({ ...b, tiles: b.tiles.slice(1) })],
    ['a tile truncated', 'BAD_BLOCK', (b) => ({ ...b, tiles: b.tiles.map((t, i) => (i === 0 ? { ...t, bytes: t.bytes.subarray(32) } : t)) })],
    ['tiles out of order', 'BAD_BLOCK', (b) => ({ ...b, tiles: [...b.tiles].reverse() })],
    ['empty certificate', 'BAD_ARGUMENT', (b) => ({ ...b, certificate: new Uint8Array(0) })],
    ['leaf larger than 65,535 bytes', 'LIMIT_EXCEEDED', (b) => ({ ...b, leaves: b.leaves.map((l, i) => (i === 0 ? new Uint8Array(65_536) : l)) })],
    ['block bytes not a Uint8Array', 'BAD_ARGUMENT', (b) => ({ ...b, blockBytes: 'x' as unknown as Uint8Array })],
    ['clientId not a string', 'BAD_ARGUMENT', (b) => ({ ...b, clientIds: b.clientIds.map((c, i) => (i === 0 ? { client: 1 as unknown as string, id: 'x' } : c)) })],
    ['client id too long', 'LIMIT_EXCEEDED', (b) => ({ ...b, clientIds: b.clientIds.map((c, i) => (i === 0 ? { client: 'x'.repeat(1025), id: 'x' } : c)) })],
  ];
  for (const [name, code, mutate] of cases) {
    it(`${name} → ${code}`, async () => {
      const { store, next } = await setup();
      expect(next.tiles.length).toBe(3); // 250 → 270: tile 0/0 completes (old prefix + new), 0/1 and 1/0 start
      const before = store.head();
      await expectCode(store.applyBlock(mutate(next)), code);
      expect(store.head()).toBe(before);
      expect(await store.getLeaf(next.firstIndex)).toBeUndefined();
      await store.applyBlock(next); // the correct block still applies
      expect(store.head()!.treeSize).toBe(next.treeSize);
    });
  }

  it('a leaf hash and a (client, id) logged twice keep their FIRST index', async () => {
    const { store } = await fresh();
    const same = utf8('same entry');
    await appendBlock(store, [same, utf8('a')], [{ client: 'k', id: '1' }, { client: 'k', id: '2' }]);
    await appendBlock(store, [utf8('b'), same, same], [{ client: 'k', id: '3' }, { client: 'k', id: '1' }, { client: 'k', id: '1' }]);
    expect(await store.indexOfLeafHash(leafHash(same))).toBe(0);
    expect(await store.lookupClientId('k', '1')).toEqual({ index: 0, leafHash: leafHash(same) });
    expect(await store.lookupClientId('k', '3')).toMatchObject({ index: 2 });
    // (client, id) keys are length-prefixed: ("ab","c") and ("a","bc") are different.
    await appendBlock(store, [utf8('p'), utf8('q')], [{ client: 'ab', id: 'c' }, { client: 'a', id: 'bc' }]);
    expect(await store.lookupClientId('ab', 'c')).toMatchObject({ index: 5 });
    expect(await store.lookupClientId('a', 'bc')).toMatchObject({ index: 6 });
  });

  it('concurrent applyBlock calls are serialised: the second one sees the first', async () => {
    const { store } = await fresh();
    const b1 = await nextBlock(store, [utf8('1')]);
    const p1 = store.applyBlock(b1);
    const p2 = store.applyBlock(b1); // same block again: must be refused as not-next after p1
    await p1;
    await expectCode(p2, 'NOT_NEXT_BLOCK');
    expect(store.head()!.height).toBe(1);
  });
});

describe('storage: open-time checks', () => {
  it('refuses a different genesis hash, accepts the same one and an unspecified one', async () => {
    const { dir, store } = await fresh({ genesisHash: sha256(utf8('net A')) });
    await appendBlock(store, [utf8('e')]);
    await store.close();
    const err = await openStore(dir, { genesisHash: sha256(utf8('net B')) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'GENESIS_MISMATCH' });
    expect(String((err as Error).message)).toContain('refusing');
    const same = await openStore(dir, { genesisHash: sha256(utf8('net A')) });
    expect(same.head()!.treeSize).toBe(1);
    await same.close();
    const any = await openStore(dir);
    expect(any.head()!.treeSize).toBe(1);
    await any.close();
  });

  it('refuses an unknown schema version and a LevelDB without one', async () => {
    const { dir, store } = await fresh();
    await store.close();
    await withRawDb(dir, (db) => db.put(singleKey(P_SCHEMA), Uint8Array.of(0, 0, 0, 2)));
    await expectCode(openStore(dir), 'SCHEMA_UNSUPPORTED');
    const other = await stores.makeDir();
    await withRawDb(other, (db) => db.put(utf8('foreign'), utf8('data')));
    await expectCode(openStore(other), 'SCHEMA_UNSUPPORTED');
  });

  it('with createIfMissing: false, a missing directory is OPEN_FAILED', async () => {
    const parent = await stores.makeDir();
    await expectCode(openStore(`${parent}/absent`, { createIfMissing: false }), 'OPEN_FAILED');
  });

  it('refuses a second open of the same directory (STORE_LOCKED) and use after close (CLOSED)', async () => {
    const { dir, store } = await fresh();
    await expectCode(openStore(dir), 'STORE_LOCKED');
    await store.close();
    await expectCode(store.getLeaf(0), 'CLOSED');
    await expectCode(store.applyBlock({} as AppliedBlock), 'CLOSED');
  });

  it('detects a head that disagrees with its tiles or its leaves, and a head block the peer rejects', async () => {
    const rng = new SeededRandom('storage-head');
    const { dir, store } = await fresh();
    await appendBlock(store, randomLeaves(rng, 300));
    await store.close();
    // Alter the last hash of the right-edge level-0 tile (0/1 holds 44 hashes).
    let saved: Uint8Array | undefined;
    await withRawDb(dir, async (db) => {
      saved = Uint8Array.from((await db.get(tileKey(0, 1)))!); // Buffer#slice would not copy
      const bad = saved.slice();
      bad[bad.length - 1]! ^= 1;
      await db.put(tileKey(0, 1), bad);
    });
    await expectCode(openStore(dir), 'CORRUPT_HEAD');
    await withRawDb(dir, (db) => db.put(tileKey(0, 1), saved!));
    // A truncated head record.
    let head: Uint8Array | undefined;
    await withRawDb(dir, async (db) => {
      head = Uint8Array.from((await db.get(singleKey(P_HEAD)))!);
      await db.put(singleKey(P_HEAD), head.subarray(0, 20));
    });
    await expectCode(openStore(dir), 'CORRUPT_HEAD');
    await withRawDb(dir, (db) => db.put(singleKey(P_HEAD), head!));
    // The peer's block decoder disagrees with the head.
    await expectCode(openStore(dir, { checkHeadBlock: () => 'tree size 299 in header' }), 'CORRUPT_HEAD');
    let seen: { height: number; block: string } | undefined;
    const ok = await openStore(dir, {
      checkHeadBlock: (h, block) => {
        seen = { height: h.height, block: new TextDecoder().decode(block) };
        return null;
      },
    });
    expect(seen).toEqual({ height: 1, block: 'block 1' });
    await ok.close();
  });
});

describe('storage: getBlocks for catch-up is bounded by count and bytes', () => {
  it('returns consecutive blocks with certificates within both bounds', async () => {
    const { store } = await fresh();
    for (let i = 0; i < 12; i++) await appendBlock(store, [utf8(`e${i}`)]);
    const per = blockBytesFor(5).length + certFor(5).length; // heights 1..9 have the same lengths
    const all = await store.getBlocks(1, 100, 1_000_000);
    expect(all.map((b) => b.height)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(all[6]).toEqual({ height: 7, block: blockBytesFor(7), certificate: certFor(7) });
    expect((await store.getBlocks(3, 4, 1_000_000)).map((b) => b.height)).toEqual([3, 4, 5, 6]);
    expect((await store.getBlocks(2, 100, per * 3)).map((b) => b.height)).toEqual([2, 3, 4]);
    expect((await store.getBlocks(2, 100, per * 3 - 1)).map((b) => b.height)).toEqual([2, 3]);
    expect(await store.getBlocks(13, 10, 1000)).toEqual([]);
    expect(await store.getBlocks(1, 0, 1000)).toEqual([]);
    await expectCode(store.getBlocks(1, 10, per - 1), 'LIMIT_EXCEEDED');
    await expectCode(store.getBlocks(1, 10_001, 1000), 'LIMIT_EXCEEDED');
    await expectCode(store.getBlocks(1, 10, 64 * 1024 * 1024 + 1), 'LIMIT_EXCEEDED');
    await expectCode(store.getBlocks(-1, 10, 1000), 'BAD_ARGUMENT');
    await expectCode(store.getLeaves(0, 65_537), 'LIMIT_EXCEEDED');
  });
});

// applyBlock's work: check a decided block against the head it must extend, re-derive the log
// state and tiles it changes, and write the block and EVERYTHING it changes (block, certificate,
// leaves, indexes, tiles, search records, log state, head) in ONE synced LevelDB batch, so a crash
// leaves either the whole block or none of it. applyBlocks does the same for consecutive blocks
// (catch-up): one batch, one fsync, all of them or none. Runs under the store's block lock.

import { timeline } from '../timeline/recorder.js';
import { bytesEqual } from '../../src/encoding/bytes.js';
import {
  EMPTY_RANGE,
  HASH_BYTES,
  TILE_HEIGHT,
  TILE_WIDTH,
  appendLeafHashes,
  decodeState,
  encodeState,
  hashesAtTileLevel,
  leafHash,
  rootOf,
  tilesTouchedByAppend,
  type AppendResult,
  type CompactRange,
} from '../../src/merkle/index.js';
import type { SearchIndexer } from '../search/index-writer.js';
import { MAX_BLOCK_HASH_BYTES, MAX_LOG_STATE_BYTES, encodeHead, type StoreHead } from './codec.js';
import { durableBatchWriter, type BatchOp } from './durable.js';
import { StoreError } from './errors.js';
import { P_BLOCK, P_CERT, P_HEAD, P_LEAF, singleKey, tileKey, u64Key } from './keys.js';
import type { LoggedIndex } from './logged-index.js';
import { bad, checkBytes, checkNat } from './store-args.js';
import type { AppliedBlock } from './store-api.js';

/** Most blocks applyBlocks writes in one batch (catch-up asks for at most 64 per request). */
export const MAX_BLOCKS_PER_APPLY = 64;
import { readStoredTiles, type StoreContext } from './store-context.js';

/** What applying a block needs of the store besides its context. */
export interface BlockApplyState {
  /** Height of the first block (when the store is empty). */
  firstHeight: number;
  logged: LoggedIndex;
  /** Search index writer (node/search), null when opened with searchIndexes: false. */
  searchIndexer: SearchIndexer | null;
  /** Replaces the cached head once the batch is durable. */
  setHead(head: StoreHead): void;
}

/**
 * Checks and writes blocks that follow each other (one, or a range of certified blocks on the
 * catch-up path) in ONE synced batch: a crash leaves all of them or none, and one fsync serves the
 * whole range. Each block is checked against the state the blocks before it in `bs` leave (a
 * virtual head and right-edge tiles); the store's own head, edge tiles and search state move only
 * once the batch is durable. The caller holds the block lock.
 */
export async function applyBlocksLocked(ctx: StoreContext, s: BlockApplyState, bs: readonly AppliedBlock[]): Promise<void> {
  ctx.assertOpen();
  if (!Array.isArray(bs) || bs.length === 0) bad('applyBlocks needs a non-empty array of AppliedBlock');
  if (bs.length > MAX_BLOCKS_PER_APPLY) throw new StoreError('LIMIT_EXCEEDED', `${bs.length} blocks in one batch, more than MAX_BLOCKS_PER_APPLY = ${MAX_BLOCKS_PER_APPLY}`);
  let head = ctx.head();
  const view: StoreContext = { ...ctx, head: () => head, edgeTiles: new Map(ctx.edgeTiles) };
  const batch = durableBatchWriter(ctx.db);
  let commitSearch: (() => void) | undefined;
  try {
    commitSearch = await fillBatch(view, s, bs, batch, () => head, (h) => (head = h));
  } catch (e) {
    await batch.close().catch(() => undefined);
    throw e;
  }
  s.setHead(head!);
  ctx.edgeTiles.clear();
  for (const [k, v] of view.edgeTiles) ctx.edgeTiles.set(k, v);
  commitSearch?.();
}

/** Checks each block against the one before it, adds its writes to `batch`, then writes it (synced); returns the search state's commit. */
async function fillBatch(
  view: StoreContext,
  s: BlockApplyState,
  bs: readonly AppliedBlock[],
  batch: ReturnType<typeof durableBatchWriter>,
  getHead: () => StoreHead | null,
  setHead: (h: StoreHead) => void,
): Promise<(() => void) | undefined> {
  const hashKeys: Uint8Array[] = [];
  const clientKeys: Uint8Array[] = [];
  // Index keys written by an earlier block of the batch are not in LevelDB yet: the first write wins.
  const seen = { hash: new Set<string>(), client: new Set<string>() };
  for (const b of bs) {
    const r = await blockOps(view, s, b, seen);
    batch.add(r.ops);
    for (const k of r.hashKeys) hashKeys.push(k);
    for (const k of r.clientKeys) clientKeys.push(k);
    setHead(r.head);
    // The partial tile of each level is the one the next blocks extend; a full tile never changes again.
    for (const t of b.tiles) {
      const key = `${t.level}/${t.index}`;
      if (t.bytes.length < TILE_WIDTH * HASH_BYTES) view.edgeTiles.set(key, t.bytes.slice());
      else view.edgeTiles.delete(key);
    }
  }
  // Search index records ride in the same synced batch as the leaves (node/search/index-writer.ts).
  const search = s.searchIndexer === null ? null : await s.searchIndexer.opsForBlocks(bs, (ops) => batch.add(ops));
  batch.add([{ type: 'put', key: singleKey(P_HEAD), value: encodeHead(getHead()!) }]);
  // Into the filter BEFORE the write: a lookup racing the write then reads LevelDB, exactly as
  // without a filter (a failed write only leaves harmless false positives).
  s.logged.addToFilter(hashKeys, clientKeys);
  timeline('store.write');
  await batch.write();
  timeline('store.written');
  return search?.commit;
}

/** Checks one block against `ctx.head()` (the state the blocks before it leave) and returns its writes. */
async function blockOps(
  ctx: StoreContext,
  s: BlockApplyState,
  b: AppliedBlock,
  seen: { hash: Set<string>; client: Set<string> },
): Promise<{ ops: BatchOp[]; head: StoreHead; hashKeys: Uint8Array[]; clientKeys: Uint8Array[] }> {
  const L = ctx.limits;
  if (b === null || typeof b !== 'object') bad('applyBlock needs an AppliedBlock object');
  const prev = ctx.head();
  const wantHeight = prev === null ? s.firstHeight : prev.height + 1;
  const oldSize = prev === null ? 0 : prev.treeSize;
  checkNat('height', b.height);
  checkNat('firstIndex', b.firstIndex);
  checkNat('treeSize', b.treeSize);
  if (b.height !== wantHeight) throw new StoreError('NOT_NEXT_BLOCK', `block height ${b.height} does not follow the head: expected ${wantHeight}`);
  if (b.firstIndex !== oldSize) throw new StoreError('NOT_NEXT_BLOCK', `block firstIndex ${b.firstIndex} does not follow the head: expected tree size ${oldSize}`);
  checkBytes('blockBytes', b.blockBytes, L.maxBlockBytes, 'maxBlockBytes', 1);
  checkBytes('blockHash', b.blockHash, MAX_BLOCK_HASH_BYTES, 'MAX_BLOCK_HASH_BYTES', 1);
  checkBytes('certificate', b.certificate, L.maxCertificateBytes, 'maxCertificateBytes', 1);
  checkBytes('logState', b.logState, MAX_LOG_STATE_BYTES, 'MAX_LOG_STATE_BYTES', 1);
  if (!(b.root instanceof Uint8Array) || b.root.length !== HASH_BYTES) bad(`root must be ${HASH_BYTES} bytes`);
  if (!Array.isArray(b.leaves) || !Array.isArray(b.leafHashes) || !Array.isArray(b.clientIds) || !Array.isArray(b.tiles)) {
    bad('leaves, leafHashes, clientIds and tiles must be arrays');
  }
  const n = b.leaves.length;
  if (n > L.maxLeavesPerBlock) throw new StoreError('LIMIT_EXCEEDED', `block has ${n} leaves, more than maxLeavesPerBlock = ${L.maxLeavesPerBlock}`);
  if (b.leafHashes.length !== n || b.clientIds.length !== n) {
    throw new StoreError('BAD_BLOCK', `leaves (${n}), leafHashes (${b.leafHashes.length}) and clientIds (${b.clientIds.length}) must be parallel`);
  }
  if (b.treeSize !== oldSize + n) throw new StoreError('BAD_BLOCK', `treeSize ${b.treeSize} != firstIndex ${oldSize} + ${n} leaves`);

  const clientKeys: Uint8Array[] = new Array(n);
  const rehash = b.leafHashesFromLeaves !== true;
  for (let i = 0; i < n; i++) {
    const leaf = checkBytes(`leaves[${i}]`, b.leaves[i], L.maxLeafBytes, 'maxLeafBytes');
    const lh = b.leafHashes[i];
    // RFC 9162 §2.1.1: the leaf hash is SHA-256(0x00 ‖ entry); a mismatch would make every proof
    // for this entry fail, so it is refused here rather than discovered by a client. A caller
    // that hashed these very bytes itself (leafHashesFromLeaves) is not made to pay for it twice.
    if (!(lh instanceof Uint8Array) || lh.length !== HASH_BYTES || (rehash && !bytesEqual(lh, leafHash(leaf)))) {
      throw new StoreError('BAD_BLOCK', `leafHashes[${i}] is not SHA-256(0x00 ‖ leaves[${i}]) (leaf index ${oldSize + i})`);
    }
    const cid = b.clientIds[i];
    if (cid === null || typeof cid !== 'object' || typeof cid.client !== 'string' || typeof cid.id !== 'string') {
      bad(`clientIds[${i}] must be { client: string, id: string }`);
    }
    clientKeys[i] = s.logged.clientKey(cid.client, cid.id, `clientIds[${i}]`);
  }

  // Re-derive the compact range after the block from the previous one (RFC 9162 §2.1.1 via the
  // merkle library) and require the caller's log state and root to be exactly it.
  let prevState: CompactRange;
  try {
    prevState = prev === null ? EMPTY_RANGE : decodeState(prev.logState);
  } catch (e) {
    throw new StoreError('CORRUPT_HEAD', `stored log state does not decode: ${(e as Error).message}`, { cause: e });
  }
  const appended = appendLeafHashes(prevState, b.leafHashes);
  const newState = appended.state;
  if (!bytesEqual(encodeState(newState), b.logState)) {
    throw new StoreError('BAD_BLOCK', `logState is not the compact range of the tree after appending the block's ${n} leaves to size ${oldSize}`);
  }
  if (!bytesEqual(rootOf(newState), b.root)) throw new StoreError('BAD_BLOCK', `root is not the Merkle tree hash at tree size ${b.treeSize}`);
  const ops = await tileOps(ctx, b, oldSize, appended);

  const index = await s.logged.opsForBlock(oldSize, b.leafHashes, clientKeys, seen);
  ops.push({ type: 'put', key: u64Key(P_BLOCK, b.height), value: b.blockBytes });
  ops.push({ type: 'put', key: u64Key(P_CERT, b.height), value: b.certificate });
  for (let i = 0; i < n; i++) ops.push({ type: 'put', key: u64Key(P_LEAF, oldSize + i), value: b.leaves[i]! });
  for (const op of index.ops) ops.push(op);
  const head: StoreHead = {
    height: b.height,
    treeSize: b.treeSize,
    root: b.root.slice(),
    blockHash: b.blockHash.slice(),
    logState: b.logState.slice(),
  };
  return { ops, head, hashKeys: index.hashKeys, clientKeys };
}

/**
 * The put of every tile the append touches, after checking the caller's tiles: exactly
 * tilesTouchedByAppend(oldSize, newSize), each at its new width; hashes already present before the
 * append must equal the stored tile (tiles only ever grow, C2SP tlog-tiles), and the new ones must
 * equal the nodes the append completed at levels 0, 8, 16, ….
 */
async function tileOps(ctx: StoreContext, b: AppliedBlock, oldSize: number, appended: AppendResult): Promise<BatchOp[]> {
  const expected = tilesTouchedByAppend(oldSize, b.treeSize);
  if (b.tiles.length !== expected.length) {
    throw new StoreError('BAD_BLOCK', `block carries ${b.tiles.length} tiles; the append ${oldSize}→${b.treeSize} touches ${expected.length}`);
  }
  const completed = new Map<string, Uint8Array>();
  for (const s of appended.stored) {
    if (s.level % TILE_HEIGHT === 0) completed.set(`${s.level / TILE_HEIGHT}/${s.index}`, s.hash);
  }
  const extended = expected.filter((t) => hashesAtTileLevel(oldSize, t.level) > t.index * TILE_WIDTH);
  const oldTiles = await readStoredTiles(ctx, extended, false);
  const oldByKey = new Map<string, Uint8Array | undefined>(extended.map((t, i) => [`${t.level}/${t.index}`, oldTiles[i]]));
  const ops: BatchOp[] = [];
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]!;
    const got = b.tiles[i]!;
    if (got === null || typeof got !== 'object' || got.level !== want.level || got.index !== want.index || !(got.bytes instanceof Uint8Array)) {
      throw new StoreError('BAD_BLOCK', `tiles[${i}] must be tile ${want.level}/${want.index} (tilesTouchedByAppend order)`);
    }
    if (got.bytes.length !== want.width * HASH_BYTES) {
      throw new StoreError('BAD_BLOCK', `tile ${want.level}/${want.index} is ${got.bytes.length} bytes; at tree size ${b.treeSize} it holds ${want.width} hashes`);
    }
    const oldCount = hashesAtTileLevel(oldSize, want.level);
    const key = `${want.level}/${want.index}`;
    for (let j = 0; j < want.width; j++) {
      const pos = want.index * TILE_WIDTH + j;
      const h = got.bytes.subarray(j * HASH_BYTES, (j + 1) * HASH_BYTES);
      let ref: Uint8Array | undefined;
      if (pos < oldCount) {
        const old = oldByKey.get(key);
        ref = old === undefined ? undefined : old.subarray(j * HASH_BYTES, (j + 1) * HASH_BYTES);
        if (ref === undefined || ref.length !== HASH_BYTES) throw new StoreError('CORRUPT_HEAD', `stored tile ${key} lacks hash ${j} of tree size ${oldSize}`);
      } else {
        ref = completed.get(`${want.level}/${pos}`);
      }
      if (ref === undefined || !bytesEqual(h, ref)) {
        throw new StoreError('BAD_BLOCK', `tile ${key} hash ${j} (level ${want.level * TILE_HEIGHT} node ${pos}) is wrong`);
      }
    }
    ops.push({ type: 'put', key: tileKey(want.level, want.index), value: got.bytes });
  }
  return ops;
}

// The peer's durable store over classic-level (LevelDB): blocks, commit certificates, the log's
// leaves and its Merkle hashes laid out as C2SP tlog-tiles, the entry indexes, checkpoints, the
// consensus signer state and WAL, evidence and metadata.
//
// Key space: one prefix byte per record kind, documented in keys.ts. Binary keys and values
// (`keyEncoding: 'view'`, `valueEncoding: 'view'`).
//
// Durability rules:
// - Every write that must survive a power loss goes through durable.ts (durablePut,
//   durableBatch, writeBatch with durable: true), the one place that passes `sync: true`.
// - applyBlock writes a decided block and EVERYTHING it changes (block, certificate, leaves,
//   indexes, tiles, log state, head) in ONE synced LevelDB batch, so the peer may sign
//   the checkpoint / report entries final as soon as the promise resolves, and a crash leaves
//   either the whole block or none of it. applyBlocks (catch-up) writes up to 64 consecutive
//   blocks in one such batch: one fsync for the range, all of it or none.
// - putSignerState, putCheckpoint, putEvidence, putMeta and walAppend are synced too: the signer
//   state must be durable before a vote leaves the process (Tendermint: never sign two messages for
//   one (h, r, step), also across restarts). WAL appends take many records per write; a caller may
//   append unsynced (`sync: false`) a record whose loss in a crash is harmless.
//   putSignerStateWithWal writes the signer state and WAL records in one synced batch (a
//   consensus step's messages together with the state that signed them).
//
// Integrity: applyBlock re-derives the new compact range from the previous head's log state and
// the block's leaf hashes (RFC 9162 §2.1.1), and checks the caller's log state, root and tiles
// against it, so a bug upstream cannot persist a tree that disagrees with its leaves. On open, the
// head is checked against the stored log state, the tiles on the right edge and the last leaf and
// block (see open-checks.ts). verify.ts recomputes the whole tree from the leaves.
//
// Modules: store-api.ts (the Store interface and its records), store-limits.ts, block-apply.ts
// (the one batch of a block), log-reads.ts (blocks, leaves, tiles, entry bundles),
// logged-index.ts (leaf-hash and (client, id) indexes), checkpoint-records.ts,
// consensus-records.ts (signer state, WAL), evidence-records.ts, open-checks.ts (schema, genesis,
// head). This file opens the store, owns its state and locks, and holds the metadata records.

import { ClassicLevel } from 'classic-level';
import { durablePut } from './durable.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { TILE_WIDTH, type TileId } from '../../src/merkle/index.js';
import type { StoreHead } from './codec.js';
import { StoreError } from './errors.js';
import { P_META, bytesKey } from './keys.js';
import { SearchIndexer } from '../search/index-writer.js';
import { makeSearchAccess, type SearchAccess } from '../search/db.js';
import { applyBlocksLocked } from './block-apply.js';
import { CheckpointRecords } from './checkpoint-records.js';
import { ConsensusRecords } from './consensus-records.js';
import { EvidenceRecords } from './evidence-records.js';
import { LogReads } from './log-reads.js';
import { LoggedIndex } from './logged-index.js';
import { checkGenesis, checkSchema, loadHead } from './open-checks.js';
import { bad, checkBytes, checkNat } from './store-args.js';
import type { AppliedBlock, BlockRecord, CheckpointRecord, Store, StoreOptions } from './store-api.js';
import { Serial, plain, type Db, type StoreContext } from './store-context.js';
import { DEFAULT_LIMITS, type StoreLimits } from './store-limits.js';

export type { StoreHead } from './codec.js';
export type { AppliedBlock, BlockRecord, CheckpointRecord, Store, StoreOptions } from './store-api.js';
export { DEFAULT_LIMITS, LOGGED_FILTER_SCAN_KEYS_MAX, LOOKUP_BATCH_MAX, SCHEMA_VERSION, type StoreLimits } from './store-limits.js';

/** Opens (creating if needed) the store in `dir`; see StoreOptions. */
export async function openStore(dir: string, opts: StoreOptions = {}): Promise<Store> {
  if (typeof dir !== 'string' || dir.length === 0) bad('dir must be a non-empty path');
  const limits: StoreLimits = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) };
  if (limits.maxLeafBytes > DEFAULT_LIMITS.maxLeafBytes) {
    bad(`maxLeafBytes ${limits.maxLeafBytes} exceeds 65,535 (the uint16 length of a C2SP entry bundle)`);
  }
  const firstHeight = checkNat('firstHeight', opts.firstHeight ?? 1);
  const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    createIfMissing: opts.createIfMissing ?? true,
  });
  try {
    await db.open();
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new StoreError('STORE_LOCKED', `${dir} is in use by another process or Store (LevelDB lock held)`, { cause: e });
    }
    throw new StoreError('OPEN_FAILED', `cannot open LevelDB at ${dir}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const store = new LevelStore(db, dir, limits, firstHeight);
    await store.init(opts);
    return store;
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}

class LevelStore implements Store {
  readonly dir: string;
  readonly limits: Readonly<StoreLimits>;
  private readonly db: Db;
  private readonly firstHeight: number;
  private cachedHead: StoreHead | null = null;
  private closed = false;
  private readonly blockLock = new Serial();
  /** What the modules below see of this store. */
  private readonly ctx: StoreContext;
  private readonly reads: LogReads;
  private readonly logged: LoggedIndex;
  private readonly checkpoints: CheckpointRecords;
  private readonly consensus: ConsensusRecords;
  private readonly evidence: EvidenceRecords;
  /** Search index writer (node/search), null when opened with searchIndexes: false. */
  private searchIndexer: SearchIndexer | null = null;

  constructor(db: Db, dir: string, limits: StoreLimits, firstHeight: number) {
    this.db = db;
    this.dir = dir;
    this.limits = Object.freeze(limits);
    this.firstHeight = firstHeight;
    this.ctx = { db, dir, limits: this.limits, assertOpen: () => this.assertOpen(), head: () => this.cachedHead, edgeTiles: new Map() };
    this.reads = new LogReads(this.ctx);
    this.logged = new LoggedIndex(this.ctx);
    this.checkpoints = new CheckpointRecords(this.ctx);
    this.consensus = new ConsensusRecords(this.ctx);
    this.evidence = new EvidenceRecords(this.ctx);
  }

  // ---------------------------------------------------------------------------------------------
  // Open-time checks

  async init(opts: StoreOptions): Promise<void> {
    await checkSchema(this.ctx);
    if (opts.genesisHash !== undefined) await checkGenesis(this.ctx, opts.genesisHash);
    const head = await loadHead(this.ctx, this.reads, opts.checkHeadBlock);
    if (head !== null) this.cachedHead = head;
    await this.evidence.load();
    await this.logged.loadFilter();
    if (opts.searchIndexes !== false) this.searchIndexer = await SearchIndexer.load((keys) => this.db.getMany(keys));
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('CLOSED', `store ${this.dir} is closed`);
  }

  // ---------------------------------------------------------------------------------------------
  // Blocks

  head(): StoreHead | null {
    return this.cachedHead;
  }

  applyBlock(b: AppliedBlock): Promise<void> {
    return this.applyBlocks([b]);
  }

  async applyBlocks(bs: readonly AppliedBlock[]): Promise<void> {
    this.assertOpen();
    return this.blockLock.run(() =>
      applyBlocksLocked(this.ctx, {
        firstHeight: this.firstHeight,
        logged: this.logged,
        searchIndexer: this.searchIndexer,
        setHead: (head) => (this.cachedHead = head),
      }, bs),
    );
  }

  getBlock(height: number): Promise<Uint8Array | undefined> {
    return this.reads.getBlock(height);
  }

  getCertificate(height: number): Promise<Uint8Array | undefined> {
    return this.reads.getCertificate(height);
  }

  getBlocks(fromHeight: number, maxCount: number, maxBytes: number): Promise<BlockRecord[]> {
    return this.reads.getBlocks(fromHeight, maxCount, maxBytes);
  }

  // ---------------------------------------------------------------------------------------------
  // Leaves, tiles, entry bundles, indexes

  getLeaf(index: number): Promise<Uint8Array | undefined> {
    return this.reads.getLeaf(index);
  }

  getLeaves(start: number, count: number): Promise<Uint8Array[]> {
    return this.reads.getLeaves(start, count);
  }

  readTiles(tiles: readonly TileId[]): Promise<Uint8Array[]> {
    return this.reads.readTiles(tiles);
  }

  readTile(level: number, index: number, width: number = TILE_WIDTH): Promise<Uint8Array | undefined> {
    return this.reads.readTile(level, index, width);
  }

  readEntryBundle(n: number, width: number = TILE_WIDTH): Promise<Uint8Array | undefined> {
    return this.reads.readEntryBundle(n, width);
  }

  indexOfLeafHash(hash: Uint8Array): Promise<number | undefined> {
    return this.logged.indexOfLeafHash(hash);
  }

  lookupClientId(client: string, id: string): Promise<{ index: number; leafHash: Uint8Array } | undefined> {
    return this.logged.lookupClientId(client, id);
  }

  lookupLogged(entries: readonly { leafHash: Uint8Array; client: string; id: string }[]): Promise<{ index: number | undefined; logged: { index: number; leafHash: Uint8Array } | undefined }[]> {
    return this.logged.lookupLogged(entries);
  }

  // ---------------------------------------------------------------------------------------------
  // Checkpoints, consensus signer state and WAL, evidence

  putCheckpoint(treeSize: number, note: Uint8Array, final: boolean): Promise<void> {
    return this.checkpoints.put(treeSize, note, final);
  }

  getCheckpoint(treeSize: number): Promise<CheckpointRecord | undefined> {
    return this.checkpoints.get(treeSize);
  }

  latestFinalCheckpoint(): Promise<Uint8Array | undefined> {
    return this.checkpoints.latestFinal();
  }

  putSignerState(s: Uint8Array): Promise<void> {
    return this.consensus.putSignerState(s);
  }

  getSignerState(): Promise<Uint8Array | undefined> {
    return this.consensus.getSignerState();
  }

  putSignerStateWithWal(s: Uint8Array, height: number, records: Uint8Array[]): Promise<void> {
    return this.consensus.putSignerStateWithWal(s, height, records);
  }

  walAppend(height: number, records: Uint8Array[], opts: { sync?: boolean } = {}): Promise<void> {
    return this.consensus.walAppend(height, records, opts);
  }

  walRead(height: number): Promise<Uint8Array[]> {
    return this.consensus.walRead(height);
  }

  walPrune(belowHeight: number): Promise<void> {
    return this.consensus.walPrune(belowHeight);
  }

  putEvidence(e: Uint8Array): Promise<void> {
    return this.evidence.put(e);
  }

  listEvidence(limit: number): Promise<Uint8Array[]> {
    return this.evidence.list(limit);
  }

  // ---------------------------------------------------------------------------------------------
  // Metadata

  private metaKey(key: string): Uint8Array {
    if (typeof key !== 'string' || key.length === 0) bad('meta key must be a non-empty string');
    const k = utf8(key);
    if (k.length > this.limits.maxMetaKeyBytes) {
      throw new StoreError('LIMIT_EXCEEDED', `meta key is ${k.length} bytes, more than maxMetaKeyBytes = ${this.limits.maxMetaKeyBytes}`);
    }
    return bytesKey(P_META, k);
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    this.assertOpen();
    const v = await this.db.get(this.metaKey(key));
    return v === undefined ? undefined : plain(v);
  }

  async putMeta(key: string, v: Uint8Array): Promise<void> {
    this.assertOpen();
    const k = this.metaKey(key);
    checkBytes('meta value', v, this.limits.maxMetaValueBytes, 'maxMetaValueBytes');
    await durablePut(this.db, k, v);
  }

  searchAccess(): SearchAccess {
    this.assertOpen();
    return makeSearchAccess(this.db, (fn) => this.blockLock.run(async () => (this.assertOpen(), fn())), () => this.cachedHead?.treeSize ?? 0, this.searchIndexer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Let queued writers finish (they re-check `closed` and fail fast), then close LevelDB.
    await Promise.all([
      this.blockLock.run(async () => undefined),
      this.checkpoints.drain(),
      this.consensus.drain(),
      this.evidence.drain(),
    ]);
    await this.logged.saveOnClose(); // the next open loads the logged filter instead of scanning
    await this.db.close();
  }
}

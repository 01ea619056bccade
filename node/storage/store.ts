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
//   either the whole block or none of it.
// - putSignerState, putCheckpoint, putEvidence, putMeta and walAppend are synced too: the signer
//   state must be durable before a vote leaves the process (Tendermint: never sign two messages for
//   one (h, r, step), also across restarts). WAL appends take many records per write; a caller may
//   append unsynced (`sync: false`) a record whose loss in a crash is harmless.
//
// Integrity: applyBlock re-derives the new compact range from the previous head's log state and
// the block's leaf hashes (RFC 9162 §2.1.1), and checks the caller's log state, root and tiles
// against it, so a bug upstream cannot persist a tree that disagrees with its leaves. On open, the
// head is checked against the stored log state, the tiles on the right edge and the last leaf and
// block (see checkHead). verify.ts recomputes the whole tree from the leaves.

import { ClassicLevel } from 'classic-level';
import { durableBatch, durablePut, writeBatch, type BatchOp } from './durable.js';
import { bytesEqual, toHex, utf8 } from '../../src/encoding/bytes.js';
import { sha256 } from '../../src/crypto/hash.js';
import {
  EMPTY_RANGE,
  EMPTY_ROOT,
  HASH_BYTES,
  MerkleError,
  TILE_HEIGHT,
  TILE_WIDTH,
  appendLeafHashes,
  compactRangeAt,
  decodeState,
  encodeEntryBundle,
  encodeState,
  hashesAtTileLevel,
  leafHash,
  rootOf,
  tileWidthAt,
  tilesTouchedByAppend,
  type CompactRange,
  type TileId,
  type TileReader,
} from '../../src/merkle/index.js';
import { checkTileId } from '../../src/merkle/tiles.js';
import {
  MAX_BLOCK_HASH_BYTES,
  MAX_LOG_STATE_BYTES,
  decodeCheckpoint,
  decodeClientIdValue,
  decodeHead,
  decodeU64Value,
  encodeCheckpoint,
  encodeClientIdValue,
  encodeHead,
  type StoreHead,
} from './codec.js';
import { StoreError } from './errors.js';
import {
  P_BLOCK,
  P_CERT,
  P_CHECKPOINT,
  P_EVIDENCE,
  P_EVIDENCE_HASH,
  P_FINAL,
  P_GENESIS,
  P_HEAD,
  P_LEAF,
  P_LEAF_HASH,
  P_CLIENT_ID,
  P_META,
  P_SCHEMA,
  P_SIGNER,
  P_WAL,
  bytesKey,
  clientIdKey,
  prefixEnd,
  singleKey,
  tileKey,
  u64,
  u64Key,
  u64OfKey,
  walKey,
  walSeqOfKey,
} from './keys.js';

import { LoggedFilter } from './logged-filter.js';
import { SearchIndexer } from '../search/index-writer.js';
import { makeSearchAccess, type SearchAccess } from '../search/db.js';

export type { StoreHead } from './codec.js';

/** Most index keys scanned into the logged filter at open; beyond, the store runs without it. */
export const LOGGED_FILTER_SCAN_KEYS_MAX = 20_000_000;

/** The schema this code writes and the only one it opens. Bump on any incompatible key/value change. */
export const SCHEMA_VERSION = 1;
/** Most entries in one Store.lookupLogged call (two keys each in one LevelDB multi-get). */
export const LOOKUP_BATCH_MAX = 10_000;

/** A decided block and everything it changes, as computed by the peer (see the storage contract). */
export interface AppliedBlock {
  height: number;
  blockBytes: Uint8Array;
  blockHash: Uint8Array;
  /** Encoded CommitCertificate (src/consensus codec). */
  certificate: Uint8Array;
  /** Log index of leaves[0]; must equal the head's tree size. */
  firstIndex: number;
  /** Entries appended by this block, in order. */
  leaves: Uint8Array[];
  /** leafHashes[i] = SHA-256(0x00 ‖ leaves[i]) (RFC 9162 §2.1.1). */
  leafHashes: Uint8Array[];
  /** Parallel to leaves. */
  clientIds: { client: string; id: string }[];
  /** Exactly the tiles of tilesTouchedByAppend(firstIndex, treeSize), each at its width at treeSize. */
  tiles: { level: number; index: number; bytes: Uint8Array }[];
  /** encodeState of the merkle compact range after the block. */
  logState: Uint8Array;
  treeSize: number;
  root: Uint8Array;
}

export interface CheckpointRecord {
  note: Uint8Array;
  final: boolean;
}

export interface BlockRecord {
  height: number;
  block: Uint8Array;
  certificate: Uint8Array;
}

/** Every limit of the store. Each error that enforces one names it. */
export interface StoreLimits {
  /** C2SP tlog-tiles entry bundles frame an entry with a uint16 length: at most 65,535 bytes. */
  maxLeafBytes: number;
  maxLeavesPerBlock: number;
  maxBlockBytes: number;
  maxCertificateBytes: number;
  /** UTF-8 bytes of a client name and of an id (each). */
  maxClientIdBytes: number;
  maxGetBlocksCount: number;
  maxGetBlocksBytes: number;
  maxGetLeaves: number;
  /** Tiles per readTiles call (same as merkle MAX_TILES_PER_READ). */
  maxReadTiles: number;
  maxCheckpointBytes: number;
  maxSignerStateBytes: number;
  maxWalRecordBytes: number;
  maxWalRecordsPerAppend: number;
  maxWalRecordsPerHeight: number;
  maxWalBytesPerHeight: number;
  maxEvidenceBytes: number;
  maxEvidenceRecords: number;
  maxListEvidence: number;
  maxMetaKeyBytes: number;
  maxMetaValueBytes: number;
}

export const DEFAULT_LIMITS: Readonly<StoreLimits> = Object.freeze({
  maxLeafBytes: 65_535,
  maxLeavesPerBlock: 100_000,
  maxBlockBytes: 16 * 1024 * 1024,
  maxCertificateBytes: 1024 * 1024,
  maxClientIdBytes: 1024,
  maxGetBlocksCount: 10_000,
  maxGetBlocksBytes: 64 * 1024 * 1024,
  maxGetLeaves: 65_536,
  maxReadTiles: 4096,
  maxCheckpointBytes: 1024 * 1024,
  // A SignerState may carry a locked value, a valid value and a signed proposal (each ≤ 4 MiB).
  maxSignerStateBytes: 32 * 1024 * 1024,
  // A WAL record may be a proposal carrying a whole block value.
  maxWalRecordBytes: 8 * 1024 * 1024,
  maxWalRecordsPerAppend: 10_000,
  maxWalRecordsPerHeight: 100_000,
  maxWalBytesPerHeight: 256 * 1024 * 1024,
  // Evidence holds two conflicting signed messages, proposals with their value id instead of
  // the block (the signature covers only the id): a few hundred bytes. 100,000 records of this
  // size stay far below a gigabyte; whole blocks (megabytes each) would not.
  maxEvidenceBytes: 4 * 1024,
  maxEvidenceRecords: 100_000,
  maxListEvidence: 1000,
  maxMetaKeyBytes: 256,
  maxMetaValueBytes: 1024 * 1024,
});

export interface StoreOptions {
  /**
   * The network's genesis hash. Recorded on first open; a store recorded with a different one is
   * refused (GENESIS_MISMATCH). Omit to open whatever genesis the store has (audit tools).
   */
  genesisHash?: Uint8Array;
  /** Height of the first block (default 1, as in Tendermint). */
  firstHeight?: number;
  /** Create the directory if missing (default true). */
  createIfMissing?: boolean;
  /** Override individual limits (defaults: DEFAULT_LIMITS). */
  limits?: Partial<StoreLimits>;
  /**
   * The peer's block decoder check, run on open against the head's block: return null when the
   * block header agrees with the head (height, tree size, root, hash), else a reason. The store
   * does not know the block format, so without it only the presence of the head's block and
   * certificate is checked.
   */
  checkHeadBlock?: (head: StoreHead, blockBytes: Uint8Array) => string | null;
  /** Write the search indexes (node/search) in each block's batch (default true). */
  searchIndexes?: boolean;
}

export interface Store extends TileReader {
  readonly dir: string;
  readonly limits: Readonly<StoreLimits>;
  /** ONE synced batch: block, certificate, leaves, indexes, tiles, log state, head. */
  applyBlock(b: AppliedBlock): Promise<void>;
  /** The state after the last applied block (cached in memory), or null for an empty store. */
  head(): StoreHead | null;
  getBlock(height: number): Promise<Uint8Array | undefined>;
  getCertificate(height: number): Promise<Uint8Array | undefined>;
  /**
   * Consecutive blocks from fromHeight, at most maxCount of them and at most maxBytes of block +
   * certificate bytes. Empty when fromHeight is above the head. LIMIT_EXCEEDED when the first
   * block alone is larger than maxBytes (an empty answer would stall catch-up silently).
   */
  getBlocks(fromHeight: number, maxCount: number, maxBytes: number): Promise<BlockRecord[]>;
  getLeaf(index: number): Promise<Uint8Array | undefined>;
  /** Leaves [start, start+count) clipped to the tree size; count ≤ limits.maxGetLeaves. */
  getLeaves(start: number, count: number): Promise<Uint8Array[]>;
  /**
   * merkle TileReader: one result per tile, exactly `width` hashes. Rejects with
   * MerkleError('TILE_MISSING') for a tile the tree has not reached.
   */
  readTiles(tiles: readonly TileId[]): Promise<Uint8Array[]>;
  /** Exactly the C2SP tile bytes of (level, index, width), or undefined if the tree has not reached it. */
  readTile(level: number, index: number, width?: number): Promise<Uint8Array | undefined>;
  /** C2SP entry bundle n of `width` entries (uint16 BE length ‖ bytes each), or undefined if not reached. */
  readEntryBundle(n: number, width?: number): Promise<Uint8Array | undefined>;
  /** Index of the FIRST leaf with this leaf hash. */
  indexOfLeafHash(hash: Uint8Array): Promise<number | undefined>;
  /** The FIRST leaf logged with this (client, id). */
  lookupClientId(client: string, id: string): Promise<{ index: number; leafHash: Uint8Array } | undefined>;
  /**
   * indexOfLeafHash and lookupClientId for many entries in ONE LevelDB multi-get (at most
   * LOOKUP_BATCH_MAX): the admission path asks this for every entry, and one getMany costs a
   * fraction of the CPU of as many concurrent gets (measured ~6x on the bench machine).
   */
  lookupLogged(entries: readonly { leafHash: Uint8Array; client: string; id: string }[]): Promise<{ index: number | undefined; logged: { index: number; leafHash: Uint8Array } | undefined }[]>;
  /**
   * Synced. treeSize must not exceed the head's tree size (checkpoints are only made for decided
   * blocks). A non-final note never replaces a final one of the same size.
   */
  putCheckpoint(treeSize: number, note: Uint8Array, final: boolean): Promise<void>;
  getCheckpoint(treeSize: number): Promise<CheckpointRecord | undefined>;
  /** The note of the final checkpoint with the largest tree size. */
  latestFinalCheckpoint(): Promise<Uint8Array | undefined>;
  /** Synced before the caller lets any vote leave the process. */
  putSignerState(s: Uint8Array): Promise<void>;
  getSignerState(): Promise<Uint8Array | undefined>;
  /** Appends records to height's WAL in one write (synced unless opts.sync === false). */
  walAppend(height: number, records: Uint8Array[], opts?: { sync?: boolean }): Promise<void>;
  /** All records of height's WAL in append order (bounded by the per-height WAL limits). */
  walRead(height: number): Promise<Uint8Array[]>;
  /** Deletes the WAL of every height < belowHeight. */
  walPrune(belowHeight: number): Promise<void>;
  /** Synced; identical evidence is stored once. EVIDENCE_FULL at limits.maxEvidenceRecords. */
  putEvidence(e: Uint8Array): Promise<void>;
  /** The oldest `limit` evidence records (limit ≤ limits.maxListEvidence). */
  listEvidence(limit: number): Promise<Uint8Array[]>;
  getMeta(key: string): Promise<Uint8Array | undefined>;
  /** Synced. */
  putMeta(key: string, v: Uint8Array): Promise<void>;
  /** The search indexes' records (node/search/db.ts): reads, and writes under the block lock. */
  searchAccess(): SearchAccess;
  close(): Promise<void>;
}

type Db = ClassicLevel<Uint8Array, Uint8Array>;

/** LevelDB hands back Buffers; callers get plain Uint8Array views (no copy). */
function plain(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function bad(message: string): never {
  throw new StoreError('BAD_ARGUMENT', message);
}

function checkNat(name: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) bad(`${name} must be a non-negative safe integer, got ${String(n)}`);
  return n;
}

function checkBytes(name: string, b: unknown, maxBytes: number, limitName: string, minBytes = 0): Uint8Array {
  if (!(b instanceof Uint8Array)) bad(`${name} must be a Uint8Array, got ${typeof b}`);
  if (b.length > maxBytes) throw new StoreError('LIMIT_EXCEEDED', `${name} is ${b.length} bytes, more than ${limitName} = ${maxBytes}`);
  if (b.length < minBytes) bad(`${name} is ${b.length} bytes, needs at least ${minBytes}`);
  return b;
}

function checkLimit(name: string, n: unknown, max: number, limitName: string): number {
  checkNat(name, n);
  if ((n as number) > max) throw new StoreError('LIMIT_EXCEEDED', `${name} ${String(n)} exceeds ${limitName} = ${max}`);
  return n as number;
}

/** Runs async critical sections one at a time, in call order. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

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
  private readonly checkpointLock = new Serial();
  private readonly walLock = new Serial();
  private readonly evidenceLock = new Serial();
  /** Per-height WAL usage, loaded lazily from disk on the first append at a height. */
  private readonly walUsage = new Map<number, { next: number; bytes: number }>();
  private nextEvidenceSeq = 0;
  /**
   * Bloom filter over every leaf-hash and (client, id) index key (logged-filter.ts): a "no" skips
   * LevelDB in lookupLogged / applyBlock. null when the log is too large to scan at open.
   */
  private loggedFilter: LoggedFilter | null = null;
  /** Search index writer (node/search), null when opened with searchIndexes: false. */
  private searchIndexer: SearchIndexer | null = null;

  constructor(db: Db, dir: string, limits: StoreLimits, firstHeight: number) {
    this.db = db;
    this.dir = dir;
    this.limits = Object.freeze(limits);
    this.firstHeight = firstHeight;
  }

  // ---------------------------------------------------------------------------------------------
  // Open-time checks

  async init(opts: StoreOptions): Promise<void> {
    const version = await this.db.get(singleKey(P_SCHEMA));
    if (version === undefined) {
      const anyKey = await this.db.keys({ limit: 1 }).all();
      if (anyKey.length > 0) {
        throw new StoreError('SCHEMA_UNSUPPORTED', `${this.dir} holds data but no schema version key: not a Cairn store of schema ${SCHEMA_VERSION}`);
      }
      await durablePut(this.db, singleKey(P_SCHEMA), u32(SCHEMA_VERSION));
    } else {
      const v = version.length === 4 ? new DataView(version.buffer, version.byteOffset, 4).getUint32(0) : -1;
      if (v !== SCHEMA_VERSION) {
        throw new StoreError('SCHEMA_UNSUPPORTED', `${this.dir} has schema version ${v === -1 ? '(malformed)' : v}; this program reads only version ${SCHEMA_VERSION}`);
      }
    }

    if (opts.genesisHash !== undefined) {
      checkBytes('genesisHash', opts.genesisHash, 64, 'the genesis hash length limit', 1);
      const stored = await this.db.get(singleKey(P_GENESIS));
      if (stored === undefined) {
        await durablePut(this.db, singleKey(P_GENESIS), opts.genesisHash);
      } else if (!bytesEqual(stored, opts.genesisHash)) {
        throw new StoreError(
          'GENESIS_MISMATCH',
          `${this.dir} belongs to genesis ${toHex(stored)}, not ${toHex(opts.genesisHash)}: refusing to mix two networks in one data dir`,
        );
      }
    }

    const headBytes = await this.db.get(singleKey(P_HEAD));
    if (headBytes === undefined) {
      const anyBlock = await this.db.keys({ gte: u64Key(P_BLOCK, 0), lt: prefixEnd(P_BLOCK), limit: 1 }).all();
      const anyLeaf = await this.db.keys({ gte: u64Key(P_LEAF, 0), lt: prefixEnd(P_LEAF), limit: 1 }).all();
      if (anyBlock.length > 0 || anyLeaf.length > 0) throw new StoreError('CORRUPT_HEAD', `${this.dir} has blocks or leaves but no head record`);
    } else {
      let head: StoreHead;
      try {
        head = decodeHead(plain(headBytes));
      } catch (e) {
        throw new StoreError('CORRUPT_HEAD', (e as Error).message, { cause: e });
      }
      await this.checkHead(head, opts.checkHeadBlock);
      this.cachedHead = head;
    }

    const lastEvidence = await this.db.keys({ gte: u64Key(P_EVIDENCE, 0), lt: prefixEnd(P_EVIDENCE), reverse: true, limit: 1 }).all();
    this.nextEvidenceSeq = lastEvidence.length === 0 ? 0 : u64OfKey(lastEvidence[0]!) + 1;
    this.loggedFilter = await this.scanLoggedKeys();
    if (opts.searchIndexes !== false) this.searchIndexer = await SearchIndexer.load((keys) => this.db.getMany(keys));
  }

  /** Builds the logged filter from the two index prefixes (bounded by LOGGED_FILTER_SCAN_KEYS_MAX). */
  private async scanLoggedKeys(): Promise<LoggedFilter | null> {
    const filter = new LoggedFilter();
    let scanned = 0;
    for (const prefix of [P_LEAF_HASH, P_CLIENT_ID]) {
      const it = this.db.keys({ gte: Uint8Array.of(prefix), lt: prefixEnd(prefix) });
      try {
        for (;;) {
          const batch = await it.nextv(10_000);
          if (batch.length === 0) break;
          scanned += batch.length;
          if (scanned > LOGGED_FILTER_SCAN_KEYS_MAX) return null;
          for (const k of batch) filter.add(k);
        }
      } finally {
        await it.close();
      }
    }
    return filter;
  }

  /**
   * The head must be self-consistent: its log state decodes to a compact range of its tree size
   * whose root (RFC 9162 §2.1.1) is the head root; that range equals the one rebuilt from the
   * stored tiles (so the right edge of every tile level agrees); the last leaf hashes to the last
   * level-0 tile hash; nothing lies beyond the head; the head's block and certificate exist.
   */
  private async checkHead(head: StoreHead, checkHeadBlock: StoreOptions['checkHeadBlock']): Promise<void> {
    const corrupt = (why: string): never => {
      throw new StoreError('CORRUPT_HEAD', `${this.dir}: head at height ${head.height}, tree size ${head.treeSize}: ${why}`);
    };
    let state: CompactRange;
    try {
      state = decodeState(head.logState);
    } catch (e) {
      return corrupt(`log state does not decode (${(e as Error).message})`);
    }
    if (state.size !== head.treeSize) corrupt(`log state is for tree size ${state.size}`);
    if (!bytesEqual(rootOf(state), head.root)) corrupt('root of the stored log state differs from the head root');
    if (head.treeSize === 0 && !bytesEqual(head.root, EMPTY_ROOT)) corrupt('empty tree with a non-empty root');
    let fromTiles: CompactRange;
    try {
      fromTiles = await compactRangeAt(this, head.treeSize);
    } catch (e) {
      return corrupt(`cannot rebuild the log state from the tiles (${(e as Error).message})`);
    }
    for (let i = 0; i < state.roots.length; i++) {
      if (!bytesEqual(state.roots[i]!, fromTiles.roots[i]!)) corrupt(`log state subtree root ${i} differs from the stored tiles`);
    }
    if (head.treeSize > 0) {
      // Read directly: getLeaf answers only below the cached head, which is not set yet.
      const last = await this.db.get(u64Key(P_LEAF, head.treeSize - 1));
      if (last === undefined) corrupt(`leaf ${head.treeSize - 1} is missing`);
      const [tile] = await this.readTiles([{ level: 0, index: Math.floor((head.treeSize - 1) / TILE_WIDTH), width: tileWidthAt(head.treeSize, 0, Math.floor((head.treeSize - 1) / TILE_WIDTH)) }]);
      const pos = (head.treeSize - 1) % TILE_WIDTH;
      if (!bytesEqual(leafHash(last!), tile!.subarray(pos * HASH_BYTES, (pos + 1) * HASH_BYTES))) {
        corrupt(`leaf ${head.treeSize - 1} does not hash to the level-0 tile hash`);
      }
    }
    if ((await this.db.get(u64Key(P_LEAF, head.treeSize))) !== undefined) corrupt(`a leaf exists at index ${head.treeSize}, beyond the head`);
    if ((await this.db.get(u64Key(P_BLOCK, head.height + 1))) !== undefined) corrupt(`a block exists at height ${head.height + 1}, beyond the head`);
    const block = await this.getBlock(head.height);
    if (block === undefined) corrupt('the head block is missing');
    if ((await this.getCertificate(head.height)) === undefined) corrupt('the head certificate is missing');
    if (checkHeadBlock !== undefined) {
      const why = checkHeadBlock(head, block!);
      if (why !== null) corrupt(`head block header disagrees: ${why}`);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('CLOSED', `store ${this.dir} is closed`);
  }

  // ---------------------------------------------------------------------------------------------
  // Blocks

  head(): StoreHead | null {
    return this.cachedHead;
  }

  async applyBlock(b: AppliedBlock): Promise<void> {
    this.assertOpen();
    return this.blockLock.run(() => this.applyBlockLocked(b));
  }

  private async applyBlockLocked(b: AppliedBlock): Promise<void> {
    this.assertOpen();
    const L = this.limits;
    if (b === null || typeof b !== 'object') bad('applyBlock needs an AppliedBlock object');
    const prev = this.cachedHead;
    const wantHeight = prev === null ? this.firstHeight : prev.height + 1;
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
    for (let i = 0; i < n; i++) {
      const leaf = checkBytes(`leaves[${i}]`, b.leaves[i], L.maxLeafBytes, 'maxLeafBytes');
      const lh = b.leafHashes[i];
      // RFC 9162 §2.1.1: the leaf hash is SHA-256(0x00 ‖ entry); a mismatch would make every proof
      // for this entry fail, so it is refused here rather than discovered by a client.
      if (!(lh instanceof Uint8Array) || !bytesEqual(lh, leafHash(leaf))) {
        throw new StoreError('BAD_BLOCK', `leafHashes[${i}] is not SHA-256(0x00 ‖ leaves[${i}]) (leaf index ${oldSize + i})`);
      }
      const cid = b.clientIds[i];
      if (cid === null || typeof cid !== 'object' || typeof cid.client !== 'string' || typeof cid.id !== 'string') {
        bad(`clientIds[${i}] must be { client: string, id: string }`);
      }
      clientKeys[i] = this.clientKey(cid.client, cid.id, `clientIds[${i}]`);
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

    // Tiles: exactly tilesTouchedByAppend(oldSize, newSize), each at its new width; hashes already
    // present before the append must equal the stored tile (tiles only ever grow, C2SP tlog-tiles),
    // and the new ones must equal the nodes the append completed at levels 0, 8, 16, ….
    const expected = tilesTouchedByAppend(oldSize, b.treeSize);
    if (b.tiles.length !== expected.length) {
      throw new StoreError('BAD_BLOCK', `block carries ${b.tiles.length} tiles; the append ${oldSize}→${b.treeSize} touches ${expected.length}`);
    }
    const completed = new Map<string, Uint8Array>();
    for (const s of appended.stored) {
      if (s.level % TILE_HEIGHT === 0) completed.set(`${s.level / TILE_HEIGHT}/${s.index}`, s.hash);
    }
    const extended = expected.filter((t) => hashesAtTileLevel(oldSize, t.level) > t.index * TILE_WIDTH);
    const oldTiles = extended.length === 0 ? [] : await this.db.getMany(extended.map((t) => tileKey(t.level, t.index)));
    const oldByKey = new Map<string, Uint8Array | undefined>();
    extended.forEach((t, i) => oldByKey.set(`${t.level}/${t.index}`, oldTiles[i]));
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

    // Indexes keep the FIRST leaf with a given hash / (client, id): never overwritten.
    const hashKeys = b.leafHashes.map((h) => bytesKey(P_LEAF_HASH, h));
    const [hashHave, clientHave] = await Promise.all([this.hasManyFiltered(hashKeys), this.hasManyFiltered(clientKeys)]);
    const seenHash = new Set<string>();
    const seenClient = new Set<string>();
    ops.push({ type: 'put', key: u64Key(P_BLOCK, b.height), value: b.blockBytes });
    ops.push({ type: 'put', key: u64Key(P_CERT, b.height), value: b.certificate });
    for (let i = 0; i < n; i++) {
      const index = oldSize + i;
      ops.push({ type: 'put', key: u64Key(P_LEAF, index), value: b.leaves[i]! });
      const hk = toHex(b.leafHashes[i]!);
      if (!hashHave[i] && !seenHash.has(hk)) {
        seenHash.add(hk);
        ops.push({ type: 'put', key: hashKeys[i]!, value: u64(index) });
      }
      const ck = toHex(clientKeys[i]!);
      if (!clientHave[i] && !seenClient.has(ck)) {
        seenClient.add(ck);
        ops.push({ type: 'put', key: clientKeys[i]!, value: encodeClientIdValue(index, b.leafHashes[i]!) });
      }
    }
    const head: StoreHead = {
      height: b.height,
      treeSize: b.treeSize,
      root: b.root.slice(),
      blockHash: b.blockHash.slice(),
      logState: b.logState.slice(),
    };
    // Search index records ride in the same synced batch as the leaves (node/search/index-writer.ts).
    const search = this.searchIndexer === null ? null : await this.searchIndexer.opsForBlock(oldSize, b.leaves);
    if (search !== null) for (const op of search.ops) ops.push(op);
    ops.push({ type: 'put', key: singleKey(P_HEAD), value: encodeHead(head) });
    // Into the filter BEFORE the write: a lookup racing the write then reads LevelDB, exactly as
    // without a filter (a failed write only leaves harmless false positives).
    if (this.loggedFilter !== null) {
      for (let i = 0; i < n; i++) {
        this.loggedFilter.add(hashKeys[i]!);
        this.loggedFilter.add(clientKeys[i]!);
      }
    }
    await durableBatch(this.db, ops);
    this.cachedHead = head;
    search?.commit();
  }

  private clientKey(client: string, id: string, name: string): Uint8Array {
    const cb = utf8(client).length;
    const ib = utf8(id).length;
    if (cb > this.limits.maxClientIdBytes || ib > this.limits.maxClientIdBytes) {
      throw new StoreError('LIMIT_EXCEEDED', `${name}: client (${cb} bytes) or id (${ib} bytes) exceeds maxClientIdBytes = ${this.limits.maxClientIdBytes}`);
    }
    return clientIdKey(client, id);
  }

  async getBlock(height: number): Promise<Uint8Array | undefined> {
    this.assertOpen();
    checkNat('height', height);
    const v = await this.db.get(u64Key(P_BLOCK, height));
    return v === undefined ? undefined : plain(v);
  }

  async getCertificate(height: number): Promise<Uint8Array | undefined> {
    this.assertOpen();
    checkNat('height', height);
    const v = await this.db.get(u64Key(P_CERT, height));
    return v === undefined ? undefined : plain(v);
  }

  async getBlocks(fromHeight: number, maxCount: number, maxBytes: number): Promise<BlockRecord[]> {
    this.assertOpen();
    checkNat('fromHeight', fromHeight);
    checkLimit('maxCount', maxCount, this.limits.maxGetBlocksCount, 'maxGetBlocksCount');
    checkLimit('maxBytes', maxBytes, this.limits.maxGetBlocksBytes, 'maxGetBlocksBytes');
    const head = this.cachedHead;
    if (head === null || fromHeight > head.height || maxCount === 0) return [];
    const out: BlockRecord[] = [];
    let bytes = 0;
    // Read in small chunks so a large maxCount never loads more than maxBytes plus one chunk.
    const CHUNK = 64;
    let h = fromHeight;
    while (out.length < maxCount && h <= head.height) {
      const take = Math.min(CHUNK, maxCount - out.length, head.height - h + 1);
      const heights = Array.from({ length: take }, (_, i) => h + i);
      const [blocks, certs] = await Promise.all([
        this.db.getMany(heights.map((x) => u64Key(P_BLOCK, x))),
        this.db.getMany(heights.map((x) => u64Key(P_CERT, x))),
      ]);
      for (let i = 0; i < take; i++) {
        const block = blocks[i];
        const cert = certs[i];
        if (block === undefined || cert === undefined) {
          throw new StoreError('CORRUPT_RECORD', `block or certificate at height ${heights[i]} is missing below the head (${head.height})`);
        }
        const size = block.length + cert.length;
        if (bytes + size > maxBytes) {
          if (out.length === 0) {
            throw new StoreError('LIMIT_EXCEEDED', `block ${heights[i]} with its certificate is ${size} bytes, more than maxBytes = ${maxBytes}`);
          }
          return out;
        }
        bytes += size;
        out.push({ height: heights[i]!, block: plain(block), certificate: plain(cert) });
      }
      h += take;
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Leaves, tiles, entry bundles, indexes

  async getLeaf(index: number): Promise<Uint8Array | undefined> {
    this.assertOpen();
    checkNat('index', index);
    const size = this.cachedHead?.treeSize ?? 0;
    if (index >= size) return undefined;
    const v = await this.db.get(u64Key(P_LEAF, index));
    return v === undefined ? undefined : plain(v);
  }

  async getLeaves(start: number, count: number): Promise<Uint8Array[]> {
    this.assertOpen();
    checkNat('start', start);
    checkLimit('count', count, this.limits.maxGetLeaves, 'maxGetLeaves');
    const size = this.cachedHead?.treeSize ?? 0;
    const end = Math.min(size, start + count);
    if (start >= end) return [];
    const values = await this.db.values({ gte: u64Key(P_LEAF, start), lt: u64Key(P_LEAF, end), limit: end - start }).all();
    if (values.length !== end - start) {
      throw new StoreError('CORRUPT_RECORD', `leaves ${start}..${end - 1}: ${end - start - values.length} missing below the tree size ${size}`);
    }
    return values.map(plain);
  }

  async readTiles(tiles: readonly TileId[]): Promise<Uint8Array[]> {
    this.assertOpen();
    if (!Array.isArray(tiles)) bad('readTiles needs an array of tile ids');
    checkLimit('tile count', tiles.length, this.limits.maxReadTiles, 'maxReadTiles');
    for (const t of tiles) checkTileIdArg(t);
    if (tiles.length === 0) return [];
    const values = await this.db.getMany(tiles.map((t) => tileKey(t.level, t.index)));
    return tiles.map((t, i) => {
      const v = values[i];
      if (v === undefined || v.length < t.width * HASH_BYTES) {
        // The merkle TileReader contract: a missing tile is MerkleError('TILE_MISSING').
        throw new MerkleError('TILE_MISSING', `tile ${t.level}/${t.index} width ${t.width} is not in ${this.dir}`);
      }
      return plain(v).subarray(0, t.width * HASH_BYTES);
    });
  }

  async readTile(level: number, index: number, width: number = TILE_WIDTH): Promise<Uint8Array | undefined> {
    this.assertOpen();
    checkTileIdArg({ level, index, width });
    const size = this.cachedHead?.treeSize ?? 0;
    if (tileWidthAt(size, level, index) < width) return undefined;
    const v = await this.db.get(tileKey(level, index));
    if (v === undefined || v.length < width * HASH_BYTES) {
      throw new StoreError('CORRUPT_RECORD', `tile ${level}/${index} should hold ${width} hashes at tree size ${size} but is not stored`);
    }
    return plain(v).subarray(0, width * HASH_BYTES);
  }

  async readEntryBundle(n: number, width: number = TILE_WIDTH): Promise<Uint8Array | undefined> {
    this.assertOpen();
    checkTileIdArg({ level: 0, index: n, width });
    const size = this.cachedHead?.treeSize ?? 0;
    if (tileWidthAt(size, 0, n) < width) return undefined;
    // C2SP tlog-tiles "Log entries": each entry is a big-endian uint16 length followed by the entry.
    return encodeEntryBundle(await this.getLeaves(n * TILE_WIDTH, width));
  }

  /** db.getMany that answers undefined from the logged filter for keys never added (index keys only). */
  private async getManyFiltered(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    const f = this.loggedFilter;
    if (f === null) return this.db.getMany(keys);
    const ask: number[] = [];
    for (let i = 0; i < keys.length; i++) if (f.mightContain(keys[i]!)) ask.push(i);
    const out: (Uint8Array | undefined)[] = new Array<undefined>(keys.length).fill(undefined);
    if (ask.length === 0) return out;
    const got = await this.db.getMany(ask.map((i) => keys[i]!));
    ask.forEach((i, k) => (out[i] = got[k]));
    return out;
  }

  private async hasManyFiltered(keys: Uint8Array[]): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const f = this.loggedFilter;
    if (f === null) return this.db.hasMany(keys);
    const ask: number[] = [];
    for (let i = 0; i < keys.length; i++) if (f.mightContain(keys[i]!)) ask.push(i);
    const out: boolean[] = new Array<boolean>(keys.length).fill(false);
    if (ask.length === 0) return out;
    const got = await this.db.hasMany(ask.map((i) => keys[i]!));
    ask.forEach((i, k) => (out[i] = got[k]!));
    return out;
  }

  async indexOfLeafHash(hash: Uint8Array): Promise<number | undefined> {
    this.assertOpen();
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_BYTES) bad(`leaf hash must be ${HASH_BYTES} bytes`);
    const key = bytesKey(P_LEAF_HASH, hash);
    if (this.loggedFilter !== null && !this.loggedFilter.mightContain(key)) return undefined;
    const v = await this.db.get(key);
    return v === undefined ? undefined : decodeU64Value(v, 'leaf-hash index');
  }

  async lookupClientId(client: string, id: string): Promise<{ index: number; leafHash: Uint8Array } | undefined> {
    this.assertOpen();
    if (typeof client !== 'string' || typeof id !== 'string') bad('client and id must be strings');
    const key = this.clientKey(client, id, 'lookupClientId');
    if (this.loggedFilter !== null && !this.loggedFilter.mightContain(key)) return undefined;
    const v = await this.db.get(key);
    return v === undefined ? undefined : decodeClientIdValue(plain(v));
  }

  async lookupLogged(entries: readonly { leafHash: Uint8Array; client: string; id: string }[]): Promise<{ index: number | undefined; logged: { index: number; leafHash: Uint8Array } | undefined }[]> {
    this.assertOpen();
    if (!Array.isArray(entries)) bad('entries must be an array');
    if (entries.length > LOOKUP_BATCH_MAX) throw new StoreError('LIMIT_EXCEEDED', `lookupLogged: ${entries.length} entries, more than LOOKUP_BATCH_MAX = ${LOOKUP_BATCH_MAX}`);
    if (entries.length === 0) return [];
    const keys: Uint8Array[] = [];
    for (const e of entries) {
      if (!(e.leafHash instanceof Uint8Array) || e.leafHash.length !== HASH_BYTES) bad(`leaf hash must be ${HASH_BYTES} bytes`);
      if (typeof e.client !== 'string' || typeof e.id !== 'string') bad('client and id must be strings');
      keys.push(bytesKey(P_LEAF_HASH, e.leafHash), this.clientKey(e.client, e.id, 'lookupLogged'));
    }
    const values = await this.getManyFiltered(keys);
    return entries.map((_, i) => {
      const byHash = values[2 * i];
      const byId = values[2 * i + 1];
      return {
        index: byHash === undefined ? undefined : decodeU64Value(byHash, 'leaf-hash index'),
        logged: byId === undefined ? undefined : decodeClientIdValue(plain(byId)),
      };
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Checkpoints

  async putCheckpoint(treeSize: number, note: Uint8Array, final: boolean): Promise<void> {
    this.assertOpen();
    checkNat('treeSize', treeSize);
    checkBytes('note', note, this.limits.maxCheckpointBytes, 'maxCheckpointBytes', 1);
    if (typeof final !== 'boolean') bad('final must be a boolean');
    const size = this.cachedHead?.treeSize ?? 0;
    if (treeSize > size) bad(`checkpoint tree size ${treeSize} is beyond the applied tree size ${size}`);
    return this.checkpointLock.run(async () => {
      this.assertOpen();
      const key = u64Key(P_CHECKPOINT, treeSize);
      if (!final) {
        const existing = await this.db.get(key);
        if (existing !== undefined && decodeCheckpoint(existing).final) return;
      }
      const ops: BatchOp[] = [{ type: 'put', key, value: encodeCheckpoint(note, final) }];
      if (final) {
        const cur = await this.db.get(singleKey(P_FINAL));
        if (cur === undefined || decodeU64Value(cur, 'latest final checkpoint') <= treeSize) {
          ops.push({ type: 'put', key: singleKey(P_FINAL), value: u64(treeSize) });
        }
      }
      await durableBatch(this.db, ops);
    });
  }

  async getCheckpoint(treeSize: number): Promise<CheckpointRecord | undefined> {
    this.assertOpen();
    checkNat('treeSize', treeSize);
    const v = await this.db.get(u64Key(P_CHECKPOINT, treeSize));
    return v === undefined ? undefined : decodeCheckpoint(plain(v));
  }

  async latestFinalCheckpoint(): Promise<Uint8Array | undefined> {
    this.assertOpen();
    const ptr = await this.db.get(singleKey(P_FINAL));
    if (ptr === undefined) return undefined;
    const size = decodeU64Value(ptr, 'latest final checkpoint');
    const rec = await this.getCheckpoint(size);
    if (rec === undefined || !rec.final) throw new StoreError('CORRUPT_RECORD', `latest final checkpoint points at tree size ${size}, which has no final checkpoint`);
    return rec.note;
  }

  // ---------------------------------------------------------------------------------------------
  // Consensus signer state and WAL

  async putSignerState(s: Uint8Array): Promise<void> {
    this.assertOpen();
    checkBytes('signer state', s, this.limits.maxSignerStateBytes, 'maxSignerStateBytes', 1);
    await durablePut(this.db, singleKey(P_SIGNER), s);
  }

  async getSignerState(): Promise<Uint8Array | undefined> {
    this.assertOpen();
    const v = await this.db.get(singleKey(P_SIGNER));
    return v === undefined ? undefined : plain(v);
  }

  async walAppend(height: number, records: Uint8Array[], opts: { sync?: boolean } = {}): Promise<void> {
    this.assertOpen();
    const L = this.limits;
    checkNat('height', height);
    if (!Array.isArray(records)) bad('records must be an array');
    checkLimit('WAL records per append', records.length, L.maxWalRecordsPerAppend, 'maxWalRecordsPerAppend');
    let bytes = 0;
    records.forEach((r, i) => {
      bytes += checkBytes(`WAL record ${i}`, r, L.maxWalRecordBytes, 'maxWalRecordBytes').length;
    });
    if (records.length === 0) return;
    return this.walLock.run(async () => {
      this.assertOpen();
      const usage = await this.walUsageOf(height);
      if (usage.next + records.length > L.maxWalRecordsPerHeight) {
        throw new StoreError('WAL_FULL', `WAL of height ${height} would hold ${usage.next + records.length} records, more than maxWalRecordsPerHeight = ${L.maxWalRecordsPerHeight}`);
      }
      if (usage.bytes + bytes > L.maxWalBytesPerHeight) {
        throw new StoreError('WAL_FULL', `WAL of height ${height} would hold ${usage.bytes + bytes} bytes, more than maxWalBytesPerHeight = ${L.maxWalBytesPerHeight}`);
      }
      const ops: BatchOp[] = records.map((r, i) => ({ type: 'put', key: walKey(height, usage.next + i), value: r }));
      await writeBatch(this.db, ops, { durable: opts.sync !== false });
      usage.next += records.length;
      usage.bytes += bytes;
    });
  }

  /** Record count and bytes of height's WAL, scanned once per height per process. */
  private async walUsageOf(height: number): Promise<{ next: number; bytes: number }> {
    let usage = this.walUsage.get(height);
    if (usage === undefined) {
      const records = await this.walRecords(height);
      let bytes = 0;
      for (const r of records) bytes += r.value.length;
      usage = { next: records.length === 0 ? 0 : walSeqOfKey(records[records.length - 1]!.key) + 1, bytes };
      this.walUsage.set(height, usage);
    }
    return usage;
  }

  private async walRecords(height: number): Promise<{ key: Uint8Array; value: Uint8Array }[]> {
    const L = this.limits;
    const out: { key: Uint8Array; value: Uint8Array }[] = [];
    let bytes = 0;
    const it = this.db.iterator({ gte: walKey(height, 0), lt: walKey(height + 1, 0), limit: L.maxWalRecordsPerHeight + 1 });
    try {
      for await (const [key, value] of it) {
        bytes += value.length;
        if (out.length >= L.maxWalRecordsPerHeight || bytes > L.maxWalBytesPerHeight) {
          throw new StoreError('LIMIT_EXCEEDED', `WAL of height ${height} exceeds maxWalRecordsPerHeight = ${L.maxWalRecordsPerHeight} or maxWalBytesPerHeight = ${L.maxWalBytesPerHeight}`);
        }
        out.push({ key: plain(key), value: plain(value) });
      }
    } finally {
      await it.close();
    }
    return out;
  }

  async walRead(height: number): Promise<Uint8Array[]> {
    this.assertOpen();
    checkNat('height', height);
    return (await this.walLock.run(() => this.walRecords(height))).map((r) => r.value);
  }

  async walPrune(belowHeight: number): Promise<void> {
    this.assertOpen();
    checkNat('belowHeight', belowHeight);
    await this.walLock.run(async () => {
      // Not synced: a prune lost in a crash only leaves old records behind, which are pruned again.
      await this.db.clear({ gte: walKey(0, 0), lt: walKey(belowHeight, 0) });
      for (const h of [...this.walUsage.keys()]) if (h < belowHeight) this.walUsage.delete(h);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Evidence

  async putEvidence(e: Uint8Array): Promise<void> {
    this.assertOpen();
    checkBytes('evidence', e, this.limits.maxEvidenceBytes, 'maxEvidenceBytes', 1);
    return this.evidenceLock.run(async () => {
      this.assertOpen();
      const hashKey = bytesKey(P_EVIDENCE_HASH, sha256(e));
      if ((await this.db.get(hashKey)) !== undefined) return;
      if (this.nextEvidenceSeq >= this.limits.maxEvidenceRecords) {
        throw new StoreError('EVIDENCE_FULL', `the store holds maxEvidenceRecords = ${this.limits.maxEvidenceRecords} evidence records`);
      }
      const seq = this.nextEvidenceSeq;
      await durableBatch(this.db, [
        { type: 'put', key: u64Key(P_EVIDENCE, seq), value: e },
        { type: 'put', key: hashKey, value: u64(seq) },
      ]);
      this.nextEvidenceSeq = seq + 1;
    });
  }

  async listEvidence(limit: number): Promise<Uint8Array[]> {
    this.assertOpen();
    checkLimit('limit', limit, this.limits.maxListEvidence, 'maxListEvidence');
    if (limit === 0) return [];
    const values = await this.db.values({ gte: u64Key(P_EVIDENCE, 0), lt: prefixEnd(P_EVIDENCE), limit }).all();
    return values.map(plain);
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
      this.checkpointLock.run(async () => undefined),
      this.walLock.run(async () => undefined),
      this.evidenceLock.run(async () => undefined),
    ]);
    await this.db.close();
  }
}

function checkTileIdArg(t: TileId): void {
  try {
    checkTileId(t);
  } catch (e) {
    throw new StoreError('BAD_ARGUMENT', (e as Error).message, { cause: e });
  }
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

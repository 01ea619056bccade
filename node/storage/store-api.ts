// The public contract of the peer's store: the Store interface, its options and the records it
// takes and hands back. The implementation is store.ts; the durability rules are described there.

import type { TileReader, TileId } from '../../src/merkle/index.js';
import type { StoreHead } from './codec.js';
import type { StoreLimits } from './store-limits.js';
import type { SearchAccess } from '../search/db.js';
import type { SearchFields } from '../../src/search/fields.js';

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
  /**
   * true: the caller derived each leafHashes[i] from these exact leaf bytes (the ledger does,
   * once per entry, while validating the block), so the store does not hash every leaf again
   * (a SHA-256 per entry on the catch-up path). Default: the store recomputes and compares them.
   * The compact range, root and tiles are re-derived from the hashes either way.
   */
  leafHashesFromLeaves?: boolean;
  /** Parallel to leaves. */
  clientIds: { client: string; id: string }[];
  /**
   * Parallel to leaves, optional: the search fields the caller already extracted from exactly
   * these leaf bytes (src/search/fields.ts fieldsOf of the parsed leaf); an undefined item (or no
   * array) and the search index parses the leaf itself.
   */
  fields?: readonly (SearchFields | null | undefined)[];
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
  /**
   * Consecutive blocks (catch-up: certified heights) in ONE synced batch, each checked as
   * applyBlock checks it against the state the ones before it leave: a crash leaves all of them
   * or none. At most MAX_BLOCKS_PER_APPLY (64) blocks.
   */
  applyBlocks(bs: readonly AppliedBlock[]): Promise<void>;
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
  /** Writes the signer state and appends records to height's WAL in one synced batch (WAL_FULL as walAppend). */
  putSignerStateWithWal(s: Uint8Array, height: number, records: Uint8Array[]): Promise<void>;
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

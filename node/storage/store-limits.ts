// The store's limits: every bound on a record, a batch and a read, with its default, and the
// fixed constants of the key layout and lookup batches. Each error that enforces a limit names it.

/** Most index keys scanned into the logged filter at open; beyond, the store runs without it. */
export const LOGGED_FILTER_SCAN_KEYS_MAX = 20_000_000;

/** The schema this code writes and the only one it opens. Bump on any incompatible key/value change. */
export const SCHEMA_VERSION = 1;
/** Most entries in one Store.lookupLogged call (two keys each in one LevelDB multi-get). */
export const LOOKUP_BATCH_MAX = 10_000;

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

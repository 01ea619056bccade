// Errors of the peer's storage layer. Every failure carries a stable machine-readable `code` (for
// callers, logs and metrics) and a human message that names the offending value and, where one
// applies, the limit that was exceeded.

export type StoreErrorCode =
  /** The LevelDB directory could not be opened (I/O error, corruption reported by LevelDB, ...). */
  | 'OPEN_FAILED'
  /** Another process (or another Store in this process) holds the LevelDB lock on the directory. */
  | 'STORE_LOCKED'
  /** The store was written by a schema version this code does not understand. */
  | 'SCHEMA_UNSUPPORTED'
  /** The store belongs to a different genesis (a different network). */
  | 'GENESIS_MISMATCH'
  /** The stored head is not self-consistent (log state, tiles, last leaf or last block disagree). */
  | 'CORRUPT_HEAD'
  /** A stored record cannot be decoded. */
  | 'CORRUPT_RECORD'
  /** The Store was closed. */
  | 'CLOSED'
  /** A caller passed an argument of the wrong type or outside its domain. */
  | 'BAD_ARGUMENT'
  /** A request or record is larger than a named limit. */
  | 'LIMIT_EXCEEDED'
  /** applyBlock: the block does not extend the current head (height, first index). */
  | 'NOT_NEXT_BLOCK'
  /** applyBlock: the block's fields are inconsistent with each other (hashes, sizes, tiles, state). */
  | 'BAD_BLOCK'
  /** A tile a reader asked for has not been written (the tree has not reached it). */
  | 'TILE_MISSING'
  /** walAppend: the per-height WAL limit (records or bytes) would be exceeded. */
  | 'WAL_FULL'
  /** putEvidence: the evidence store holds its maximum number of records. */
  | 'EVIDENCE_FULL';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export function isStoreError(e: unknown): e is StoreError {
  return e instanceof StoreError;
}

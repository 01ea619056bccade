// Errors of the Merkle log. Every failure carries a stable machine-readable `code` (for callers
// and metrics) and a human message naming the value and, where one applies, the limit.

export type MerkleErrorCode =
  /** A tree size is not an integer in 0..MAX_TREE_SIZE. */
  | 'BAD_SIZE'
  /** A leaf index or node coordinate is not a non-negative safe integer or is out of range. */
  | 'BAD_INDEX'
  /** A level is not an integer in its allowed range. */
  | 'BAD_LEVEL'
  /** A hash is not a Uint8Array of exactly HASH_BYTES bytes. */
  | 'BAD_HASH'
  /** Two sizes are in the wrong order (e.g. size1 > size2). */
  | 'SIZE_ORDER'
  /** A batch, list or buffer is larger than a named limit. */
  | 'LIMIT_EXCEEDED'
  /** A serialized compact range is malformed. */
  | 'BAD_STATE_ENCODING'
  /** A tile identifier (level, index, width) is out of range. */
  | 'BAD_TILE_ID'
  /** A tile's bytes are malformed (length not a multiple of 32, narrower than requested, ...). */
  | 'BAD_TILE'
  /** A tile that a computation needs is not in the store. */
  | 'TILE_MISSING'
  /** A TileReader broke its contract (wrong number of results, ...). */
  | 'READER_CONTRACT'
  /** The stored hashes handed to tileWritesForAppend do not cover the append. */
  | 'MISSING_STORED_HASH'
  /** An entry bundle is malformed or an entry is too large for one. */
  | 'BAD_ENTRY_BUNDLE';

export class MerkleError extends Error {
  readonly code: MerkleErrorCode;
  constructor(code: MerkleErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'MerkleError';
    this.code = code;
  }
}

export function isMerkleError(e: unknown): e is MerkleError {
  return e instanceof MerkleError;
}

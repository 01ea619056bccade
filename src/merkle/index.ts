// Public API of the Merkle log (RFC 9162 §2.1 tree, C2SP tlog-tiles storage layout).
export { MerkleError, isMerkleError, type MerkleErrorCode } from './errors.js';
export { HASH_BYTES, EMPTY_ROOT, leafHash, nodeHash, isHash, setSha256Into, sha256IntoImplementation, type Sha256Into } from './hash.js';
export { MAX_TREE_SIZE } from './math.js';
export {
  type CompactRange,
  type StoredHash,
  type AppendResult,
  EMPTY_RANGE,
  MAX_APPEND_BATCH,
  MAX_STATE_BYTES,
  appendLeafHashes,
  rootOf,
  encodeState,
  decodeState,
  compactRangeNodes,
} from './compact-range.js';
export {
  type TileId,
  type EntryBundleId,
  type ParsedTilePath,
  type TilePathErrorCode,
  TILE_HEIGHT,
  TILE_WIDTH,
  FULL_TILE_BYTES,
  MAX_TILE_LEVEL,
  MAX_TILE_PATH_CHARS,
  MAX_LISTED_TILES,
  tilePath,
  entryBundlePath,
  parseTilePath,
  tilesForSize,
  partialTilesForSize,
  tilesTouchedByAppend,
  tileWidthAt,
  hashesAtTileLevel,
  buildTileBytes,
  tileBytesWidth,
  tileHash,
  truncateTile,
  tileStartLeaf,
} from './tiles.js';
export { MAX_ENTRY_BYTES, encodeEntryBundle, decodeEntryBundle } from './entry-bundle.js';
export {
  type TileReader,
  MAX_TILES_PER_READ,
  MemoryTileStore,
  TileCache,
  readTilesChecked,
  tileWritesForAppend,
} from './tile-store.js';
export { type NodeId, MAX_NODES_PER_READ, readNodeHashes, hashAt } from './hash-reader.js';
export { treeHash, compactRangeAt, inclusionProof, consistencyProof } from './proof.js';
export {
  type VerifyResult,
  type VerifyFailureCode,
  type RootFromInclusionResult,
  MAX_PROOF_HASHES,
  rootFromInclusionProof,
  verifyInclusion,
  verifyInclusionResult,
  verifyConsistency,
  verifyConsistencyResult,
} from './verify.js';
export { MerkleLog } from './log.js';

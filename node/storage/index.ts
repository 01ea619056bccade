// The peer's storage layer (classic-level / LevelDB). See store.ts for the durability rules and
// keys.ts for the key space.
export {
  openStore,
  SCHEMA_VERSION,
  DEFAULT_LIMITS,
  type Store,
  type StoreHead,
  type StoreOptions,
  type StoreLimits,
  type AppliedBlock,
  type BlockRecord,
  type CheckpointRecord,
} from './store.js';
export { StoreError, isStoreError, type StoreErrorCode } from './errors.js';
export { verifyStore, MAX_VERIFY_CHUNK_LEAVES, type VerifyStoreResult, type VerifyStoreCode, type VerifyStoreOptions } from './verify.js';
export { buildAppliedBlock, prepareAppend, type BlockBuildInput, type PreparedAppend } from './build.js';

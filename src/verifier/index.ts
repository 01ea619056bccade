// Public API of Cairn's light verifier (portable: runs in browsers, no node: imports).
export { parseTrustFile, formatTrustFile, TRUST_FILE_BYTES_MAX, type TrustRoot, type TrustErrorCode } from './trust.js';
export {
  verifyCheckpoint,
  verifyInclusion,
  verifyConsistency,
  verifyReceipt,
  type VerifyOptions,
  type VerifierErrorCode,
  type VerifyFailure,
  type VerifiedTreeHead,
  type InclusionInput,
  type ConsistencyInput,
} from './verify.js';
export { quorumSize } from '../checkpoint/checkpoint.js';
export { parseVerifierKey, formatVerifierKey, type VerifierKey } from '../checkpoint/keys.js';
export { parseReceipt, formatReceipt, type Receipt } from '../checkpoint/receipt.js';
export {
  trustChainFromRoot,
  trustAtSize,
  currentTrust,
  verifyCheckpointAt,
  verifyReceiptAt,
  verifyConsistencyAt,
  updateTrustChain,
  TRUST_EPOCHS_MAX,
  TRUST_STEPS_MAX,
  type TrustChain,
  type TrustEpoch,
  type TrustStep,
  type AppliedStep,
  type ChainErrorCode,
  type ChainFailure,
} from './chain.js';
export { parseTrustChainFile, formatTrustChainFile, TRUST_CHAIN_VERSION, TRUST_CHAIN_BYTES_MAX, type TrustChainErrorCode } from './chain-file.js';

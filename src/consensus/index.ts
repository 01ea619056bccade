// Public API of the Tendermint consensus core (pure: no I/O, no clock).
export type * from './types.js';
export { ConsensusDriver, checkSignerState } from './driver.js';
export { ConsensusError } from './errors.js';
export { quorum, skipThreshold, proposer, quorumTwoFPlusOne } from './quorum.js';
export { proposalSignBytes, voteSignBytes, compactProposalSignBytes, CONSENSUS_DOMAIN } from './sign-bytes.js';
export {
  encodeMessage,
  decodeMessage,
  encodeCertificate,
  decodeCertificate,
  CODEC_VERSION,
  MESSAGE_BYTES_MAX,
  CERTIFICATE_BYTES_MAX,
  CERTIFICATE_SIGNATURES_MAX,
  type DecodeMessageResult,
  type DecodeCertificateResult,
} from './codec.js';
export { verifyCommitCertificate, type CertificateResult } from './certificate.js';
export { checkMessage, checkMessageShape, type CheckResult } from './message-check.js';
export { VoteKeeper, idKey, type AddResult } from './vote-keeper.js';
export { transition, initialState, type RoundState, type RoundInput, type RoundOutput } from './state-machine.js';
export { SignerGuard, compareHrs } from './signer-guard.js';
export * from './limits.js';

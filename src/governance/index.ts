// Public API of Cairn governance (portable and pure: no I/O, no clock). See docs/governance.md.
export * from './types.js';
export { parseGovRecord, parseGovRecordBytes, govRecordBytes, govStatement, govAction, isGovEntry, govRecordFromEntry } from './parse.js';
export { checkGovSignatures, type SigningOrg } from './check.js';
export { unsignedGovRecord, signGov, withSigs, signGovRecord, govEntry, type UnsignedGovRecord, type GovSigner } from './sign.js';
export { genesisGovState, advanceGov, applyGovernance, type ApplyOptions, type ApplyResult, type GovEffect } from './state.js';
export {
  membershipAt,
  replayGovernance,
  validatorsAt,
  paramsAt,
  clientAuthorizedAt,
  govStateView,
  govStateHash,
  type Membership,
  type PlacedGovRecord,
} from './membership.js';
export { tallyBallots, type BallotTally } from './tally.js';

// The consensus API contract shared by the state machine (src/consensus/) and the deterministic
// simulator (test/sim/) and the peer program (node/). Change it only ADDITIVELY: all three
// build against it, so a removed or renamed field breaks the others.
//
// Model: Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon, Milosevic,
// arXiv 1807.04938), equal-power validators, quorum q = floor(2n/3)+1, skip threshold n - q + 1.
// The driver is pure: no I/O, no clock, no randomness. Inputs in, ordered effects out.

import type { Ed25519Signer, Ed25519Verifier } from '../crypto/types.js';

/** The three steps of a round (paper: step_p ∈ {propose, prevote, precommit}). */
export type Step = 'propose' | 'prevote' | 'precommit';

/** One validator (one organization). Its index in `ConsensusConfig.validators` is its validator index. */
export interface Validator {
  name: string;
  publicKey: Uint8Array;
}

/** ⟨PROPOSAL, h, r, v, vr⟩ — signed over proposalSignBytes(chainId, h, r, valueId(v), vr). */
export interface Proposal {
  type: 'proposal';
  height: number;
  round: number;
  value: Uint8Array;
  /** -1 = none (paper: validRound_p = -1). */
  validRound: number;
  validator: number;
  signature: Uint8Array;
}

/** ⟨PREVOTE|PRECOMMIT, h, r, id(v)|nil⟩ — signed over voteSignBytes(chainId, type, h, r, valueId). */
export interface Vote {
  type: 'prevote' | 'precommit';
  height: number;
  round: number;
  /** null = nil. */
  valueId: Uint8Array | null;
  validator: number;
  signature: Uint8Array;
}

export type ConsensusMessage = Proposal | Vote;

/** q precommits for valueId at (height, round): proof that the value was decided. */
export interface CommitCertificate {
  height: number;
  round: number;
  valueId: Uint8Array;
  signatures: { validator: number; signature: Uint8Array }[];
}

/** Two different validly signed messages by one validator for the same (height, round, type). */
export interface Equivocation {
  height: number;
  round: number;
  type: 'proposal' | 'prevote' | 'precommit';
  validator: number;
  first: ConsensusMessage;
  second: ConsensusMessage;
}

/**
 * The last message this validator signed. Kept in full (it carries its signature) so that a
 * restarted driver can re-emit it byte-identically instead of signing anything new for the same
 * (height, round, step). Ed25519 is deterministic, so re-signing identical sign-bytes gives the
 * identical signature anyway; keeping the message also keeps the proposal value.
 */
export interface LastSigned {
  height: number;
  round: number;
  step: Step;
  /** valueId of the vote, or valueId(value) of the proposal; null = nil vote. */
  valueId: Uint8Array | null;
  message: ConsensusMessage;
}

/**
 * Everything that must be durable BEFORE a signed message leaves the process (the `persist`
 * effect always precedes the `broadcast` it protects). Restoring = new ConsensusDriver(cfg, state).
 */
export interface SignerState {
  /** Format version of this record; currently 1. */
  version: 1;
  height: number;
  round: number;
  step: Step;
  /** Paper: lockedValue_p / lockedRound_p (-1 = none). */
  lockedValue: Uint8Array | null;
  lockedRound: number;
  /** Paper: validValue_p / validRound_p (-1 = none). */
  validValue: Uint8Array | null;
  validRound: number;
  /** The last signed (height, round, step, valueId); null = never signed anything. */
  lastSigned: LastSigned | null;
}

/** Timeout of a step in round r = base + r * deltaMs (paper: timeouts grow with the round). */
export interface Timeouts {
  proposeMs: number;
  prevoteMs: number;
  precommitMs: number;
  /** Added per round. */
  deltaMs: number;
}

/**
 * The validator set of one height, from this validator's point of view. Validator index =
 * position in `validators`; quorum ⌊2n/3⌋+1 of them; proposer(h, r) = (h + r) mod n.
 */
export interface HeightValidators {
  validators: readonly Validator[];
  /** Our index in `validators` at this height; null = not a validator there (never signs). */
  selfIndex: number | null;
  /** Our signer at this height (its public key must be validators[selfIndex].publicKey). */
  signer: Ed25519Signer | null;
  /**
   * false when the set may still change (a later block could decide a change that comes in
   * force at this height): messages checked against it are re-checked at start-height, and a
   * failing check is reported as SET_NOT_KNOWN, not as a fault of the sender. Default true.
   */
  known?: boolean;
}

export interface ConsensusConfig {
  /** The log origin; part of every sign-bytes. */
  chainId: string;
  /** The validator set when `validatorSetAt` is absent (one set for every height). */
  validators: Validator[];
  /** null = observer (never signs). */
  selfIndex: number | null;
  signer: Ed25519Signer | null;
  /** Checks every incoming message signature before it is counted. */
  verifier: Ed25519Verifier;
  /**
   * The validator set (and our place in it) of each height, when it changes over time
   * (governance). The set of h + 1 must be final once h is decided. Deterministic: the same
   * height gives the same set on every correct peer. When absent, `validators`, `selfIndex`
   * and `signer` hold for every height.
   */
  validatorSetAt?(height: number): HeightValidators;
  /** Proposer's new value (the node's block) — paper: getValue(). */
  getValue(height: number, round: number): Uint8Array;
  /**
   * The ledger's verdict — paper: valid(v) at L22, L28, L36 and L49. Must be DETERMINISTIC: the
   * same (height, value) gives the same answer on every correct peer at any time (chain, entries,
   * roots, block time after the previous block ...), because it gates decisions (L49) as well as
   * votes; the driver caches it by id(v) for the height. Nothing that depends on the local clock.
   */
  isValid(height: number, value: Uint8Array): boolean;
  /**
   * Timeliness of a FRESH proposal (validRound = −1, L22 only): e.g. the block time is within the
   * allowed skew of the local clock. Default: always timely. Asked afresh every time (never
   * cached): a peer whose clock is off only withholds its prevote for new values; it still
   * locks, precommits and decides values that q peers prevoted (L28, L36, L49 ignore it).
   */
  isTimely?(height: number, value: Uint8Array): boolean;
  /**
   * The validator index a value attributes itself to (a block header's proposer), or null when
   * the value carries none (then isValid alone decides). When set, the driver requires, for a
   * proposal of round r with validRound vr: vr = −1 -> proposerOf(v) = proposer(h, r) (a fresh
   * value names the proposer that signed it); vr >= 0 -> proposerOf(v) = proposer(h, r') for
   * some r' <= vr (a re-proposed value keeps the name of the round that first proposed it).
   * Checked at L22, L28, L36 and L49, so a decided value is attributed to a validator that
   * signed a fresh proposal of it.
   */
  proposerOf?(value: Uint8Array): number | null;
  /** Default sha256(value). */
  valueId?(value: Uint8Array): Uint8Array;
  timeouts: Timeouts;
  /**
   * Vote keeper bound: rounds kept in full ABOVE the current round (default 16, ROUNDS_KEPT_DEFAULT);
   * proposals are also kept in full only down to this many rounds below it.
   */
  maxRoundsKept?: number;
  /**
   * Vote keeper bound: rounds kept in full BELOW the current round (default 256,
   * PAST_ROUNDS_KEPT_DEFAULT). Older rounds stay only while pinned (polka rounds, our
   * locked/valid round, the validRound of a current proposal): see vote-keeper.ts.
   */
  maxPastRoundsKept?: number;
  /** How many heights ahead messages are buffered for replay at start-height (default 2). */
  futureHeightWindow?: number;
  /** Messages buffered per future height (default 4 * n * (rounds kept) ). */
  maxBufferedPerHeight?: number;
  /** Largest accepted proposal value in bytes (default 4 MiB). */
  maxValueBytes?: number;
  /** ONLY for simulator bug-injection tests. Never set in production. */
  bugs?: { quorumTwoFPlusOne?: boolean; noLocking?: boolean; noSignerPersistence?: boolean };
}

/**
 * Inputs.
 * - start-height: begin height h at round 0 (paper: StartRound(0)). Called by the caller after
 *   `decide` for height+1 (and once at boot). With a restored SignerState, call start-height with
 *   restored.height to RESUME: the driver stays in the restored round/step, re-emits its last
 *   signed message (byte-identical) if it belongs to that round, and re-schedules the current
 *   step's timeout. WAL messages may be re-fed before or after it; both are safe.
 * - message: a received (or WAL-replayed) message; the driver verifies it before counting.
 * - timeout: a previously scheduled timeout fired; stale ones are ignored.
 */
export type Input =
  | { kind: 'start-height'; height: number }
  | { kind: 'message'; message: ConsensusMessage }
  | { kind: 'timeout'; height: number; round: number; step: Step };

/**
 * Effects, in the order the caller must execute them.
 * - persist: make `state` durable BEFORE executing any later effect.
 * - broadcast: send to all peers. The driver has already counted its own message itself; the
 *   caller must NOT loop it back (doing so is harmless: it is an exact duplicate).
 * - schedule-timeout: call handle({kind:'timeout', height, round, step}) after durationMs.
 * - decide: value decided at height; the driver then waits for start-height(height + 1).
 * - evidence: equivocation seen (reported once per validator/round/type). Both messages count
 *   toward their own values, as the paper counts messages from distinct senders (bounded: see
 *   vote-keeper.ts).
 * - rejected: diagnostics for an ignored input (bad signature, malformed, stale, ...). Code
 *   TRANSITION_LIMIT means an invariant broke: the driver has halted (every later input is
 *   rejected with HALTED) and the caller must halt the peer's consensus and report it.
 */
export type Effect =
  | { kind: 'persist'; state: SignerState }
  | { kind: 'broadcast'; message: ConsensusMessage }
  | { kind: 'schedule-timeout'; height: number; round: number; step: Step; durationMs: number }
  | { kind: 'decide'; height: number; round: number; value: Uint8Array; valueId: Uint8Array; certificate: CommitCertificate }
  | { kind: 'evidence'; evidence: Equivocation }
  | { kind: 'rejected'; reason: string; code: string };

/** Machine-readable codes carried by `rejected` effects and by codec/certificate failures. */
export type ConsensusErrorCode =
  | 'BAD_SIGNATURE'
  | 'UNKNOWN_VALIDATOR'
  | 'MALFORMED'
  | 'STALE_HEIGHT'
  | 'FUTURE_HEIGHT_TOO_FAR'
  | 'BUFFER_FULL'
  | 'ROUND_OUT_OF_WINDOW'
  | 'WRONG_PROPOSER'
  | 'DUPLICATE'
  | 'EQUIVOCATION'
  | 'VALUE_TOO_LARGE'
  | 'NOT_STARTED'
  | 'BAD_HEIGHT'
  | 'STALE_TIMEOUT'
  | 'GET_VALUE_FAILED'
  | 'TRANSITION_LIMIT'
  /** A message of a future height that fails against the set believed for it (not final yet). */
  | 'SET_NOT_KNOWN'
  /** validatorSetAt returned an unusable set: the driver halts like TRANSITION_LIMIT. */
  | 'BAD_VALIDATOR_SET'
  /** Every input after TRANSITION_LIMIT: the driver stopped (fail-stop). */
  | 'HALTED';

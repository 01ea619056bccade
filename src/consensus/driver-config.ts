// ConsensusConfig checked and resolved (defaults applied) once, when a driver is built.
import type { ConsensusConfig, HeightValidators, Validator } from './types.js';
import type { Ed25519Signer } from '../crypto/types.js';
import { ConsensusError } from './errors.js';
import { sha256 } from '../crypto/hash.js';
import { bytesEqual, utf8 } from '../encoding/bytes.js';
import { quorum, quorumTwoFPlusOne, skipThreshold } from './quorum.js';
import {
  BUFFERED_PER_VALIDATOR_DEFAULT,
  CHAIN_ID_BYTES_MAX,
  FUTURE_HEIGHT_WINDOW_DEFAULT,
  PAST_ROUNDS_KEPT_DEFAULT,
  PROPOSAL_VALUE_BYTES_MAX,
  ROUNDS_KEPT_DEFAULT,
  VALIDATORS_MAX,
} from './limits.js';

export interface ResolvedConfig {
  n: number;
  q: number;
  skip: number;
  roundsKept: number;
  pastRoundsKept: number;
  heightWindow: number;
  bufferedPerValidator: number;
  maxValueBytes: number;
  valueIdOf: (value: Uint8Array) => Uint8Array;
  canSign: boolean;
}

/** A height's validator set with its thresholds (quorum.ts), resolved once per set. */
export interface ResolvedSet {
  validators: readonly Validator[];
  n: number;
  q: number;
  skip: number;
  selfIndex: number | null;
  signer: Ed25519Signer | null;
  canSign: boolean;
  known: boolean;
}

/**
 * Checks and resolves one height's set. Throws ConsensusError('BAD_VALIDATOR_SET') for a set no
 * driver can run with (size, our index, our signer's key).
 */
export function resolveSet(s: HeightValidators, twoFPlusOne: boolean): ResolvedSet {
  const n = Array.isArray(s?.validators) ? s.validators.length : 0;
  if (n < 1 || n > VALIDATORS_MAX) throw new ConsensusError('BAD_VALIDATOR_SET', `validator set size must be 1..${VALIDATORS_MAX} (VALIDATORS_MAX)`);
  const self = s.selfIndex;
  if (self !== null && (!Number.isInteger(self) || self < 0 || self >= n)) throw new ConsensusError('BAD_VALIDATOR_SET', `selfIndex must be null or in 0..${n - 1}`);
  if (self !== null && s.signer !== null && !bytesEqual(s.signer.publicKey, s.validators[self]!.publicKey)) {
    throw new ConsensusError('BAD_VALIDATOR_SET', `signer public key differs from validators[${self}].publicKey`);
  }
  return {
    validators: s.validators,
    n,
    q: twoFPlusOne ? quorumTwoFPlusOne(n) : quorum(n),
    skip: skipThreshold(n),
    selfIndex: self,
    signer: s.signer,
    canSign: self !== null && s.signer !== null,
    known: s.known !== false,
  };
}

/** Same validators in the same order (same keys): messages checked against one hold for the other. */
export function sameValidators(a: readonly Validator[], b: readonly Validator[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!bytesEqual(a[i]!.publicKey, b[i]!.publicKey)) return false;
  return true;
}

/** Throws ConsensusError('BAD_CONFIG') for a config no driver can run with. */
export function resolveConfig(cfg: ConsensusConfig): ResolvedConfig {
  const n = Array.isArray(cfg.validators) ? cfg.validators.length : 0;
  if (n < 1 || n > VALIDATORS_MAX) throw new ConsensusError('BAD_CONFIG', `validator set size must be 1..${VALIDATORS_MAX} (VALIDATORS_MAX)`);
  const chain = typeof cfg.chainId === 'string' ? utf8(cfg.chainId).length : 0;
  if (chain < 1 || chain > CHAIN_ID_BYTES_MAX) throw new ConsensusError('BAD_CONFIG', `chainId must be 1..${CHAIN_ID_BYTES_MAX} (CHAIN_ID_BYTES_MAX) UTF-8 bytes`);
  for (const k of ['proposeMs', 'prevoteMs', 'precommitMs', 'deltaMs'] as const) {
    const v = cfg.timeouts?.[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConsensusError('BAD_CONFIG', `timeouts.${k} must be a finite number >= 0`);
  }
  if (cfg.selfIndex !== null && (!Number.isInteger(cfg.selfIndex) || cfg.selfIndex < 0 || cfg.selfIndex >= n)) {
    throw new ConsensusError('BAD_CONFIG', `selfIndex must be null or in 0..${n - 1}`);
  }
  if (cfg.selfIndex !== null && cfg.signer !== null && !bytesEqual(cfg.signer.publicKey, cfg.validators[cfg.selfIndex]!.publicKey)) {
    throw new ConsensusError('BAD_CONFIG', `signer public key differs from validators[${cfg.selfIndex}].publicKey`);
  }
  return {
    n,
    q: cfg.bugs?.quorumTwoFPlusOne === true ? quorumTwoFPlusOne(n) : quorum(n),
    skip: skipThreshold(n),
    roundsKept: positiveInt(cfg.maxRoundsKept, ROUNDS_KEPT_DEFAULT, 'maxRoundsKept'),
    pastRoundsKept: positiveInt(cfg.maxPastRoundsKept, PAST_ROUNDS_KEPT_DEFAULT, 'maxPastRoundsKept'),
    heightWindow: positiveInt(cfg.futureHeightWindow, FUTURE_HEIGHT_WINDOW_DEFAULT, 'futureHeightWindow'),
    bufferedPerValidator: Math.max(1, Math.ceil(positiveInt(cfg.maxBufferedPerHeight, BUFFERED_PER_VALIDATOR_DEFAULT * n, 'maxBufferedPerHeight') / n)),
    maxValueBytes: Math.min(positiveInt(cfg.maxValueBytes, PROPOSAL_VALUE_BYTES_MAX, 'maxValueBytes'), PROPOSAL_VALUE_BYTES_MAX),
    valueIdOf: cfg.valueId ?? sha256,
    canSign: cfg.selfIndex !== null && cfg.signer !== null,
  };
}

function positiveInt(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw new ConsensusError('BAD_CONFIG', `${name} must be a positive integer`);
  return v;
}

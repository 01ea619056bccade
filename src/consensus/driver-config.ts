// ConsensusConfig checked and resolved (defaults applied) once, when a driver is built.
import type { ConsensusConfig } from './types.js';
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

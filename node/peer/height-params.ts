// The consensus runner's view of the parameters of each height (a params.set changes them from
// its effective height): the timeouts of a height's rounds, the block interval before starting a
// height, and the value cap, which is sized from the parameter ranges, never the genesis.
import type { Step, Timeouts } from '../../src/consensus/index.js';
import { BLOCK_CAPS } from './block.js';

/**
 * Largest consensus value (a whole block): the structural block cap plus room for the header,
 * NOT the genesis maxBlockBytes — a params.set may raise the block limit up to the cap, and a
 * proposal of such a block must still decode on every peer. The held-proposal and gossip byte
 * budgets derive from it. It stays below the gossip frame (BLOCK_BYTES_CEILING).
 */
export const VALUE_BYTES_MAX = BLOCK_CAPS.maxBlockBytes + 1024;

export interface HeightTiming {
  timeouts: Timeouts;
  blockIntervalMs: number;
}

/** A ledger that follows governance answers paramsAt (node/peer/ledger.ts); others use the genesis. */
export interface TimingLedger {
  paramsAt?(height: number): HeightTiming;
}

/** Timing of `height`: the ledger's parameters in force there, else the genesis limits. */
export function timingAt(ledger: TimingLedger, genesisLimits: HeightTiming, height: number): HeightTiming {
  return ledger.paramsAt?.(height) ?? genesisLimits;
}

/** Timeout of `step` in `round`: base + round · deltaMs, as the driver computes it (paper §3). */
export function stepTimeoutMs(t: Timeouts, step: Step, round: number): number {
  return (step === 'propose' ? t.proposeMs : step === 'prevote' ? t.prevoteMs : t.precommitMs) + round * t.deltaMs;
}

/** Re-send interval of a stuck height: two full rounds' worth of base timeouts, at least 1 s. */
export function resendEveryMs(t: Timeouts): number {
  return Math.max(1_000, 2 * (t.proposeMs + t.prevoteMs + t.precommitMs));
}

// Signer safety ("double-sign protection", as Tendermint's privval does with its last-sign state):
// a correct validator must never sign two different messages for the same (height, round, step),
// also across crashes. Within a height the algorithm only moves forward in (round, step), so it is
// enough to remember the LAST signed (h, r, step) and refuse anything at or before it:
//   later than last signed  -> sign (after the caller has persisted the new last-signed record);
//   equal to last signed    -> re-emit the stored message byte-identically (never a new one);
//   earlier than last signed-> emit nothing (whatever was signed there already left).
import type { ConsensusMessage, LastSigned, Step } from './types.js';
import { stepIndex } from './state-machine.js';

export type GuardDecision = { action: 'sign' } | { action: 'reemit'; message: ConsensusMessage } | { action: 'refuse' };

/** Compares (h, r, step) positions lexicographically: negative, zero or positive. */
export function compareHrs(h1: number, r1: number, s1: Step, h2: number, r2: number, s2: Step): number {
  if (h1 !== h2) return h1 - h2;
  if (r1 !== r2) return r1 - r2;
  return stepIndex(s1) - stepIndex(s2);
}

export class SignerGuard {
  constructor(private last: LastSigned | null) {}

  get lastSigned(): LastSigned | null {
    return this.last;
  }

  /** What may be done for a message at (height, round, step)? */
  check(height: number, round: number, step: Step): GuardDecision {
    if (this.last === null) return { action: 'sign' };
    const c = compareHrs(height, round, step, this.last.height, this.last.round, this.last.step);
    if (c > 0) return { action: 'sign' };
    if (c === 0) return { action: 'reemit', message: this.last.message };
    return { action: 'refuse' };
  }

  /** Records a newly signed message (call only after check() returned 'sign'). */
  record(last: LastSigned): void {
    this.last = last;
  }
}

// The durable signer state (types.ts SignerState): built from the round state, and checked when
// read back from disk before a driver is restored from it.
import type { SignerState, Step } from './types.js';
import type { RoundState } from './state-machine.js';
import { ConsensusError } from './errors.js';
import { ROUND_MAX } from './limits.js';

const STEPS: readonly Step[] = ['propose', 'prevote', 'precommit'];

export function toSignerState(s: RoundState, lastSigned: SignerState['lastSigned']): SignerState {
  return {
    version: 1,
    height: s.height,
    round: s.round,
    step: s.step,
    lockedValue: s.lockedValue,
    lockedRound: s.lockedRound,
    validValue: s.validValue,
    validRound: s.validRound,
    lastSigned,
  };
}

/** Validates a SignerState read back from disk. Throws ConsensusError('BAD_SIGNER_STATE'). */
export function checkSignerState(s: SignerState): void {
  const bad = (why: string): never => {
    throw new ConsensusError('BAD_SIGNER_STATE', why);
  };
  if (typeof s !== 'object' || s === null) bad('not an object');
  if (s.version !== 1) bad(`unsupported version ${String(s.version)}`);
  if (!Number.isSafeInteger(s.height) || s.height < 0) bad('height must be a non-negative integer');
  if (!Number.isSafeInteger(s.round) || s.round < 0 || s.round > ROUND_MAX) bad('round out of range');
  if (!STEPS.includes(s.step)) bad('unknown step');
  if (!Number.isSafeInteger(s.lockedRound) || s.lockedRound < -1 || s.lockedRound > s.round) bad('lockedRound out of range');
  if (!Number.isSafeInteger(s.validRound) || s.validRound < -1 || s.validRound > s.round) bad('validRound out of range');
  if ((s.lockedValue === null) !== (s.lockedRound === -1) || (s.lockedValue !== null && !(s.lockedValue instanceof Uint8Array))) bad('lockedValue/lockedRound mismatch');
  if ((s.validValue === null) !== (s.validRound === -1) || (s.validValue !== null && !(s.validValue instanceof Uint8Array))) bad('validValue/validRound mismatch');
  const l = s.lastSigned;
  if (l !== null) {
    if (typeof l !== 'object' || !Number.isSafeInteger(l.height) || !Number.isSafeInteger(l.round) || !STEPS.includes(l.step)) bad('malformed lastSigned');
    const m = l.message;
    if (typeof m !== 'object' || m === null || m.height !== l.height || m.round !== l.round) bad('lastSigned.message does not match its height/round');
    const expectStep: Step = m.type === 'proposal' ? 'propose' : m.type;
    if (expectStep !== l.step) bad('lastSigned.message type does not match its step');
  }
}

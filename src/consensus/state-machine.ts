// The round state machine of Tendermint: Algorithm 1 of "The latest gossip on BFT consensus"
// (Buchman, Kwon, Milosevic, arXiv 1807.04938), one height at a time, as a PURE function
// transition(state, input) -> { state, outputs }. Inputs are named after the pseudo-code line
// whose "upon" clause holds; the driver (driver.ts) decides that a clause holds by asking the
// vote keeper, and this module enforces the clause's "while" guards and performs its body.
// Thresholds are the driver's concern ("2f+1" = q = ⌊2n/3⌋+1, "f+1" = n − q + 1).
import type { Step } from './types.js';
import { bytesEqual } from '../encoding/bytes.js';

export interface RoundState {
  height: number;
  round: number;
  step: Step;
  /** Paper L6-L9. lockedId / validId cache id(lockedValue) / id(validValue). */
  lockedValue: Uint8Array | null;
  lockedId: Uint8Array | null;
  lockedRound: number;
  validValue: Uint8Array | null;
  validId: Uint8Array | null;
  validRound: number;
  /** Paper L5 decision_p[h_p] ≠ nil. */
  decided: boolean;
  /**
   * StartRound(round) ran for `round`. False only between initialState and the height's
   * StartRound(0): the paper starts every height with round_p = 0 AND a call of StartRound(0), so
   * round_p = round alone cannot tell "not started yet" from "already in this round".
   */
  started: boolean;
  /** "for the first time" guards of L34, L36 and L47: the round in which each last fired (-1 = never). */
  l34Round: number;
  l36Round: number;
  l47Round: number;
}

export interface StateMachineOptions {
  /** Bug injection (simulator only): prevote any valid proposal, ignoring the lock (L23/L29). */
  noLocking?: boolean;
}

export type RoundInput =
  /** L11 StartRound(round); `proposer` = proposer(h_p, round) is us. */
  | { line: 'L11'; round: number; proposer: boolean }
  /** L22: ⟨PROPOSAL, h_p, round_p, v, −1⟩ from proposer(h_p, round_p). `valid` = valid(v). */
  | { line: 'L22'; valueId: Uint8Array; valid: boolean }
  /** L28: ⟨PROPOSAL, h_p, round_p, v, vr⟩ AND 2f+1 ⟨PREVOTE, h_p, vr, id(v)⟩, 0 ≤ vr < round_p. */
  | { line: 'L28'; valueId: Uint8Array; validRound: number; valid: boolean }
  /** L34: 2f+1 ⟨PREVOTE, h_p, round_p, ∗⟩. */
  | { line: 'L34' }
  /** L36: ⟨PROPOSAL, h_p, round_p, v, ∗⟩ AND 2f+1 ⟨PREVOTE, h_p, round_p, id(v)⟩ while valid(v). */
  | { line: 'L36'; value: Uint8Array; valueId: Uint8Array }
  /** L44: 2f+1 ⟨PREVOTE, h_p, round_p, nil⟩. */
  | { line: 'L44' }
  /** L47: 2f+1 ⟨PRECOMMIT, h_p, round_p, ∗⟩. */
  | { line: 'L47' }
  /** L49: ⟨PROPOSAL, h_p, r, v, ∗⟩ AND 2f+1 ⟨PRECOMMIT, h_p, r, id(v)⟩, valid(v) (checked by the driver). */
  | { line: 'L49'; round: number; value: Uint8Array; valueId: Uint8Array }
  /** L55: f+1 ⟨∗, h_p, round, ∗, ∗⟩ with round > round_p. */
  | { line: 'L55'; round: number }
  /** L57 OnTimeoutPropose(height, round). */
  | { line: 'L57'; height: number; round: number }
  /** L61 OnTimeoutPrevote(height, round). */
  | { line: 'L61'; height: number; round: number }
  /** L65 OnTimeoutPrecommit(height, round). */
  | { line: 'L65'; height: number; round: number };

export type RoundOutput =
  /** L19 broadcast ⟨PROPOSAL, h_p, round_p, proposal, validRound_p⟩; value null = use getValue() (L18). */
  | { kind: 'propose'; round: number; value: Uint8Array | null; validRound: number }
  | { kind: 'vote'; type: 'prevote' | 'precommit'; round: number; valueId: Uint8Array | null }
  | { kind: 'schedule-timeout'; round: number; step: Step }
  | { kind: 'decide'; round: number; value: Uint8Array; valueId: Uint8Array }
  /** L55/L65 call StartRound(round): the driver feeds L11 back with proposer information. */
  | { kind: 'start-round'; round: number };

export interface Transition {
  state: RoundState;
  outputs: RoundOutput[];
  /** False when a guard did not hold: the state is returned unchanged. */
  applied: boolean;
}

/** Initial state of height h (paper L2-L9, and L53 "reset ... to initial values"). */
export function initialState(height: number): RoundState {
  return {
    height,
    round: 0,
    step: 'propose',
    lockedValue: null,
    lockedId: null,
    lockedRound: -1,
    validValue: null,
    validId: null,
    validRound: -1,
    decided: false,
    started: false,
    l34Round: -1,
    l36Round: -1,
    l47Round: -1,
  };
}

const STEP_ORDER: Record<Step, number> = { propose: 0, prevote: 1, precommit: 2 };

export function stepIndex(step: Step): number {
  return STEP_ORDER[step];
}

function same(a: Uint8Array | null, b: Uint8Array): boolean {
  return a !== null && bytesEqual(a, b);
}

function unchanged(state: RoundState): Transition {
  return { state, outputs: [], applied: false };
}

export function transition(state: RoundState, input: RoundInput, opts: StateMachineOptions = {}): Transition {
  if (state.decided) return unchanged(state); // a decided height takes no more steps
  switch (input.line) {
    case 'L11': {
      // L11-L21 StartRound(round). Rounds only move forward within a height, and starting the
      // round we are already in is a no-op: it would reset step_p to propose and let L22/L28 fire
      // a second time in the same round (a second prevote for the signer guard to refuse).
      if (input.round < state.round || (input.round === state.round && state.started)) return unchanged(state);
      const s: RoundState = { ...state, round: input.round, step: 'propose', started: true };
      if (input.proposer) {
        // L15-L19: re-propose validValue_p (with validRound_p) if there is one, else a new value.
        return { state: s, outputs: [{ kind: 'propose', round: input.round, value: s.validValue, validRound: s.validRound }], applied: true };
      }
      // L21: schedule OnTimeoutPropose(h_p, round_p).
      return { state: s, outputs: [{ kind: 'schedule-timeout', round: input.round, step: 'propose' }], applied: true };
    }
    case 'L22': {
      if (state.step !== 'propose') return unchanged(state);
      // L23: valid(v) ∧ (lockedRound_p = −1 ∨ lockedValue_p = v)
      const free = opts.noLocking === true || state.lockedRound === -1 || same(state.lockedId, input.valueId);
      const id = input.valid && free ? input.valueId : null; // L24 / L26
      return { state: { ...state, step: 'prevote' }, outputs: [{ kind: 'vote', type: 'prevote', round: state.round, valueId: id }], applied: true }; // L27
    }
    case 'L28': {
      if (state.step !== 'propose' || input.validRound < 0 || input.validRound >= state.round) return unchanged(state);
      // L29: valid(v) ∧ (lockedRound_p ≤ vr ∨ lockedValue_p = v) — the unlock rule.
      const free = opts.noLocking === true || state.lockedRound <= input.validRound || same(state.lockedId, input.valueId);
      const id = input.valid && free ? input.valueId : null; // L30 / L32
      return { state: { ...state, step: 'prevote' }, outputs: [{ kind: 'vote', type: 'prevote', round: state.round, valueId: id }], applied: true }; // L33
    }
    case 'L34': {
      // L34-L35: while step_p = prevote, for the first time: schedule OnTimeoutPrevote.
      if (state.step !== 'prevote' || state.l34Round === state.round) return unchanged(state);
      return { state: { ...state, l34Round: state.round }, outputs: [{ kind: 'schedule-timeout', round: state.round, step: 'prevote' }], applied: true };
    }
    case 'L36': {
      // L36: while valid(v) ∧ step_p ≥ prevote, for the first time.
      if (stepIndex(state.step) < stepIndex('prevote') || state.l36Round === state.round) return unchanged(state);
      let s: RoundState = { ...state, l36Round: state.round };
      const outputs: RoundOutput[] = [];
      if (state.step === 'prevote') {
        // L37-L41: lock on v and precommit it.
        s = { ...s, lockedValue: input.value, lockedId: input.valueId, lockedRound: state.round, step: 'precommit' };
        outputs.push({ kind: 'vote', type: 'precommit', round: state.round, valueId: input.valueId });
      }
      // L42-L43: v becomes the valid value (re-proposed by us in later rounds).
      s = { ...s, validValue: input.value, validId: input.valueId, validRound: state.round };
      return { state: s, outputs, applied: true };
    }
    case 'L44': {
      // L44-L46: while step_p = prevote: precommit nil.
      if (state.step !== 'prevote') return unchanged(state);
      return { state: { ...state, step: 'precommit' }, outputs: [{ kind: 'vote', type: 'precommit', round: state.round, valueId: null }], applied: true };
    }
    case 'L47': {
      // L47-L48: for the first time: schedule OnTimeoutPrecommit (any step).
      if (state.l47Round === state.round) return unchanged(state);
      return { state: { ...state, l47Round: state.round }, outputs: [{ kind: 'schedule-timeout', round: state.round, step: 'precommit' }], applied: true };
    }
    case 'L49': {
      // L49-L51: decide v (in ANY round r of this height). L52-L54 (next height) is the caller's start-height.
      return { state: { ...state, decided: true }, outputs: [{ kind: 'decide', round: input.round, value: input.value, valueId: input.valueId }], applied: true };
    }
    case 'L55': {
      // L55-L56: f+1 messages from a higher round: StartRound(round).
      if (input.round <= state.round) return unchanged(state);
      return { state, outputs: [{ kind: 'start-round', round: input.round }], applied: true };
    }
    case 'L57': {
      // L57-L60 OnTimeoutPropose: prevote nil.
      if (input.height !== state.height || input.round !== state.round || state.step !== 'propose') return unchanged(state);
      return { state: { ...state, step: 'prevote' }, outputs: [{ kind: 'vote', type: 'prevote', round: state.round, valueId: null }], applied: true };
    }
    case 'L61': {
      // L61-L64 OnTimeoutPrevote: precommit nil.
      if (input.height !== state.height || input.round !== state.round || state.step !== 'prevote') return unchanged(state);
      return { state: { ...state, step: 'precommit' }, outputs: [{ kind: 'vote', type: 'precommit', round: state.round, valueId: null }], applied: true };
    }
    case 'L65': {
      // L65-L67 OnTimeoutPrecommit: StartRound(round_p + 1).
      if (input.height !== state.height || input.round !== state.round) return unchanged(state);
      return { state, outputs: [{ kind: 'start-round', round: state.round + 1 }], applied: true };
    }
  }
}

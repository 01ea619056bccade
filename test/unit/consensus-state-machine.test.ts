// The round state machine alone: pure transitions, "while" guards of each paper line.
import { describe, expect, it } from 'vitest';
import { initialState, transition, type RoundInput, type RoundState } from '../../src/consensus/state-machine.js';

const A = Uint8Array.of(0xaa);
const B = Uint8Array.of(0xbb);

function deepFreeze<T>(o: T): T {
  Object.freeze(o);
  for (const v of Object.values(o as object)) if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) deepFreeze(v);
  return o;
}

const ALL_INPUTS: RoundInput[] = [
  { line: 'L11', round: 1, proposer: true },
  { line: 'L11', round: 1, proposer: false },
  { line: 'L22', valueId: A, valid: true },
  { line: 'L28', valueId: A, validRound: 0, valid: true },
  { line: 'L34' },
  { line: 'L36', value: A, valueId: A },
  { line: 'L44' },
  { line: 'L47' },
  { line: 'L49', round: 0, value: A, valueId: A },
  { line: 'L55', round: 3 },
  { line: 'L57', height: 1, round: 0 },
  { line: 'L61', height: 1, round: 0 },
  { line: 'L65', height: 1, round: 0 },
];

describe('state machine', () => {
  it('never mutates its input state (pure)', () => {
    for (const step of ['propose', 'prevote', 'precommit'] as const) {
      const s = deepFreeze<RoundState>({ ...initialState(1), step, round: 1 });
      for (const i of ALL_INPUTS) expect(() => transition(s, i)).not.toThrow();
    }
  });

  it('a decided height ignores every input', () => {
    const s: RoundState = { ...initialState(1), decided: true };
    for (const i of ALL_INPUTS) expect(transition(s, i)).toEqual({ state: s, outputs: [], applied: false });
  });

  it('guards: L22/L28 only in propose, L44/L61 only in prevote, L36 only from prevote on, timeouts only for the current round', () => {
    const prevote: RoundState = { ...initialState(1), step: 'prevote' };
    expect(transition(prevote, { line: 'L22', valueId: A, valid: true }).applied).toBe(false);
    expect(transition(prevote, { line: 'L57', height: 1, round: 0 }).applied).toBe(false);
    const propose = initialState(1);
    expect(transition(propose, { line: 'L44' }).applied).toBe(false);
    expect(transition(propose, { line: 'L36', value: A, valueId: A }).applied).toBe(false);
    expect(transition(propose, { line: 'L61', height: 1, round: 0 }).applied).toBe(false);
    expect(transition(propose, { line: 'L57', height: 2, round: 0 }).applied).toBe(false);
    expect(transition(propose, { line: 'L57', height: 1, round: 1 }).applied).toBe(false);
    // L28 requires 0 ≤ vr < round_p
    expect(transition(propose, { line: 'L28', valueId: A, validRound: 0, valid: true }).applied).toBe(false);
    // rounds never go backwards
    expect(transition({ ...propose, round: 4 }, { line: 'L11', round: 3, proposer: false }).applied).toBe(false);
    expect(transition({ ...propose, round: 4 }, { line: 'L55', round: 4 }).applied).toBe(false);
  });

  it('L34 and L47 fire once per round', () => {
    let s: RoundState = { ...initialState(1), step: 'prevote' };
    const t1 = transition(s, { line: 'L34' });
    expect(t1.outputs).toEqual([{ kind: 'schedule-timeout', round: 0, step: 'prevote' }]);
    s = t1.state;
    expect(transition(s, { line: 'L34' }).applied).toBe(false);
    const t2 = transition(s, { line: 'L47' });
    expect(t2.applied).toBe(true);
    expect(transition(t2.state, { line: 'L47' }).applied).toBe(false);
  });

  it('L11 proposer re-proposes validValue with validRound, else asks for a new value', () => {
    const s: RoundState = { ...initialState(1), validValue: B, validId: B, validRound: 0 };
    expect(transition(s, { line: 'L11', round: 2, proposer: true }).outputs).toEqual([{ kind: 'propose', round: 2, value: B, validRound: 0 }]);
    expect(transition(initialState(1), { line: 'L11', round: 0, proposer: true }).outputs).toEqual([{ kind: 'propose', round: 0, value: null, validRound: -1 }]);
  });

  it('L22 lock rule: locked on A prevotes nil for B, prevotes A again; noLocking ignores the lock', () => {
    const s: RoundState = { ...initialState(1), round: 2, lockedValue: A, lockedId: A, lockedRound: 1 };
    expect(transition(s, { line: 'L22', valueId: B, valid: true }).outputs).toEqual([{ kind: 'vote', type: 'prevote', round: 2, valueId: null }]);
    expect(transition(s, { line: 'L22', valueId: A, valid: true }).outputs).toEqual([{ kind: 'vote', type: 'prevote', round: 2, valueId: A }]);
    expect(transition(s, { line: 'L22', valueId: B, valid: true }, { noLocking: true }).outputs[0]).toMatchObject({ valueId: B });
    expect(transition(s, { line: 'L22', valueId: A, valid: false }).outputs[0]).toMatchObject({ valueId: null });
  });
});

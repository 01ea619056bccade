// The vote keeper: stores the verified messages of ONE height and counts the thresholds the
// round state machine reacts to (paper Algorithm 1: "2f+1 ⟨PREVOTE, h, r, id(v)⟩", "f+1 ⟨∗, h,
// round, ∗, ∗⟩", ...). It never verifies signatures: the driver only hands it messages that passed
// checkMessage. Here "2f+1" means q = ⌊2n/3⌋+1 and "f+1" means n − q + 1 (quorum.ts).
//
// Rules:
// - exact duplicates are ignored (gossip and anti-entropy re-send messages);
// - a second DIFFERENT message from one validator for the same (round, type) is equivocation:
//   only the first is counted, the second is returned as evidence (once per validator/round/type);
// - memory is bounded: full records are kept only for rounds in [current − K, current + K]
//   (K = maxRoundsKept); for rounds above the window only each validator's highest round is
//   remembered (n numbers), which is all the skip rule (L55) needs.
import type { ConsensusMessage, Equivocation, Proposal, Vote } from './types.js';
import { bytesEqual, toHex } from '../encoding/bytes.js';

/** Tally key of a value id: its hex, or 'nil'. */
export function idKey(valueId: Uint8Array | null): string {
  return valueId === null ? 'nil' : toHex(valueId);
}

class Tally {
  /** Vote of validator i (the first one received), or undefined. */
  readonly byValidator: (Vote | undefined)[];
  /** Validators already reported as equivocating (evidence is emitted once). */
  readonly equivocated: Uint8Array;
  readonly counts = new Map<string, number>();
  total = 0;
  constructor(n: number) {
    this.byValidator = new Array<Vote | undefined>(n);
    this.equivocated = new Uint8Array(n);
  }
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

interface RoundRecord {
  proposal: Proposal | null;
  proposalId: Uint8Array | null;
  proposalEquivocated: boolean;
  prevotes: Tally;
  precommits: Tally;
  /** Validators that sent any message in this round (for L55). */
  senders: Uint8Array;
  senderCount: number;
}

export type AddResult =
  | { status: 'added' }
  | { status: 'duplicate' }
  | { status: 'equivocation'; evidence: Equivocation | null /* null: already reported */ }
  | { status: 'far-future' }
  | { status: 'out-of-window' };

export type RoundPosition = 'kept' | 'far-future' | 'too-old';

export class VoteKeeper {
  private readonly rounds = new Map<number, RoundRecord>();
  /** Highest round seen per validator among messages above the window (for L55 only). */
  private readonly farRound: Int32Array;
  private current = 0;

  constructor(
    readonly height: number,
    private readonly n: number,
    /** K: rounds kept below and above the current round. */
    private readonly roundsKept: number,
  ) {
    this.farRound = new Int32Array(n).fill(-1);
  }

  /** Moves the window to the new current round and forgets rounds below current − K. */
  setCurrentRound(round: number): void {
    this.current = round;
    const low = round - this.roundsKept;
    for (const r of [...this.rounds.keys()]) if (r < low) this.rounds.delete(r);
  }

  position(round: number): RoundPosition {
    if (round < this.current - this.roundsKept) return 'too-old';
    if (round > this.current + this.roundsKept) return 'far-future';
    return 'kept';
  }

  /** Rounds with full records, ascending. */
  storedRounds(): number[] {
    return [...this.rounds.keys()].sort((a, b) => a - b);
  }

  /** Number of rounds with full records (for tests and metrics). */
  roundsStored(): number {
    return this.rounds.size;
  }

  private record(round: number): RoundRecord {
    let rec = this.rounds.get(round);
    if (rec === undefined) {
      rec = {
        proposal: null,
        proposalId: null,
        proposalEquivocated: false,
        prevotes: new Tally(this.n),
        precommits: new Tally(this.n),
        senders: new Uint8Array(this.n),
        senderCount: 0,
      };
      this.rounds.set(round, rec);
    }
    return rec;
  }

  /** True when exactly this message (same content and signature) is already stored: no need to verify it again. */
  isExactDuplicate(m: ConsensusMessage): boolean {
    const rec = this.rounds.get(m.round);
    if (rec === undefined) return false;
    if (m.type === 'proposal') {
      const p = rec.proposal;
      return p !== null && p.validator === m.validator && samePropos(p, m) && bytesEqual(p.signature, m.signature);
    }
    const v = (m.type === 'prevote' ? rec.prevotes : rec.precommits).byValidator[m.validator];
    return v !== undefined && sameId(v.valueId, m.valueId) && bytesEqual(v.signature, m.signature);
  }

  /**
   * Adds a VERIFIED message of this height. For proposals, the caller has checked that the sender
   * is proposer(h, r) and passes id(v).
   */
  add(m: ConsensusMessage, proposalId: Uint8Array | null = null): AddResult {
    const pos = this.position(m.round);
    if (pos === 'too-old') return { status: 'out-of-window' };
    if (pos === 'far-future') {
      if (m.round > this.farRound[m.validator]!) this.farRound[m.validator] = m.round;
      return { status: 'far-future' };
    }
    const rec = this.record(m.round);
    if (m.type === 'proposal') {
      const p = rec.proposal;
      if (p !== null) {
        if (samePropos(p, m)) return { status: 'duplicate' };
        if (rec.proposalEquivocated) return { status: 'equivocation', evidence: null };
        rec.proposalEquivocated = true;
        return { status: 'equivocation', evidence: evidence(m, p) };
      }
      rec.proposal = m;
      rec.proposalId = proposalId;
    } else {
      const tally = m.type === 'prevote' ? rec.prevotes : rec.precommits;
      const prev = tally.byValidator[m.validator];
      if (prev !== undefined) {
        if (sameId(prev.valueId, m.valueId)) return { status: 'duplicate' };
        if (tally.equivocated[m.validator] === 1) return { status: 'equivocation', evidence: null };
        tally.equivocated[m.validator] = 1;
        return { status: 'equivocation', evidence: evidence(m, prev) };
      }
      tally.byValidator[m.validator] = m;
      const key = idKey(m.valueId);
      tally.counts.set(key, tally.count(key) + 1);
      tally.total += 1;
    }
    if (rec.senders[m.validator] === 0) {
      rec.senders[m.validator] = 1;
      rec.senderCount += 1;
    }
    return { status: 'added' };
  }

  /** The proposal of `round` (from its proposer) and id(v), if received. */
  proposal(round: number): { proposal: Proposal; valueId: Uint8Array } | null {
    const rec = this.rounds.get(round);
    if (rec === undefined || rec.proposal === null || rec.proposalId === null) return null;
    return { proposal: rec.proposal, valueId: rec.proposalId };
  }

  /** Votes of `type` in `round` for the value with tally key `key` ('nil' for nil). */
  count(round: number, type: 'prevote' | 'precommit', key: string): number {
    const rec = this.rounds.get(round);
    if (rec === undefined) return 0;
    return (type === 'prevote' ? rec.prevotes : rec.precommits).count(key);
  }

  /** All votes of `type` in `round`, whatever their value ("2f+1 ⟨PREVOTE, h, r, ∗⟩", L34/L47). */
  total(round: number, type: 'prevote' | 'precommit'): number {
    const rec = this.rounds.get(round);
    if (rec === undefined) return 0;
    return (type === 'prevote' ? rec.prevotes : rec.precommits).total;
  }

  /** The precommits for `valueId` in `round`, ordered by validator index (a commit certificate). */
  precommitsFor(round: number, valueId: Uint8Array): Vote[] {
    const rec = this.rounds.get(round);
    if (rec === undefined) return [];
    const out: Vote[] = [];
    for (const v of rec.precommits.byValidator) if (v !== undefined && sameId(v.valueId, valueId)) out.push(v);
    return out;
  }

  /**
   * L55: the highest round R > current such that at least `threshold` distinct validators sent a
   * message of round R, or null. Above the window, where only each validator's highest round is
   * known, R is the threshold-th highest of those rounds: at least `threshold` validators (so at
   * least one correct one) have reached round R or beyond, which is what L55 relies on.
   */
  skipRound(threshold: number): number | null {
    let best: number | null = null;
    for (const [r, rec] of this.rounds) {
      if (r > this.current && rec.senderCount >= threshold && (best === null || r > best)) best = r;
    }
    const far: number[] = [];
    for (const r of this.farRound) if (r > this.current) far.push(r);
    if (far.length >= threshold) {
      far.sort((a, b) => b - a);
      const r = far[threshold - 1]!;
      if (best === null || r > best) best = r;
    }
    return best;
  }
}

function sameId(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return bytesEqual(a, b);
}

function samePropos(a: Proposal, b: Proposal): boolean {
  return a.validRound === b.validRound && bytesEqual(a.value, b.value);
}

function evidence(second: ConsensusMessage, first: ConsensusMessage): Equivocation {
  return { height: first.height, round: first.round, type: first.type, validator: first.validator, first, second };
}

// The vote keeper: stores the verified messages of ONE height and counts the thresholds the
// round state machine reacts to (paper Algorithm 1: "2f+1 ⟨PREVOTE, h, r, id(v)⟩", "f+1 ⟨∗, h,
// round, ∗, ∗⟩", ...). It never verifies signatures: the driver only hands it messages that passed
// checkMessage. Here "2f+1" means q = ⌊2n/3⌋+1 and "f+1" means n − q + 1 (quorum.ts).
//
// Counting (the paper counts MESSAGES from distinct senders):
// - count(r, type, id) = number of distinct validators that signed ⟨type, h, r, id⟩. A validator
//   that equivocates counts toward EACH value it signed: the paper's Byzantine processes may send
//   different messages to different peers anyway, and safety rests on quorum intersection (two
//   sets of q validators share ≥ f+1, so at least one correct validator, which signs only one
//   value). Counting only the first vote would let an equivocator split the correct peers'
//   views forever (a peer could never see the polka or commit the others saw: a liveness bug
//   found by the simulator).
// - total(r, type) and the L55 sender count count each validator ONCE, whatever it signed.
// - exact duplicates are ignored; the first conflicting message of a validator for a (round,
//   type) is returned as Equivocation evidence (once).
//
// Bounds (memory is never at the mercy of a Byzantine validator):
// - full records only for rounds in [current − K, current + K] (K = maxRoundsKept); above the
//   window only each validator's highest round is remembered (n numbers) for the skip rule;
// - per validator and (round, type), conflicting votes beyond the first are kept only up to
//   EXTRA_VOTES_PER_VALIDATOR_MAX, or when their value already has ≥ f+1 distinct supporters
//   (so ≥ 1 correct validator signed it; there are at most n − f such values per (round, type));
// - per round, proposals from an equivocating proposer likewise: up to EXTRA_PROPOSALS_PER_ROUND_MAX
//   extra ones, or when ≥ f+1 validators prevoted or precommitted the value in that round.
import type { ConsensusMessage, Equivocation, Proposal, Vote } from './types.js';
import { bytesEqual, toHex } from '../encoding/bytes.js';

/** Conflicting votes kept per validator per (round, type) beyond the first, unless supported. */
export const EXTRA_VOTES_PER_VALIDATOR_MAX = 2;
/** Conflicting proposals kept per round beyond the first, unless supported. */
export const EXTRA_PROPOSALS_PER_ROUND_MAX = 2;

/** Tally key of a value id: its hex, or 'nil'. */
export function idKey(valueId: Uint8Array | null): string {
  return valueId === null ? 'nil' : toHex(valueId);
}

class Tally {
  /** First vote of validator i, or undefined (drives `total`). */
  readonly first: (Vote | undefined)[];
  /** Extra (conflicting) votes stored per validator. */
  readonly extras: Uint8Array;
  /** Validators already reported as equivocating (evidence is emitted once). */
  readonly equivocated: Uint8Array;
  /** For each value key, the votes for it by validator index. */
  readonly byValue = new Map<string, Map<number, Vote>>();
  total = 0;
  constructor(n: number) {
    this.first = new Array<Vote | undefined>(n);
    this.extras = new Uint8Array(n);
    this.equivocated = new Uint8Array(n);
  }
  count(key: string): number {
    return this.byValue.get(key)?.size ?? 0;
  }
  put(key: string, v: Vote): void {
    let m = this.byValue.get(key);
    if (m === undefined) {
      m = new Map();
      this.byValue.set(key, m);
    }
    m.set(v.validator, v);
  }
}

interface StoredProposal {
  proposal: Proposal;
  valueId: Uint8Array;
}

interface RoundRecord {
  /** Proposals from the round's proposer; [0] is the first received. */
  proposals: StoredProposal[];
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
  /** evidence null: already reported. counted: whether the conflicting message was stored and counts. */
  | { status: 'equivocation'; evidence: Equivocation | null; counted: boolean }
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
    /** f+1 = n − q + 1: support that proves at least one correct validator signed a value. */
    private readonly support: number = n - (Math.floor((2 * n) / 3) + 1) + 1,
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
        proposals: [],
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
      return rec.proposals.some((p) => p.proposal.validator === m.validator && sameProposal(p.proposal, m) && bytesEqual(p.proposal.signature, m.signature));
    }
    const v = (m.type === 'prevote' ? rec.prevotes : rec.precommits).byValue.get(idKey(m.valueId))?.get(m.validator);
    return v !== undefined && bytesEqual(v.signature, m.signature);
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
    let result: AddResult;
    if (m.type === 'proposal') {
      if (proposalId === null) throw new Error('VoteKeeper.add: a proposal needs its value id');
      result = this.addProposal(rec, m, proposalId);
    } else {
      result = this.addVote(m.type === 'prevote' ? rec.prevotes : rec.precommits, m);
    }
    if ((result.status === 'added' || result.status === 'equivocation') && rec.senders[m.validator] === 0) {
      rec.senders[m.validator] = 1;
      rec.senderCount += 1;
    }
    return result;
  }

  private addProposal(rec: RoundRecord, m: Proposal, valueId: Uint8Array): AddResult {
    if (rec.proposals.length === 0) {
      rec.proposals.push({ proposal: m, valueId });
      return { status: 'added' };
    }
    if (rec.proposals.some((p) => sameProposal(p.proposal, m))) return { status: 'duplicate' };
    const first = rec.proposals[0]!.proposal;
    const evidence = rec.proposalEquivocated ? null : makeEvidence(first, m);
    rec.proposalEquivocated = true;
    const key = idKey(valueId);
    const supported = rec.prevotes.count(key) >= this.support || rec.precommits.count(key) >= this.support;
    const counted = rec.proposals.length <= EXTRA_PROPOSALS_PER_ROUND_MAX || supported;
    if (counted) rec.proposals.push({ proposal: m, valueId });
    return { status: 'equivocation', evidence, counted };
  }

  private addVote(tally: Tally, m: Vote): AddResult {
    const key = idKey(m.valueId);
    if (tally.byValue.get(key)?.has(m.validator) === true) return { status: 'duplicate' };
    const first = tally.first[m.validator];
    if (first === undefined) {
      tally.first[m.validator] = m;
      tally.total += 1;
      tally.put(key, m);
      return { status: 'added' };
    }
    // A second, different vote of this validator for this (round, type): equivocation.
    const evidence = tally.equivocated[m.validator] === 1 ? null : makeEvidence(first, m);
    tally.equivocated[m.validator] = 1;
    let counted = false;
    if (tally.extras[m.validator]! < EXTRA_VOTES_PER_VALIDATOR_MAX) {
      tally.extras[m.validator]! += 1;
      counted = true;
    } else if (tally.count(key) >= this.support) {
      counted = true; // at least one correct validator signed this value: bounded by n − f values
    }
    if (counted) tally.put(key, m);
    return { status: 'equivocation', evidence, counted };
  }

  /** The first proposal of `round` (from its proposer) and id(v), if received. */
  proposal(round: number): StoredProposal | null {
    return this.rounds.get(round)?.proposals[0] ?? null;
  }

  /** All stored proposals of `round`, first received first (several only if the proposer equivocated). */
  proposals(round: number): readonly StoredProposal[] {
    return this.rounds.get(round)?.proposals ?? [];
  }

  /** Distinct validators that signed a vote of `type` in `round` for key ('nil' for nil). */
  count(round: number, type: 'prevote' | 'precommit', key: string): number {
    const rec = this.rounds.get(round);
    if (rec === undefined) return 0;
    return (type === 'prevote' ? rec.prevotes : rec.precommits).count(key);
  }

  /** Distinct validators that sent a vote of `type` in `round`, whatever the value ("2f+1 ⟨PREVOTE, h, r, ∗⟩", L34/L47). */
  total(round: number, type: 'prevote' | 'precommit'): number {
    const rec = this.rounds.get(round);
    if (rec === undefined) return 0;
    return (type === 'prevote' ? rec.prevotes : rec.precommits).total;
  }

  /** The precommits for `valueId` in `round`, ordered by validator index (a commit certificate). */
  precommitsFor(round: number, valueId: Uint8Array): Vote[] {
    const votes = this.rounds.get(round)?.precommits.byValue.get(idKey(valueId));
    if (votes === undefined) return [];
    return [...votes.values()].sort((a, b) => a.validator - b.validator);
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

function sameProposal(a: Proposal, b: Proposal): boolean {
  return a.validRound === b.validRound && bytesEqual(a.value, b.value);
}

function makeEvidence(first: ConsensusMessage, second: ConsensusMessage): Equivocation {
  return { height: first.height, round: first.round, type: first.type, validator: first.validator, first, second };
}

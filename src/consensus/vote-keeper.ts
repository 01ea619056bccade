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
// Bounds (memory is never at the mercy of a Byzantine validator), with K = futureRoundsKept
// (cfg.maxRoundsKept), P = pastRoundsKept (cfg.maxPastRoundsKept):
// - FUTURE rounds (current, current + K]: full records (early messages, the L55 skip count);
//   above them only each validator's highest round is remembered (n numbers) for L55;
// - PAST rounds [current − P, current]: full records. P is generous (PAST_ROUNDS_KEPT_DEFAULT):
//   Tendermint-go keeps every round of a height; we keep a bounded window instead;
// - OLDER rounds (< current − P) are kept only while PINNED, because L28 ("⟨PROPOSAL, h, round,
//   v, vr⟩ AND 2f+1 ⟨PREVOTE, h, vr, id(v)⟩") may need the prevotes of round vr however old it is:
//   a correct proposer re-proposes validValue with vr = validRound (L16) forever, and if no peer
//   can still count the polka of round vr, every such proposal is prevoted nil, locked peers never
//   unlock (L29), fresh proposals are refused by the locked ones (L23) and the height never
//   decides (a liveness bug the simulator found). A round is pinned when it is
//     · our lockedRound or validRound (the driver tells us: pinRounds), or
//     · the validRound of a proposal stored for the current or a future round (so the prevotes
//       that complete L28 are accepted when re-gossiped, even into a round we never stored), or
//     · a polka round: some value has ≥ q distinct prevoters (with ≤ f Byzantine at most one
//       value per round can, by quorum intersection), the highest POLKA_ROUNDS_KEPT_MAX of them,
//     · a partial polka round: some value has ≥ f+1 distinct prevoters (a correct validator
//       prevoted it, so another peer may hold the polka and re-propose with this vr), the
//       highest POLKA_ROUNDS_KEPT_MAX of them;
//   messages for an older round that is not pinned are refused ('out-of-window');
// - proposals (up to 4 MiB each) are kept in full only for rounds ≥ current − K and our
//   locked/valid rounds; in older rounds only a proposal whose value has ≥ f+1 prevotes or
//   precommits there (≥ 1 correct validator voted for it, so it is what L49 could still
//   decide) is stored;
// - per validator and (round, type), conflicting votes beyond the first are kept only up to
//   EXTRA_VOTES_PER_VALIDATOR_MAX, or when their value already has ≥ f+1 distinct supporters
//   (so ≥ 1 correct validator signed it; there are at most n − f such values per (round, type));
// - per round, proposals from an equivocating proposer likewise: up to EXTRA_PROPOSALS_PER_ROUND_MAX
//   extra ones, or when ≥ f+1 validators prevoted or precommitted the value in that round.
// Rounds stored ≤ (P + 1) + K + 2 + 2·POLKA_ROUNDS_KEPT_MAX + (K + 1)·(1 + EXTRA_PROPOSALS_PER_ROUND_MAX).
import type { ConsensusMessage, Equivocation, Proposal, Vote } from './types.js';
import { bytesEqual, toHex } from '../encoding/bytes.js';
import { PAST_ROUNDS_KEPT_DEFAULT, POLKA_ROUNDS_KEPT_MAX } from './limits.js';

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
  /** Our lockedRound_p / validRound_p (-1 = none): always kept (see pinRounds). */
  private lockedRound = -1;
  private validRound = -1;

  constructor(
    readonly height: number,
    private readonly n: number,
    /** K: future rounds kept in full above the current round; proposals kept in full K rounds below it. */
    private readonly roundsKept: number,
    /** f+1 = n − q + 1: support that proves at least one correct validator signed a value. */
    private readonly support: number = n - (Math.floor((2 * n) / 3) + 1) + 1,
    /** P: past rounds kept in full below the current round (older ones only while pinned). */
    private readonly pastRoundsKept: number = PAST_ROUNDS_KEPT_DEFAULT,
    /** q: prevotes for one value that make a polka (the driver's quorum). */
    private readonly quorum: number = Math.floor((2 * n) / 3) + 1,
  ) {
    this.farRound = new Int32Array(n).fill(-1);
  }

  /**
   * Pins our lockedRound_p and validRound_p: their records are never pruned, and votes for them are
   * accepted however old they are (after a restart the WAL re-feeds them; L28 for our own
   * re-proposal of validValue needs the polka of validRound, L29 compares with lockedRound).
   */
  pinRounds(lockedRound: number, validRound: number): void {
    this.lockedRound = lockedRound;
    this.validRound = validRound;
  }

  /** Moves the window to the new current round and forgets what is no longer needed (see the header). */
  setCurrentRound(round: number): void {
    this.current = round;
    const low = round - this.pastRoundsKept;
    const proposalLow = round - this.roundsKept;
    const referenced = this.referencedRounds();
    const polkas: number[] = [];
    const partial: number[] = [];
    for (const [r, rec] of [...this.rounds]) {
      if (r < proposalLow && rec.proposals.length > 0 && r !== this.lockedRound && r !== this.validRound) {
        // Old round: keep only proposals that some correct validator voted for (L49 candidates).
        rec.proposals = rec.proposals.filter((p) => this.supported(rec, idKey(p.valueId)));
      }
      if (r >= low || r === this.lockedRound || r === this.validRound || referenced.has(r)) continue;
      const prevoters = this.mostPrevoters(rec);
      if (prevoters >= this.quorum) polkas.push(r);
      else if (prevoters >= this.support) partial.push(r);
      else this.rounds.delete(r);
    }
    // Keep the highest ones: correct proposers re-propose their validRound, which only grows.
    // Full polkas and partial ones (≥ f+1 prevoters: a correct validator prevoted the value, so
    // other peers may have seen the polka and may re-propose it with this vr; the missing
    // prevotes can still arrive) are capped separately, so partial ones never evict a polka.
    for (const list of [polkas, partial]) {
      if (list.length <= POLKA_ROUNDS_KEPT_MAX) continue;
      list.sort((a, b) => b - a);
      for (const r of list.slice(POLKA_ROUNDS_KEPT_MAX)) this.rounds.delete(r);
    }
  }

  /**
   * 'kept': messages of `round` are stored; 'far-future': only the sender's highest round is noted
   * (L55); 'too-old': refused (older than the past window and not pinned).
   */
  position(round: number): RoundPosition {
    if (round > this.current + this.roundsKept) return 'far-future';
    if (round >= this.current - this.pastRoundsKept) return 'kept';
    if (this.rounds.has(round) || round === this.lockedRound || round === this.validRound) return 'kept';
    // L28: a proposal of the current (or a future) round with vr = round needs round's prevotes.
    return this.referencedRounds().has(round) ? 'kept' : 'too-old';
  }

  /** validRound of every proposal stored for the current or a future round (L28 may need them). */
  private referencedRounds(): Set<number> {
    const out = new Set<number>();
    for (const [r, rec] of this.rounds) {
      if (r < this.current) continue;
      for (const p of rec.proposals) if (p.proposal.validRound >= 0) out.add(p.proposal.validRound);
    }
    return out;
  }

  /** Most distinct prevoters of one value in the round (nil does not count: L28 needs a value); ≥ q is a polka. */
  private mostPrevoters(rec: RoundRecord): number {
    let most = 0;
    for (const [key, votes] of rec.prevotes.byValue) if (key !== 'nil' && votes.size > most) most = votes.size;
    return most;
  }

  /** ≥ f+1 prevotes or precommits for the value: at least one correct validator voted for it. */
  private supported(rec: RoundRecord, key: string): boolean {
    return rec.prevotes.count(key) >= this.support || rec.precommits.count(key) >= this.support;
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
    if (m.type === 'proposal' && proposalId === null) throw new Error('VoteKeeper.add: a proposal needs its value id');
    if (m.type === 'proposal' && m.round < this.current - this.roundsKept && m.round !== this.lockedRound && m.round !== this.validRound) {
      // Old round: a proposal is only worth its (up to 4 MiB of) memory if L49 could decide it.
      const rec = this.rounds.get(m.round);
      if (rec === undefined || !this.supported(rec, idKey(proposalId!))) return { status: 'out-of-window' };
    }
    const rec = this.record(m.round);
    let result: AddResult;
    if (m.type === 'proposal') {
      result = this.addProposal(rec, m, proposalId!);
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

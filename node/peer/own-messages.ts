// Our own consensus messages of the current height, kept for re-sending while a height is stuck.
// Tendermint assumes every message of a correct process eventually reaches every correct process;
// gossipsub does not re-deliver to a peer that was away, so the runner re-sends these.
import type { ConsensusMessage } from '../../src/consensus/index.js';

/**
 * Votes kept per height. Votes are ~150 bytes, and a re-proposal's validRound can lie many rounds
 * back: the other peers need our prevote of that round to accept it (paper L28).
 */
export const OWN_VOTES_KEPT_MAX = 512;
/** Proposals kept per height: the most recent few (compact records: header + leaf hashes, runner/compact.ts). */
export const OWN_PROPOSALS_KEPT_MAX = 4;

interface Kept {
  bytes: Uint8Array;
  round: number;
}

export class OwnMessages {
  private votes: Kept[] = [];
  private proposals: Kept[] = [];
  private current = -1;

  /** The height whose messages are kept (-1 before the first). */
  get height(): number {
    return this.current;
  }

  /** Keeps one of our signed messages (encoded); a message of a new height drops the old ones. */
  remember(m: ConsensusMessage, bytes: Uint8Array): void {
    if (m.height !== this.current) {
      this.current = m.height;
      this.votes = [];
      this.proposals = [];
    }
    const [list, max] = m.type === 'proposal' ? [this.proposals, OWN_PROPOSALS_KEPT_MAX] : [this.votes, OWN_VOTES_KEPT_MAX];
    list.push({ bytes, round: m.round });
    if (list.length > max) list.shift();
  }

  /**
   * What to re-send at `round`: proposals of this and the previous round only (a proposer
   * re-proposes its valid value itself in new rounds), and the votes of every kept round.
   */
  forResend(round: number): Uint8Array[] {
    const minRound = Math.max(0, round - 1);
    return [...this.proposals.filter((p) => p.round >= minRound), ...this.votes].map((k) => k.bytes);
  }
}

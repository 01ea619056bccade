// Our own proposals found in the WAL of the height being resumed, by round: the last guard against
// proposing twice for one (h, r) when the signer state lost its last-signed record (a persistence
// bug, or a second process with our key). Our proposal goes to the WAL compact, as it travelled,
// and a compact record reaches the driver only after an asynchronous rebuild that may never
// succeed (nobody else may hold the entries), so the admission record of the height cannot catch
// a second proposal in time. These slots are filled from the WAL before the height resumes.
//
// A slot holds the ⟨PROPOSAL⟩ signature, which both the compact and the whole record carry.
// Ed25519 is deterministic (RFC 8032 §5.1.6: the nonce is a hash of the key and the message), so
// the same proposal signed again gives the same signature, and a different one (other value or
// validRound) gives a different signature unless SHA-512 collides.
import { bytesEqual } from '../../../src/encoding/bytes.js';

/** Rounds remembered per height: far more than the driver's round window (rounds kept). */
export const OWN_PROPOSAL_ROUNDS_MAX = 4_096;

export type OwnProposalMatch = 'none' | 'same' | 'different';

export class OwnProposalSlots {
  private current = -1;
  private readonly byRound = new Map<number, Uint8Array>();

  /** Our proposal of (height, round) as found in the WAL, by its ⟨PROPOSAL⟩ signature. */
  note(height: number, round: number, signature: Uint8Array): void {
    if (height !== this.current) {
      this.current = height;
      this.byRound.clear();
    }
    if (this.byRound.has(round) || this.byRound.size >= OWN_PROPOSAL_ROUNDS_MAX) return;
    this.byRound.set(round, signature);
  }

  /**
   * Our proposal about to be sent, against the one the WAL holds for its slot: 'different' means
   * sending it would be double-signing.
   */
  match(height: number, round: number, signature: Uint8Array): { kind: OwnProposalMatch } {
    const slot = height === this.current ? this.byRound.get(round) : undefined;
    if (slot === undefined) return { kind: 'none' };
    return { kind: bytesEqual(slot, signature) ? 'same' : 'different' };
  }
}

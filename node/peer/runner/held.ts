// Proposals for heights above the one being decided, held until that height starts. The driver
// buffers future votes itself, but a proposal must be validated (asynchronously, against the head
// it builds on) before the driver sees it, so proposals wait here. The caller has already checked
// that the sender is proposer(h, r), so junk from other validators never takes a slot; per
// height, each validator holds at most `perValidator` proposals (one per round), and all held
// proposals together at most `bytesMax` bytes.
import type { Proposal } from '../../../src/consensus/index.js';

export class HeldProposals {
  private readonly byHeight = new Map<number, Proposal[]>();
  private bytes = 0;

  constructor(
    private readonly perValidator: number,
    private readonly bytesMax: number,
  ) {}

  /** Holds p unless its round is held already or a bound is reached; true when held. */
  hold(p: Proposal): boolean {
    let list = this.byHeight.get(p.height);
    if (list === undefined) {
      list = [];
      this.byHeight.set(p.height, list);
    }
    let mine = 0;
    for (const q of list) {
      if (q.validator !== p.validator) continue;
      if (q.round === p.round) return false;
      mine++;
    }
    if (mine >= this.perValidator || this.bytes + p.value.length > this.bytesMax) return false;
    list.push(p);
    this.bytes += p.value.length;
    return true;
  }

  has(height: number): boolean {
    return (this.byHeight.get(height)?.length ?? 0) > 0;
  }

  /** Removes and returns the proposals of `height` (lowest round first); drops lower heights. */
  take(height: number): Proposal[] {
    for (const h of [...this.byHeight.keys()]) if (h < height) this.drop(h);
    const list = this.byHeight.get(height) ?? [];
    this.drop(height);
    return list.sort((a, b) => a.round - b.round);
  }

  private drop(height: number): void {
    for (const p of this.byHeight.get(height) ?? []) this.bytes -= p.value.length;
    this.byHeight.delete(height);
  }

  /** Bytes of value held (status). */
  get heldBytes(): number {
    return this.bytes;
  }

  get count(): number {
    let c = 0;
    for (const l of this.byHeight.values()) c += l.length;
    return c;
  }
}

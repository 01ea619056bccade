// Verified messages of heights above the current one, kept for replay at their start-height
// (a peer that is a little behind must not lose the votes that would let it decide). Bounded per
// validator and height, so one validator cannot crowd out the others; the height window is the
// driver's concern.
import type { ConsensusMessage, Proposal, Vote } from './types.js';
import { bytesEqual } from '../encoding/bytes.js';

export interface BufferedMessage {
  message: ConsensusMessage;
  valueId: Uint8Array | null;
}

interface PerHeight {
  entries: BufferedMessage[];
  perValidator: Uint16Array;
}

export class FutureBuffer {
  private readonly heights = new Map<number, PerHeight>();

  constructor(
    private readonly n: number,
    /** Messages kept per validator and height. */
    readonly perValidatorMax: number,
  ) {}

  /** Whether `msg` may be added (check BEFORE the signature): 'duplicate' = already kept. */
  admit(msg: ConsensusMessage): 'ok' | 'duplicate' | 'full' {
    const b = this.heights.get(msg.height);
    if (b === undefined) return 'ok';
    for (const e of b.entries) if (sameMessage(e.message, msg)) return 'duplicate';
    return b.perValidator[msg.validator]! >= this.perValidatorMax ? 'full' : 'ok';
  }

  /** Adds a verified message that `admit` accepted. */
  add(msg: ConsensusMessage, valueId: Uint8Array | null): void {
    let b = this.heights.get(msg.height);
    if (b === undefined) {
      b = { entries: [], perValidator: new Uint16Array(this.n) };
      this.heights.set(msg.height, b);
    }
    b.entries.push({ message: msg, valueId });
    b.perValidator[msg.validator]! += 1;
  }

  count(height: number): number {
    return this.heights.get(height)?.entries.length ?? 0;
  }

  /** Removes and returns the messages of `height`; drops those of lower heights. */
  take(height: number): BufferedMessage[] {
    for (const h of [...this.heights.keys()]) if (h < height) this.heights.delete(h);
    const b = this.heights.get(height);
    this.heights.delete(height);
    return b?.entries ?? [];
  }
}

function sameMessage(a: ConsensusMessage, b: ConsensusMessage): boolean {
  if (a.type !== b.type || a.height !== b.height || a.round !== b.round || a.validator !== b.validator || !bytesEqual(a.signature, b.signature)) return false;
  if (a.type === 'proposal') {
    const bp = b as Proposal;
    return a.validRound === bp.validRound && bytesEqual(a.value, bp.value);
  }
  const bv = (b as Vote).valueId;
  return a.valueId === null || bv === null ? a.valueId === bv : bytesEqual(a.valueId, bv);
}

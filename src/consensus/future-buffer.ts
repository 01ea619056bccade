// Verified messages of heights above the current one, kept for replay at their start-height
// (a peer that is a little behind must not lose the votes that would let it decide). Bounded per
// validator and height, so one validator cannot crowd out the others; the height window is the
// driver's concern. Each message keeps the validator set it was verified against: when that set
// was not final yet (a membership change could still come in force at that height), the driver
// checks it again against the height's real set when the height starts.
import type { ConsensusMessage, Proposal, Validator, Vote } from './types.js';
import { bytesEqual } from '../encoding/bytes.js';

export interface BufferedMessage {
  message: ConsensusMessage;
  valueId: Uint8Array | null;
  /** The set the signature was checked against. */
  validators: readonly Validator[];
}

interface PerHeight {
  entries: BufferedMessage[];
  /** Messages per validator index (at most n of the believed set: bounded by VALIDATORS_MAX). */
  perValidator: Map<number, number>;
}

export class FutureBuffer {
  private readonly heights = new Map<number, PerHeight>();

  constructor(
    /** Messages kept per validator and height. */
    readonly perValidatorMax: number,
  ) {}

  /** Whether `msg` may be added (check BEFORE the signature): 'duplicate' = already kept. */
  admit(msg: ConsensusMessage): 'ok' | 'duplicate' | 'full' {
    const b = this.heights.get(msg.height);
    if (b === undefined) return 'ok';
    for (const e of b.entries) if (sameMessage(e.message, msg)) return 'duplicate';
    return (b.perValidator.get(msg.validator) ?? 0) >= this.perValidatorMax ? 'full' : 'ok';
  }

  /** Adds a message that `admit` accepted, verified against `validators`. */
  add(msg: ConsensusMessage, valueId: Uint8Array | null, validators: readonly Validator[]): void {
    let b = this.heights.get(msg.height);
    if (b === undefined) {
      b = { entries: [], perValidator: new Map() };
      this.heights.set(msg.height, b);
    }
    b.entries.push({ message: msg, valueId, validators });
    b.perValidator.set(msg.validator, (b.perValidator.get(msg.validator) ?? 0) + 1);
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

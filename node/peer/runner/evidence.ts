// Equivocation evidence, stored compactly and bounded per validator.
//
// The record keeps the evidence format of node/peer/codec.ts (u8 1 | u32 len ‖ first | u32 len ‖
// second, each an encoded consensus message), but a proposal's value is replaced by its value id:
// a proposal's signature covers only (chain, height, round, id(v), validRound), so the compact
// proposal still proves what the validator signed, in ~150 bytes instead of two whole blocks.
import type { ConsensusMessage, Equivocation } from '../../../src/consensus/index.js';
import { encodeEvidence } from '../codec.js';

/** Evidence records stored per (height, validator): one equivocation per round and type at most. */
export const EVIDENCE_PER_VALIDATOR_HEIGHT_MAX = 4;
/** Evidence records stored per validator by one process (a later restart may store more). */
export const EVIDENCE_PER_VALIDATOR_MAX = 1_000;

function compact(m: ConsensusMessage, valueId: (v: Uint8Array) => Uint8Array): ConsensusMessage {
  return m.type === 'proposal' ? { ...m, value: valueId(m.value) } : m;
}

export function encodeCompactEvidence(e: Equivocation, valueId: (v: Uint8Array) => Uint8Array): Uint8Array {
  return encodeEvidence({ ...e, first: compact(e.first, valueId), second: compact(e.second, valueId) });
}

/** Decides which evidence records are stored (the rest are only counted). */
export class EvidenceBudget {
  private perHeight = new Map<number, number>();
  private height = -1;
  /** Per validator index (at most VALIDATORS_MAX of them, whatever the set of each height). */
  private readonly total = new Map<number, number>();

  /** `_n`: the genesis set's size (kept for callers; indexes of any set are tracked). */
  constructor(_n?: number) {}

  take(height: number, validator: number): boolean {
    if (height !== this.height) {
      this.height = height;
      this.perHeight = new Map();
    }
    const h = this.perHeight.get(validator) ?? 0;
    const t = this.total.get(validator) ?? 0;
    if (h >= EVIDENCE_PER_VALIDATOR_HEIGHT_MAX || t >= EVIDENCE_PER_VALIDATOR_MAX) return false;
    this.perHeight.set(validator, h + 1);
    this.total.set(validator, t + 1);
    return true;
  }
}

// Which consensus messages of the current height the runner hands to the driver and writes to the
// WAL. Every gossiped message used to be appended to the per-height WAL before the driver looked
// at it, so one validator's validly signed junk could fill the WAL (and the store's per-height
// cap) and every honest message after it failed. Here a message is admitted only if the driver
// could use it, and each validator gets its own share of the WAL:
//   - at most one message per (type, validator, round) plus ONE conflicting copy (kept so the
//     driver sees the equivocation and reports evidence; a third version carries nothing new);
//   - an exact repeat (same type, validator, round and value id) is a duplicate;
//   - per validator, at most `recordsPerValidator` records and `bytesPerValidator` bytes.
// A message is recorded only once it was handled (`commit`), so a message dropped by back-pressure
// or a failed write is handled again when it is re-sent.
import { toHex } from '../../../src/encoding/bytes.js';
import type { ConsensusMessage } from '../../../src/consensus/index.js';

/** Versions of one (type, validator, round) kept: the first plus one conflicting copy (evidence). */
export const VERSIONS_PER_SLOT_MAX = 2;

/** Slots remembered per height: far above what the driver's round window can produce honestly. */
export const SLOTS_PER_HEIGHT_MAX = 65_536;

export type Admission = 'new' | 'conflict' | 'duplicate' | 'excess';

export interface Quota {
  recordsPerValidator: number;
  bytesPerValidator: number;
}

export function slotKey(m: ConsensusMessage): string {
  const t = m.type === 'proposal' ? 'P' : m.type === 'prevote' ? 'V' : 'C';
  return `${t}${m.validator}:${m.round}`;
}

export class HeightAdmission {
  private slots = new Map<string, string[]>();
  private records: Uint32Array;
  private bytes: Float64Array;
  private totalRecords = 0;
  private totalBytes = 0;
  private current = -1;

  constructor(
    private readonly n: number,
    private readonly quota: Quota,
  ) {
    this.records = new Uint32Array(n);
    this.bytes = new Float64Array(n);
  }

  /** The height being tracked; a different height resets everything. */
  get height(): number {
    return this.current;
  }

  reset(height: number): void {
    if (height === this.current) return;
    this.current = height;
    this.slots = new Map();
    this.records = new Uint32Array(this.n);
    this.bytes = new Float64Array(this.n);
    this.totalRecords = 0;
    this.totalBytes = 0;
  }

  /** What a message of the tracked height would be, given its value id (hex; 'nil' for nil votes). */
  classify(m: ConsensusMessage, idHex: string): Admission {
    const versions = this.slots.get(slotKey(m));
    if (versions === undefined) return 'new';
    if (versions.includes(idHex)) return 'duplicate';
    return versions.length >= VERSIONS_PER_SLOT_MAX ? 'excess' : 'conflict';
  }

  /** True when `bytes` more from `validator` still fit its WAL share of the height. */
  fits(validator: number, bytes: number): boolean {
    return this.records[validator]! + 1 <= this.quota.recordsPerValidator && this.bytes[validator]! + bytes <= this.quota.bytesPerValidator;
  }

  /** Records a handled message; `walBytes` > 0 when it was written to the WAL. */
  commit(m: ConsensusMessage, idHex: string, walBytes: number): void {
    const k = slotKey(m);
    const versions = this.slots.get(k);
    if (versions === undefined) {
      if (this.slots.size < SLOTS_PER_HEIGHT_MAX) this.slots.set(k, [idHex]);
    }
    else if (!versions.includes(idHex) && versions.length < VERSIONS_PER_SLOT_MAX) versions.push(idHex);
    if (walBytes > 0) {
      this.records[m.validator]! += 1;
      this.bytes[m.validator]! += walBytes;
      this.totalRecords++;
      this.totalBytes += walBytes;
    }
  }

  /** WAL records and bytes written at the tracked height (all validators). */
  usage(): { records: number; bytes: number } {
    return { records: this.totalRecords, bytes: this.totalBytes };
  }

  /** Slots tracked (memory bound: rounds in the driver's window × types × validators). */
  get size(): number {
    return this.slots.size;
  }
}

/** The value id a message refers to, as hex: id(v) for a proposal, the vote's id, or 'nil'. */
export function messageIdHex(m: ConsensusMessage, valueId: (v: Uint8Array) => Uint8Array): string {
  if (m.type === 'proposal') return toHex(valueId(m.value));
  return m.valueId === null ? 'nil' : toHex(m.valueId);
}

// Which consensus messages of the current height the runner hands to the driver and writes to the
// WAL. Every gossiped message used to be appended to the per-height WAL before the driver looked
// at it, so one validator's validly signed junk could fill the WAL (and the store's per-height
// cap) and every honest message after it failed. Here a message is admitted only if the driver
// could use it, and each validator gets its own share of the WAL:
//   - per (type, validator, round) the versions the driver's vote keeper would count: the first,
//     up to EXTRA_*_MAX conflicting ones (the driver sees the equivocation and reports evidence),
//     and beyond that only a version whose value already has f+1 distinct supporters in that
//     round (so a correct validator signed it: it may complete a polka or a commit that other
//     peers saw; refusing it would split the correct peers' views for good). Junk versions for
//     values nobody else voted for are refused;
//   - an exact repeat (same type, validator, round and value id) is a duplicate;
//   - per validator, at most `recordsPerValidator` records and `bytesPerValidator` bytes.
// A message is recorded only once it was handled (`commit`), so a message dropped by back-pressure
// or a failed write is handled again when it is re-sent. At restart every record read back from the
// WAL is charged to its validator's share first (`charge`), once, and its replay commits it without
// bytes: some are never handled again (a compact proposal nobody can rebuild any more, our own
// proposal of an earlier round), yet the store's cap counts them. The validator set (n, and so f+1 and the
// shares) is that of the tracked height: `reset` takes it.
import { toHex } from '../../../src/encoding/bytes.js';
import { skipThreshold, type ConsensusMessage } from '../../../src/consensus/index.js';
import { EXTRA_PROPOSALS_PER_ROUND_MAX, EXTRA_VOTES_PER_VALIDATOR_MAX } from '../../../src/consensus/vote-keeper.js';

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
  /** Distinct validators that voted for a value: key `${V|C}${round}:${idHex}`. */
  private support = new Map<string, Set<number>>();
  private fPlusOne: number;
  private quota: Quota;
  private readonly quotaOf: (n: number) => Quota;
  private records: Uint32Array;
  private bytes: Float64Array;
  private totalRecords = 0;
  private totalBytes = 0;
  private current = -1;

  constructor(
    private n: number,
    /** Each validator's WAL share of a height, fixed or for a set of n validators. */
    quota: Quota | ((n: number) => Quota),
  ) {
    this.quotaOf = typeof quota === 'function' ? quota : () => quota;
    this.records = new Uint32Array(n);
    this.bytes = new Float64Array(n);
    this.fPlusOne = skipThreshold(n);
    this.quota = this.quotaOf(n);
  }

  /** The height being tracked; a different height resets everything. */
  get height(): number {
    return this.current;
  }

  /** Tracks `height`, whose validator set has `n` validators (default: the previous height's n). */
  reset(height: number, n = this.n): void {
    if (height === this.current) return;
    this.current = height;
    if (n !== this.n) {
      this.n = n;
      this.fPlusOne = skipThreshold(n);
      this.quota = this.quotaOf(n);
    }
    this.slots = new Map();
    this.support = new Map();
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
    const extra = m.type === 'proposal' ? EXTRA_PROPOSALS_PER_ROUND_MAX : EXTRA_VOTES_PER_VALIDATOR_MAX;
    return versions.length < 1 + extra || this.supported(m, idHex) ? 'conflict' : 'excess';
  }

  /** The value has f+1 distinct voters in the message's round (a proposal: prevotes or precommits). */
  private supported(m: ConsensusMessage, idHex: string): boolean {
    const count = (t: string) => this.support.get(`${t}${m.round}:${idHex}`)?.size ?? 0;
    if (m.type === 'proposal') return count('V') >= this.fPlusOne || count('C') >= this.fPlusOne;
    return count(m.type === 'prevote' ? 'V' : 'C') >= this.fPlusOne;
  }

  /** True when `bytes` more from `validator` still fit its WAL share of the height. */
  fits(validator: number, bytes: number): boolean {
    if (validator >= this.n) return false;
    return this.records[validator]! + 1 <= this.quota.recordsPerValidator && this.bytes[validator]! + bytes <= this.quota.bytesPerValidator;
  }

  /**
   * `bytes` of a record of the tracked height read back from the WAL at start, counted against the
   * share of `validator` (null: a record naming no validator of the set, counted in the totals
   * only). The store holds it whatever the replay makes of it, and its cap counts it.
   */
  charge(validator: number | null, bytes: number): void {
    if (validator !== null && validator < this.n) {
      this.records[validator]! += 1;
      this.bytes[validator]! += bytes;
    }
    this.totalRecords++;
    this.totalBytes += bytes;
  }

  /** Records a handled message; `walBytes` > 0 when it was written to the WAL (now, not replayed: see charge). */
  commit(m: ConsensusMessage, idHex: string, walBytes: number): void {
    const k = slotKey(m);
    const versions = this.slots.get(k);
    if (versions === undefined) {
      if (this.slots.size < SLOTS_PER_HEIGHT_MAX) this.slots.set(k, [idHex]);
    } else if (!versions.includes(idHex)) {
      versions.push(idHex);
    }
    if (m.type !== 'proposal' && this.support.size < SLOTS_PER_HEIGHT_MAX) {
      const sk = `${m.type === 'prevote' ? 'V' : 'C'}${m.round}:${idHex}`;
      let set = this.support.get(sk);
      if (set === undefined) this.support.set(sk, (set = new Set()));
      set.add(m.validator);
    }
    if (walBytes > 0 && m.validator < this.n) {
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

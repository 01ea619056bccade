// The meta-audit queue: events wait here, synced to disk, until they are final entries of the log.
//
// Its own LevelDB (the peer's store is not shared: its write path is consensus-critical, and a
// separate database can be inspected or moved on its own). Keys:
//   'i'            instance id (16 hex, random, written once): part of every entry id, so a queue that
//                  was deleted and recreated never reuses an id the log already holds
//   'n'            next sequence number (u64)
//   'q' ‖ u64 seq  one record (JSON QueuedRecord)
//
// Group commit (node/storage/group-commit.ts): record() calls arriving while a write is in flight
// are applied together and written in ONE synced batch, then all resolve. A record is durable before its caller hears
// 'queued' or 'full', so a kill -9 after record() resolved loses nothing.
//
// Coalescing: events with the same actor, action, outcome, reason and address within
// coalesceWindowMs of the record's creation (this queue's clock) share one record: a count, and up to
// coalesceResourcesMax distinct resources (the next distinct one starts a new record, so no
// resource name is lost). A record is frozen — never changed again — when its window ends, when
// its resource list is full, or when it was read back after a restart; only frozen records whose
// last change is synced are submitted, so a submitted entry always matches what is on disk.
//
// Bounds: at most maxRecords records and maxBytes bytes; an event that fits in neither answers
// 'full' and is counted in an overflow counter record (per actor+action+outcome, without the
// resource; at most overflowRecordsMax of them, then one catch-all counter with actor "*"). With
// failClosed a successful read at 'full' is not counted: the gate refuses it with 503.
import { randomBytes } from 'node:crypto';
import { ClassicLevel } from 'classic-level';
import { durableBatch, durablePut, writeBatch, type BatchOp } from '../storage/durable.js';
import { GroupCommit } from '../storage/group-commit.js';
import { readU64, u64 } from '../storage/keys.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { FIELD_CHARS_MAX, type MetaAuditEvent, type MetaAuditLimits } from './types.js';

const K_INSTANCE = 0x69; // 'i'
const K_NEXT = 0x6e; // 'n'
const K_RECORD = 0x71; // 'q'

export type RecordOutcome = 'success' | 'denied' | 'unknown';

export interface QueuedRecord {
  seq: number;
  actor: string;
  action: string;
  outcome: RecordOutcome;
  reason?: string;
  address: string;
  firstAt: number;
  lastAt: number;
  /** Events in this record. */
  count: number;
  /** Distinct resources (empty for overflow counters). */
  resources: { type: string; id: string }[];
  /** An overflow counter: events recorded while the queue was full, resources not listed. */
  overflow?: true;
  /** The catch-all overflow counter (actor "*"): overflow counters were at their bound too. */
  catchAll?: true;
}

/** Action of the catch-all overflow counter. */
export const CATCH_ALL_ACTION = 'cairn.meta-audit.overflow';

const dec = new TextDecoder();

function recordKey(seq: number): Uint8Array {
  const k = new Uint8Array(9);
  k[0] = K_RECORD;
  k.set(u64(seq), 1);
  return k;
}

const clip = (s: string) => (s.length > FIELD_CHARS_MAX ? s.slice(0, FIELD_CHARS_MAX) : s);
const str = (v: unknown) => (typeof v === 'string' ? v : String(v));

export interface QueueCounters {
  events: number;
  coalesced: number;
  overflow: number;
  full: number;
}

export class MetaAuditQueue {
  /** Every waiting record, by seq (insertion order = seq order). */
  readonly records = new Map<number, QueuedRecord>();
  private readonly sizes = new Map<number, number>();
  private bytes = 0;
  private normalCount = 0;
  private overflowCount = 0;
  /** Records still open for merging, by coalescing key. Absent = frozen. */
  private readonly open = new Map<string, number>();
  private readonly openOverflow = new Map<string, number>();
  private openCatchAll: number | null = null;
  /** The coalescing key of each open record (so ready() skips frozen ones without computing keys). */
  private readonly openKeyOf = new Map<number, string>();
  /**
   * When each record of this run was created, by this queue's clock: coalescing windows are timed
   * with it, not with the events' own times (a far-future atMs must not keep a record open).
   */
  private readonly createdAt = new Map<number, number>();
  private catchAllCount = 0;
  /** Records changed by the write in flight: not submitted until it is synced. */
  private readonly dirty = new Set<number>();
  private readonly commits = new GroupCommit<MetaAuditEvent, 'queued' | 'full'>('meta-audit queue', (group) => this.commitGroup(group));
  private closed = false;
  readonly counters: QueueCounters = { events: 0, coalesced: 0, overflow: 0, full: 0 };

  private constructor(
    private readonly db: ClassicLevel<Uint8Array, Uint8Array>,
    readonly instance: string,
    private nextSeq: number,
    private readonly limits: MetaAuditLimits,
    private readonly failClosed: boolean,
    private readonly now: () => number,
  ) {}

  static async open(dir: string, limits: MetaAuditLimits, opts: { failClosed?: boolean; now?: () => number } = {}): Promise<MetaAuditQueue> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    try {
      let inst = await db.get(Uint8Array.of(K_INSTANCE));
      if (inst === undefined) {
        inst = utf8(randomBytes(8).toString('hex'));
        await durablePut(db, Uint8Array.of(K_INSTANCE), inst);
      }
      const n = await db.get(Uint8Array.of(K_NEXT));
      const q = new MetaAuditQueue(db, dec.decode(inst), n === undefined ? 0 : readU64(n, 0), limits, opts.failClosed ?? false, opts.now ?? Date.now);
      // Read back every record, frozen: it may have been submitted before the restart.
      for await (const [k, v] of db.iterator({ gte: Uint8Array.of(K_RECORD), lt: Uint8Array.of(K_RECORD + 1) })) {
        const r = JSON.parse(dec.decode(v)) as QueuedRecord;
        if (r.seq !== readU64(k, 1)) throw new Error(`meta-audit queue record key ${readU64(k, 1)} holds seq ${r.seq}`);
        q.records.set(r.seq, r);
        q.sizes.set(r.seq, v.length);
        q.bytes += v.length;
        if (r.overflow) q.overflowCount++;
        else q.normalCount++;
        if (r.catchAll) q.catchAllCount++;
        if (r.seq >= q.nextSeq) q.nextSeq = r.seq + 1;
      }
      return q;
    } catch (e) {
      await db.close().catch(() => undefined);
      throw e;
    }
  }

  get size(): number {
    return this.records.size;
  }
  get sizeBytes(): number {
    return this.bytes;
  }

  /** Durably records one event (see the header for 'full'). */
  record(ev: MetaAuditEvent): Promise<'queued' | 'full'> {
    return this.commits.submit(ev);
  }

  /** One group commit: applies the group's events, writes every record they changed in one synced batch. */
  private async commitGroup(group: MetaAuditEvent[]): Promise<('queued' | 'full' | Error)[]> {
    const touched = new Set<number>();
    const results = group.map((ev) => {
      try {
        return this.apply(ev, touched);
      } catch (e) {
        return e as Error; // a bug in apply: that caller hears it, the others are written
      }
    });
    const ops: BatchOp[] = [];
    for (const seq of touched) {
      const r = this.records.get(seq);
      if (r === undefined) continue;
      const value = utf8(JSON.stringify(r));
      this.bytes += value.length - (this.sizes.get(seq) ?? 0);
      this.sizes.set(seq, value.length);
      ops.push({ type: 'put', key: recordKey(seq), value });
      this.dirty.add(seq);
    }
    try {
      if (ops.length > 0) {
        ops.push({ type: 'put', key: Uint8Array.of(K_NEXT), value: u64(this.nextSeq) });
        // Not durable when this throws: the callers hear the error (the gate fails closed). The
        // records stay in memory and may still be submitted: an extra meta-audit entry is harmless.
        await durableBatch(this.db, ops);
      }
      return results;
    } finally {
      for (const seq of touched) this.dirty.delete(seq);
    }
  }

  /** Applies one event to the in-memory records; adds the seqs to write to `touched`. */
  private apply(raw: MetaAuditEvent, touched: Set<number>): 'queued' | 'full' {
    const now = this.now();
    const ev = {
      actor: clip(str(raw.actor)),
      action: clip(str(raw.action)),
      outcome: raw.outcome === 'success' ? 'success' : 'denied',
      ...(raw.reason !== undefined ? { reason: clip(str(raw.reason)) } : {}),
      address: clip(str(raw.address)),
      at: Number.isSafeInteger(raw.atMs) ? raw.atMs : now,
      resource: { type: clip(str(raw.resource?.type)), id: clip(str(raw.resource?.id)) },
    } as const;
    this.counters.events++;
    const key = JSON.stringify([ev.actor, ev.action, ev.outcome, ev.reason ?? null, ev.address]);
    const openSeq = this.open.get(key);
    const rec = openSeq === undefined ? undefined : this.records.get(openSeq);
    if (rec !== undefined) {
      if (this.expired(rec.seq, now)) {
        this.closeOpen(this.open, key);
      } else if (rec.resources.some((r) => r.type === ev.resource.type && r.id === ev.resource.id)) {
        this.merge(rec, ev.at, touched);
        return 'queued';
      } else if (rec.resources.length < this.limits.coalesceResourcesMax) {
        if (this.bytes + this.resourceBytes(ev.resource) <= this.limits.maxBytes) {
          rec.resources.push(ev.resource);
          this.merge(rec, ev.at, touched);
          return 'queued';
        }
        return this.overflow(ev, touched, now);
      } else {
        this.closeOpen(this.open, key); // list full: this record is done, start the next one
      }
    } else if (openSeq !== undefined) {
      this.closeOpen(this.open, key);
    }
    const est = 256 + ev.actor.length + ev.action.length + ev.address.length + (ev.reason?.length ?? 0) + this.resourceBytes(ev.resource);
    if (this.normalCount >= this.limits.maxRecords || this.bytes + est > this.limits.maxBytes) return this.overflow(ev, touched, now);
    const r: QueuedRecord = {
      seq: this.nextSeq++,
      actor: ev.actor,
      action: ev.action,
      outcome: ev.outcome,
      ...(ev.reason !== undefined ? { reason: ev.reason } : {}),
      address: ev.address,
      firstAt: ev.at,
      lastAt: ev.at,
      count: 1,
      resources: [ev.resource],
    };
    this.records.set(r.seq, r);
    this.createdAt.set(r.seq, now);
    this.normalCount++;
    this.open.set(key, r.seq);
    this.openKeyOf.set(r.seq, key);
    touched.add(r.seq);
    return 'queued';
  }

  private merge(rec: QueuedRecord, at: number, touched: Set<number>): void {
    rec.count++;
    rec.lastAt = Math.max(rec.lastAt, at);
    this.counters.coalesced++;
    touched.add(rec.seq);
  }

  private resourceBytes(r: { type: string; id: string }): number {
    return JSON.stringify(r).length + 1;
  }

  private overflow(ev: { actor: string; action: string; outcome: 'success' | 'denied'; reason?: string; address: string; at: number }, touched: Set<number>, now: number): 'full' {
    this.counters.full++;
    // Fail closed: the gate answers 503 and serves nothing, so there is no read to record.
    if (this.failClosed && ev.outcome === 'success') return 'full';
    this.counters.overflow++;
    const key = JSON.stringify([ev.actor, ev.action, ev.outcome]);
    const seq = this.openOverflow.get(key);
    const rec = seq === undefined ? undefined : this.records.get(seq);
    if (rec !== undefined && !this.expired(rec.seq, now)) {
      rec.count++;
      rec.lastAt = Math.max(rec.lastAt, ev.at);
      touched.add(rec.seq);
      return 'full';
    }
    this.closeOpen(this.openOverflow, key);
    let r: QueuedRecord;
    if (this.overflowCount < this.limits.overflowRecordsMax) {
      r = { seq: this.nextSeq++, actor: ev.actor, action: ev.action, outcome: ev.outcome, address: ev.address, firstAt: ev.at, lastAt: ev.at, count: 1, resources: [], overflow: true };
      this.openOverflow.set(key, r.seq);
      this.openKeyOf.set(r.seq, key);
    } else {
      const open = this.openCatchAll === null ? undefined : this.records.get(this.openCatchAll);
      if (open !== undefined) {
        open.count++;
        open.lastAt = Math.max(open.lastAt, ev.at);
        touched.add(open.seq);
        return 'full';
      }
      r = { seq: this.nextSeq++, actor: '*', action: CATCH_ALL_ACTION, outcome: 'unknown', address: '', firstAt: ev.at, lastAt: ev.at, count: 1, resources: [], overflow: true, catchAll: true };
      this.openCatchAll = r.seq;
      this.catchAllCount++;
    }
    this.records.set(r.seq, r);
    this.createdAt.set(r.seq, now);
    this.overflowCount++;
    touched.add(r.seq);
    return 'full';
  }

  /**
   * Up to `max` records ready to submit, oldest first: frozen (or whose window has ended: they are
   * frozen now), synced, and not excluded by `skip`. The open catch-all counter is frozen only
   * when no other catch-all waits, so at most two exist.
   */
  ready(max: number, skip: (seq: number) => boolean): QueuedRecord[] {
    const now = this.now();
    const out: QueuedRecord[] = [];
    const frozenCatchAll = this.catchAllCount - (this.openCatchAll === null ? 0 : 1) > 0;
    for (const r of this.records.values()) {
      if (out.length >= max) break;
      if (this.dirty.has(r.seq) || skip(r.seq)) continue;
      if (!this.freezeIfDue(r, now, frozenCatchAll)) continue;
      out.push(r);
    }
    return out;
  }

  /** True when `r` is frozen (freezing it if its window has ended). */
  private freezeIfDue(r: QueuedRecord, now: number, frozenCatchAll: boolean): boolean {
    const due = this.expired(r.seq, now);
    if (r.catchAll) {
      if (r.seq !== this.openCatchAll) return true;
      if (!due || frozenCatchAll) return false;
      this.openCatchAll = null;
      return true;
    }
    const key = this.openKeyOf.get(r.seq);
    if (key === undefined) return true;
    if (!due) return false;
    this.closeOpen(r.overflow ? this.openOverflow : this.open, key);
    return true;
  }

  /** The record's coalescing window has ended (records read back after a restart: always). */
  private expired(seq: number, now: number): boolean {
    const t = this.createdAt.get(seq);
    return t === undefined || now - t >= this.limits.coalesceWindowMs;
  }

  private closeOpen(map: Map<string, number>, key: string): void {
    const seq = map.get(key);
    if (seq === undefined) return;
    map.delete(key);
    this.openKeyOf.delete(seq);
  }

  /**
   * Removes records whose entries are final. Not synced: if the removal is lost in a crash, the
   * record is submitted again after the restart, the log answers "already final" for its id, and
   * it is removed again — no duplicate entry, nothing lost.
   */
  async remove(seqs: number[]): Promise<void> {
    const ops: BatchOp[] = [];
    for (const seq of seqs) {
      const r = this.records.get(seq);
      if (r === undefined) continue;
      this.records.delete(seq);
      this.createdAt.delete(seq);
      this.bytes -= this.sizes.get(seq) ?? 0;
      this.sizes.delete(seq);
      if (r.overflow) this.overflowCount--;
      else this.normalCount--;
      if (r.catchAll) this.catchAllCount--;
      ops.push({ type: 'del', key: recordKey(seq) });
    }
    if (ops.length > 0) await writeBatch(this.db, ops, { durable: false });
  }

  /** Waits for the write in flight (and those queued behind it), then closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.commits.close();
    await this.db.close();
  }
}

// The durable alert outbox: alerts wait in the peer's LevelDB until each destination has
// acknowledged them. At-least-once: a record leaves the queue only in the same synced write that
// marks it delivered, so a kill -9 at any point repeats at most the deliveries in flight, never
// loses one; receivers deduplicate by the alert id (the Standard Webhooks `webhook-id`, the syslog
// structured-data id, the Alertmanager `alert_id` label).
//
// Keys (all under the 'A' prefix of node/storage/keys.ts):
//   'A' 'q' ‖ u64 seq                    queued delivery: JSON { seq, dest, alert, attempts, nextAt, ... }
//   'A' 'k' ‖ utf8 dest ‖ 0x00 ‖ utf8 id  u64 seq: this alert was accepted for this destination
//   'A' 'D' ‖ u64 seq                    the 'k' key of a delivered record (oldest pruned first)
//   'A' 'n'                              next seq (u64)
//
// Bounded: at most maxQueued records wait; enqueue of a batch that does not fit is refused whole
// (OutboxFullError) and raises the `outbox_full` alarm. The evaluator then keeps its position and
// evaluates the same entries again later: evaluation is deterministic, so the same alerts come
// back with the same ids and nothing is lost.
import type { ClassicLevel } from 'classic-level';
import { durableBatch, type BatchOp } from '../storage/durable.js';
import { P_ALERTS, readU64, u64 } from '../storage/keys.js';
import type { Alert } from '../../src/alerts/types.js';
import type { Destination } from './destinations-config.js';

type Db = Pick<ClassicLevel<Uint8Array, Uint8Array>, 'get' | 'getMany' | 'put' | 'batch' | 'iterator'>;

const K_QUEUE = 0x71; // 'q'
const K_KNOWN = 0x6b; // 'k'
const K_DELIVERED = 0x44; // 'D'
const K_NEXT = 0x6e; // 'n'

const enc = new TextEncoder();
const dec = new TextDecoder();

function key(kind: number, rest: Uint8Array = new Uint8Array(0)): Uint8Array {
  const k = new Uint8Array(2 + rest.length);
  k[0] = P_ALERTS;
  k[1] = kind;
  k.set(rest, 2);
  return k;
}
function knownKey(dest: string, id: string): Uint8Array {
  const d = enc.encode(dest);
  const i = enc.encode(id);
  const r = new Uint8Array(d.length + 1 + i.length);
  r.set(d, 0);
  r.set(i, d.length + 1);
  return key(K_KNOWN, r);
}

export interface QueuedDelivery {
  seq: number;
  dest: string;
  alert: Alert;
  attempts: number;
  /** Wall-clock ms of the next attempt (delivery timing only; never used for evaluation). */
  nextAt: number;
  lastError?: string;
  /** Alertmanager: re-sent while now < activeUntil. */
  activeUntil?: number;
}

export type Sender = (dest: Destination, d: QueuedDelivery) => Promise<void>;

export type OutboxAlarm =
  | { kind: 'outbox_full'; queued: number; max: number; refused: number; queuedBytes: number; maxBytes: number }
  | { kind: 'delivery_failing'; destination: string; alertId: string; attempts: number; error: string };

export interface OutboxOptions {
  destinations: ReadonlyMap<string, Destination>;
  senders: Partial<Record<Destination['type'], Sender>>;
  maxQueued?: number;
  /** Bytes (JSON) of the waiting records at most; an alert names up to 10,000 entries, so count alone does not bound memory. */
  maxQueuedBytes?: number;
  /** Delivered markers kept for deduplication of re-enqueued alerts. */
  deliveredKeep?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Raise delivery_failing every time a record reaches a multiple of this many attempts. */
  failingAfterAttempts?: number;
  tickMs?: number;
  now?: () => number;
  random?: () => number;
  onAlarm?: (a: OutboxAlarm) => void;
  onDelivered?: (d: QueuedDelivery) => void;
}

export class OutboxFullError extends Error {
  readonly code = 'OUTBOX_FULL';
}

export interface OutboxStats {
  queued: number;
  delivered: number;
  attemptsFailed: number;
  refused: number;
}

export class Outbox {
  private readonly queue = new Map<number, QueuedDelivery>();
  /** JSON bytes of each waiting record, and their sum. */
  private readonly sizes = new Map<number, number>();
  private queuedBytes = 0;
  private nextSeq = 0;
  private readonly busy = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly inflight = new Set<Promise<void>>();
  readonly stats: OutboxStats = { queued: 0, delivered: 0, attemptsFailed: 0, refused: 0 };
  private readonly o: Required<Omit<OutboxOptions, 'onAlarm' | 'onDelivered'>> & Pick<OutboxOptions, 'onAlarm' | 'onDelivered'>;
  private writeChain: Promise<unknown> = Promise.resolve();

  private constructor(private readonly db: Db, opts: OutboxOptions) {
    this.o = {
      maxQueued: 10_000,
      maxQueuedBytes: 64 * 1024 * 1024,
      deliveredKeep: 100_000,
      backoffBaseMs: 1000,
      backoffMaxMs: 5 * 60_000,
      failingAfterAttempts: 8,
      tickMs: 250,
      now: Date.now,
      random: Math.random,
      ...opts,
    };
  }

  /** Opens the outbox in `db` (the peer's LevelDB) and loads the waiting records. */
  static async open(db: Db, opts: OutboxOptions): Promise<Outbox> {
    const ob = new Outbox(db, opts);
    const n = await db.get(key(K_NEXT));
    ob.nextSeq = n === undefined ? 0 : readU64(n, 0);
    const rows = await db.iterator({ gte: key(K_QUEUE), lt: key(K_QUEUE + 1) }).all();
    for (const [, v] of rows) {
      const d = JSON.parse(dec.decode(v)) as QueuedDelivery;
      ob.queue.set(d.seq, d);
      ob.sizes.set(d.seq, v.length);
      ob.queuedBytes += v.length;
    }
    ob.stats.queued = ob.queue.size;
    return ob;
  }

  /** Records waiting (for metrics and tests). */
  pending(): QueuedDelivery[] {
    return [...this.queue.values()];
  }

  // Writes are serialized so that seq allocation and the known-markers stay consistent.
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.writeChain.then(fn, fn);
    this.writeChain = p.catch(() => undefined);
    return p;
  }

  /**
   * Accepts alerts for their destinations in one synced write; an alert already accepted for a
   * destination is skipped (re-evaluation after a crash or a full outbox). Resolves once durable.
   * Throws OutboxFullError, writing nothing, when the batch does not fit.
   */
  enqueue(alerts: readonly Alert[]): Promise<{ accepted: number; duplicates: number }> {
    return this.serial(async () => {
      const wanted: { dest: string; alert: Alert }[] = [];
      for (const a of alerts) for (const dest of a.destinations) if (this.o.destinations.has(dest)) wanted.push({ dest, alert: a });
      if (wanted.length === 0) return { accepted: 0, duplicates: 0 };
      const known = await this.db.getMany(wanted.map((w) => knownKey(w.dest, w.alert.id)));
      const inBatch = new Set<string>();
      const fresh = wanted.filter((w, i) => {
        const k = `${w.dest}\0${w.alert.id}`;
        if (known[i] !== undefined || inBatch.has(k)) return false;
        inBatch.add(k);
        return true;
      });
      const ops: BatchOp[] = [];
      const items: { item: QueuedDelivery; bytes: number }[] = [];
      const now = this.o.now();
      let seq = this.nextSeq;
      let bytes = 0;
      for (const f of fresh) {
        const item: QueuedDelivery = { seq: seq++, dest: f.dest, alert: f.alert, attempts: 0, nextAt: now };
        const value = enc.encode(JSON.stringify(item));
        bytes += value.length;
        items.push({ item, bytes: value.length });
        ops.push({ type: 'put', key: key(K_QUEUE, u64(item.seq)), value });
        ops.push({ type: 'put', key: knownKey(f.dest, f.alert.id), value: u64(item.seq) });
      }
      if (this.queue.size + fresh.length > this.o.maxQueued || this.queuedBytes + bytes > this.o.maxQueuedBytes) {
        this.stats.refused += fresh.length;
        this.o.onAlarm?.({ kind: 'outbox_full', queued: this.queue.size, max: this.o.maxQueued, refused: fresh.length, queuedBytes: this.queuedBytes, maxBytes: this.o.maxQueuedBytes });
        throw new OutboxFullError(`outbox full: ${this.queue.size} of ${this.o.maxQueued} records (${this.queuedBytes} of ${this.o.maxQueuedBytes} bytes) waiting, ${fresh.length} refused`);
      }
      if (ops.length > 0) {
        ops.push({ type: 'put', key: key(K_NEXT), value: u64(seq) });
        await durableBatch(this.db, ops);
        this.nextSeq = seq;
      }
      for (const { item, bytes: b } of items) {
        this.queue.set(item.seq, item);
        this.sizes.set(item.seq, b);
        this.queuedBytes += b;
      }
      this.stats.queued = this.queue.size;
      if (!this.stopped) this.kick();
      return { accepted: items.length, duplicates: wanted.length - fresh.length };
    });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.kick();
  }

  /** Stops scheduling attempts and waits for those in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inflight]);
    await this.writeChain;
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), 0);
  }

  private tick(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const now = this.o.now();
    // One attempt in flight per destination, oldest due record first: a destination that is down
    // delays only its own records.
    for (const d of [...this.queue.values()].sort((a, b) => a.seq - b.seq)) {
      if (d.nextAt > now || this.busy.has(d.dest)) continue;
      this.busy.add(d.dest);
      const p = this.attempt(d).finally(() => {
        this.busy.delete(d.dest);
        this.inflight.delete(p);
        if (!this.stopped) this.kick();
      });
      this.inflight.add(p);
    }
    if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.o.tickMs);
  }

  private async attempt(d: QueuedDelivery): Promise<void> {
    const dest = this.o.destinations.get(d.dest);
    const send = dest === undefined ? undefined : this.o.senders[dest.type];
    try {
      if (dest === undefined || send === undefined) throw new Error(`no sender for destination ${d.dest}`);
      if (dest.type === 'alertmanager' && d.activeUntil === undefined) d.activeUntil = this.o.now() + dest.activeMs;
      await send(dest, d);
    } catch (e) {
      d.attempts++;
      d.lastError = (e as Error).message.slice(0, 300);
      const exp = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** Math.min(d.attempts - 1, 30));
      d.nextAt = this.o.now() + Math.round(exp * (0.5 + 0.5 * this.o.random()));
      this.stats.attemptsFailed++;
      if (d.attempts % this.o.failingAfterAttempts === 0) {
        this.o.onAlarm?.({ kind: 'delivery_failing', destination: d.dest, alertId: d.alert.id, attempts: d.attempts, error: d.lastError });
      }
      await this.serial(() => durableBatch(this.db, [{ type: 'put', key: key(K_QUEUE, u64(d.seq)), value: enc.encode(JSON.stringify(d)) }]));
      return;
    }
    if (dest.type === 'alertmanager' && d.activeUntil !== undefined && this.o.now() + dest.resendMs < d.activeUntil) {
      // Alertmanager resolves an alert that is not re-sent: keep it until it stops being active.
      d.attempts = 0;
      d.nextAt = this.o.now() + dest.resendMs;
      await this.serial(() => durableBatch(this.db, [{ type: 'put', key: key(K_QUEUE, u64(d.seq)), value: enc.encode(JSON.stringify(d)) }]));
      this.o.onDelivered?.(d);
      return;
    }
    await this.serial(async () => {
      const ops: BatchOp[] = [
        { type: 'del', key: key(K_QUEUE, u64(d.seq)) },
        { type: 'put', key: key(K_DELIVERED, u64(d.seq)), value: knownKey(d.dest, d.alert.id) },
      ];
      // Prune the oldest delivered markers past deliveredKeep (an alert that old is not re-enqueued).
      const old = await this.db.iterator({ gte: key(K_DELIVERED), lt: key(K_DELIVERED, u64(Math.max(0, d.seq - this.o.deliveredKeep))), limit: 64 }).all();
      for (const [k, v] of old) ops.push({ type: 'del', key: k }, { type: 'del', key: v });
      await durableBatch(this.db, ops);
    });
    this.queue.delete(d.seq);
    this.queuedBytes -= this.sizes.get(d.seq) ?? 0;
    this.sizes.delete(d.seq);
    this.stats.queued = this.queue.size;
    this.stats.delivered++;
    this.o.onDelivered?.(d);
  }
}

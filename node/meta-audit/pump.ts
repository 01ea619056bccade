// The pump: submits frozen queue records as signed entries through the peer's own mempool and
// removes each record only once its entry is final (covered by a final checkpoint).
//
// - Submission results `accepted`, `known-pending`, `known-final` mean the entry is in the
//   mempool or the log. `conflict` means an entry with this (client, id) is already pending or
//   logged — an earlier submission of the same record, signed at another time (after a restart):
//   that one counts, so it is looked up by (client, id) and tracked like the others.
// - Anything else (busy mempool, clock skew, no quorum for a long time) leaves the record queued;
//   it is submitted again after retryMs.
// - Submitted records are checked by (client, id) on every final checkpoint and every pollMs:
//   final → removed; unknown (the mempool dropped it, e.g. after maxClockSkewMs without a quorum,
//   or this peer restarted) → submitted again, under the same id.
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { toHex } from '../../src/encoding/bytes.js';
import { locateByClientId } from '../peer/entry-locate.js';
import type { Peer } from '../peer/peer.js';
import { metaAuditEntryId, signRecord } from './entry.js';
import type { MetaAuditQueue } from './queue.js';
import type { MetaAuditLimits } from './types.js';

/** What the pump needs of a peer (internals, when present, make the finality check cheap). */
export type PumpPeer = Pick<Peer, 'submit' | 'getEntryByClientId' | 'events'> & { internals?: Pick<Peer['internals'], 'store' | 'ledger' | 'mempool'> };

export type PumpLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface PumpCounters {
  submitted: number;
  final: number;
  submitErrors: number;
}

export class Pump {
  /** Submitted records waiting to become final (seq → entry id). */
  private readonly inflight = new Map<number, string>();
  /** Records refused by the mempool: not before this time (ms). */
  private readonly retryAt = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private readonly client: string;
  private readonly onFinal = () => this.kick();
  readonly counters: PumpCounters = { submitted: 0, final: 0, submitErrors: 0 };

  constructor(
    private readonly peer: PumpPeer,
    private readonly queue: MetaAuditQueue,
    private readonly signer: Ed25519Signer,
    private readonly limits: MetaAuditLimits,
    private readonly log: PumpLog,
    private readonly now: () => number,
  ) {
    this.client = toHex(signer.publicKey);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.peer.events.on('final', this.onFinal);
    this.kick();
  }

  /** Stops scheduling and waits for the round in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.peer.events.off('final', this.onFinal);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    while (this.running !== null) await this.running;
  }

  /** Runs a round now (or right after the one in flight). */
  kick(): void {
    if (this.stopped) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.round()
      .catch((e: Error) => this.log('warn', 'meta-audit pump round failed', { error: e.message }))
      .finally(() => {
        this.running = null;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          setImmediate(() => this.kick());
        } else {
          this.timer = setTimeout(() => {
            this.timer = null;
            this.kick();
          }, this.limits.pollMs);
          this.timer.unref();
        }
      });
  }

  private async round(): Promise<void> {
    await this.check();
    if (this.stopped) return;
    await this.submitReady();
  }

  /** Looks up every submitted record; removes the final ones, forgets the ones the log no longer knows. */
  private async check(): Promise<void> {
    if (this.inflight.size === 0) return;
    const done: number[] = [];
    for (const [seq, id] of [...this.inflight]) {
      if (this.stopped) break;
      const st = await this.statusOf(id);
      if (st === 'final') done.push(seq);
      else if (st === 'unknown') this.inflight.delete(seq);
    }
    if (done.length > 0) {
      await this.queue.remove(done);
      for (const seq of done) this.inflight.delete(seq);
      this.counters.final += done.length;
    }
  }

  /**
   * Where the entry with this id stands. With the peer's internals: one index lookup (getEntryByClientId
   * would also build an inclusion proof for every final entry, on every check of up to inflightMax records).
   */
  private async statusOf(id: string): Promise<'final' | 'pending' | 'unknown'> {
    const inn = this.peer.internals;
    if (inn !== undefined) {
      const l = await locateByClientId(inn.store, inn.mempool, this.client, id);
      if (l === null) return 'unknown';
      return 'logged' in l && l.logged.index < inn.ledger.finalSize() ? 'final' : 'pending';
    }
    const l = await this.peer.getEntryByClientId(this.client, id);
    return l.status === 'final' ? 'final' : l.status === 'unknown' ? 'unknown' : 'pending';
  }

  private async submitReady(): Promise<void> {
    const now = this.now();
    const room = Math.min(this.limits.submitBatchMax, this.limits.inflightMax - this.inflight.size);
    if (room <= 0) return;
    const recs = this.queue.ready(room, (seq) => this.inflight.has(seq) || (this.retryAt.get(seq) ?? 0) > now);
    if (recs.length === 0) return;
    const entries = recs.map((r) => signRecord(r, this.queue.instance, now, this.signer));
    const results = await this.peer.submit(entries);
    for (let i = 0; i < recs.length; i++) {
      const seq = recs[i]!.seq;
      const id = metaAuditEntryId(this.queue.instance, seq);
      const r = results[i];
      if (r !== undefined && 'status' in r) {
        this.inflight.set(seq, id);
        this.retryAt.delete(seq);
        this.counters.submitted++;
        continue;
      }
      if (r !== undefined && r.error.code === 'conflict') {
        // An earlier submission of this record holds the id: track that one.
        if ((await this.statusOf(id)) !== 'unknown') {
          this.inflight.set(seq, id);
          this.retryAt.delete(seq);
          this.counters.submitted++;
          continue;
        }
      }
      this.counters.submitErrors++;
      this.retryAt.set(seq, now + this.limits.retryMs);
      this.log(this.counters.submitErrors % 100 === 1 ? 'warn' : 'debug', 'meta-audit entry not accepted yet; will retry', {
        id,
        code: r === undefined ? 'no_result' : r.error.code,
        message: r === undefined ? '' : r.error.message,
        errors: this.counters.submitErrors,
      });
    }
    // Bound the retry map: records that left the queue no longer need an entry.
    if (this.retryAt.size > 2 * this.limits.inflightMax) for (const seq of [...this.retryAt.keys()]) if (!this.queue.records.has(seq)) this.retryAt.delete(seq);
  }
}

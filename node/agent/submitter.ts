// The submitter: signs spooled events, submits them in batches round-robin to the reachable peers,
// and removes each from the spool only once a peer confirmed it final.
//
// Finality is learned by submitting the same signed bytes again (POST /v1/entries is open under
// every access policy, so the agent needs no read credential and its checks are not meta-audited
// reads): a peer answers `known-final` for an entry covered by a quorum-signed checkpoint,
// `known-pending` while it waits, `accepted` if it had lost it (a restarted peer's mempool).
// Every version of an event (see event.ts) is sent together, so whichever one the log holds
// answers; what the answers mean: verdict.ts. Which events are checked when: finality.ts.
// A request that fails as a whole (unreachable, timeout, 429, 503) marks that peer down for a
// backoff (peerBackoffBaseMs doubling up to peerBackoffMaxMs) and the next peer is used.
import type { CairnCredentials } from '../../src/client/client.js';
import type { SubmitItem } from '../../src/client/types.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { toHex } from '../../src/encoding/bytes.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { signEntry } from '../../src/entry/sign.js';
import { versionEntry } from './event.js';
import { verdicts } from './verdict.js';
import { checkpointSize, FinalityWatch, FINALITY_POLL_MS, } from './finality.js';
import { PeerList, type PeerState } from './peers.js';
import type { Spool } from './spool.js';
import type { AgentCounters, AgentLimits, AgentPeerStatus } from './types.js';

/** Longest pause of the finality checks while every checked entry is still pending. */
const CHECK_PAUSE_MAX_MS = 5_000;

export type AgentLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

interface Flight {
  nextAt: number;
  checks: number;
}

export interface SubmitterOptions {
  spool: Spool;
  signer: Ed25519Signer;
  peers: string[];
  limits: AgentLimits;
  log: AgentLog;
  credentials?: CairnCredentials;
  now?: () => number;
}

export class Submitter {
  readonly inflight = new Map<number, Flight>();
  /**
   * Records to send before any new one (refused for a passing reason, or re-timed). A Set, and
   * a record another worker still holds is left in it: that worker adds records here before its
   * round ends, so dropping a held one would lose it from every queue.
   */
  private readonly again = new Set<number>();
  /** Records never sent in this run, in sequence order; `freshHead` is the next one. */
  private fresh: number[] = [];
  private freshHead = 0;
  private readonly taken = new Set<number>();
  private readonly peers: PeerList;
  /** New submissions wait until then after entries were refused (busy, unknown client, ...). */
  private pauseUntil = 0;
  private pauseLevel = 0;
  /**
   * Checks by time (finality.ts) wait until then after a round of checks found nothing final:
   * checks are in submission order (Map order), so the later ones are not final either.
   */
  private checkPauseUntil = 0;
  private checkPauseLevel = 0;
  /**
   * Entries allowed in flight (submitBatchMax..inflightMax). Halved when entries expired from
   * the mempools (re-timed: each costs a re-signing and more submissions), grown by what became
   * final.
   */
  private window: number;
  /** The final tree size, which decides how many checks are due (finality.ts). */
  private readonly watch = new FinalityWatch();
  /** Signed versions of records in flight (at most inflightMax + two batches). */
  private readonly signed = new Map<number, AuditEntry[]>();
  private stopped = true;
  private workers: Promise<void>[] = [];
  private wakers: (() => void)[] = [];
  private stuckSeqs = new Set<number>();
  lastError: string | null = null;
  readonly client: string;
  readonly counters: AgentCounters = { accepted: 0, duplicates: 0, full: 0, final: 0, conflicts: 0, retimed: 0, entriesSent: 0, requestFailures: 0, entryErrors: 0 };
  private readonly now: () => number;

  constructor(private readonly opts: SubmitterOptions) {
    this.now = opts.now ?? Date.now;
    this.client = toHex(opts.signer.publicKey);
    this.peers = new PeerList(opts.peers, opts.limits, this.now, opts.credentials);
    this.window = opts.limits.inflightMax;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.fresh = [...this.opts.spool.meta.keys()];
    this.freshHead = 0;
    this.opts.spool.onAdded = (seqs) => {
      for (const seq of seqs) this.fresh.push(seq);
      this.wake();
    };
    for (let i = 0; i < this.opts.limits.submitConcurrency; i++) this.workers.push(this.work());
    // Not awaited by stop(): it touches no spool, and a read in flight ends by its own deadline.
    void this.watchFinalSize();
  }

  /** Reads the final tree size while events are in flight; its growth makes checks due. */
  private async watchFinalSize(): Promise<void> {
    while (!this.stopped) {
      const now = this.now();
      const peer = this.inflight.size === 0 ? null : this.peers.peek(now);
      if (peer !== null) {
        // A failed read is not a peer failure: submissions decide the peers' backoff.
        const size = await peer.client.checkpoint().then(checkpointSize, () => null);
        if (size !== null && this.watch.observe(size, this.now(), this.inflight.size)) this.wake();
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, FINALITY_POLL_MS));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await Promise.all(this.workers);
    this.workers = [];
  }

  wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, Math.max(1, ms));
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakers.push(done);
    });
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      try {
        const now = this.now();
        const peer = this.peers.pick(now);
        if (peer === null) {
          await this.sleep(this.peers.nextUsableAt() - now);
          continue;
        }
        const batch = this.pick(now);
        if (batch.length === 0) {
          await this.sleep(this.nextDue(now));
          continue;
        }
        for (const s of batch) this.taken.add(s);
        try {
          await this.send(peer, batch);
        } catch (e) {
          // Whatever the round did not settle is sent again: a record is never left in no queue.
          for (const s of batch) if (!this.inflight.has(s) && this.opts.spool.meta.has(s)) this.again.add(s);
          throw e;
        } finally {
          for (const s of batch) this.taken.delete(s);
        }
      } catch (e) {
        // A spool read or write failed: report it and try again later; the records stay spooled.
        this.lastError = `internal: ${(e as Error).message}`;
        this.opts.log('error', 'agent submission round failed', { error: (e as Error).message, stack: (e as Error).stack?.split('\n').slice(0, 4).join(' | ') });
        await this.sleep(this.opts.limits.retryMaxMs);
      }
    }
  }

  /** How long until something may be due (a check, a pause ending), at most 1 s. */
  private nextDue(now: number): number {
    let t = now + 1000;
    // Following the log, checks become due when the final size grows (the watch wakes the
    // workers); else at their time, not before a check pause ends, and not while another worker
    // holds them (a past time would make the worker spin).
    if (!this.watch.following(now)) {
      for (const [seq, f] of this.inflight) {
        const at = Math.max(f.nextAt, this.checkPauseUntil);
        if (at < t && !this.taken.has(seq)) t = at;
      }
    }
    if (this.pauseUntil > now && this.pauseUntil < t) t = this.pauseUntil;
    return t - now;
  }

  /** Due checks first, then records to send again, then new records, within the batch bounds. */
  private pick(now: number): number[] {
    const L = this.opts.limits;
    const meta = this.opts.spool.meta;
    const out: number[] = [];
    let entries = 0;
    let bytes = 0;
    const fits = (seq: number): boolean => {
      const m = meta.get(seq);
      if (m === undefined) return false;
      const n = m.versions.length + 1;
      if (out.length > 0 && (entries + n > L.submitBatchMax || bytes + n * (m.bytes + 256) > L.submitBatchBytesMax)) return false;
      entries += n;
      bytes += n * (m.bytes + 256);
      out.push(seq);
      return true;
    };
    // Following the log: as many of the oldest as it finalized, but one found pending waits for
    // its time (blocks need not hold entries in submission order); else the time schedule.
    const following = this.watch.following(now);
    for (const [seq, f] of following || now >= this.checkPauseUntil ? this.inflight : []) {
      if (this.taken.has(seq) || ((!following || f.checks > 0) && f.nextAt > now)) continue;
      if (!meta.has(seq)) {
        this.inflight.delete(seq);
        this.signed.delete(seq);
        continue;
      }
      if (following && this.watch.due <= 0) break;
      if (!fits(seq)) return out;
      if (following) this.watch.take();
    }
    const window = this.window;
    if (now < this.pauseUntil) return out;
    for (const seq of this.again) {
      if (this.inflight.size + out.length >= window) break;
      if (this.taken.has(seq)) continue;
      if (this.inflight.has(seq) || !meta.has(seq)) {
        this.again.delete(seq);
        continue;
      }
      if (!fits(seq)) return out;
      this.again.delete(seq);
    }
    // Records waiting to be sent again count too, so the signed entries kept stay bounded.
    while (this.freshHead < this.fresh.length && this.inflight.size + this.again.size + out.length < window) {
      const seq = this.fresh[this.freshHead]!;
      if (this.taken.has(seq) || this.inflight.has(seq) || !meta.has(seq)) {
        this.freshHead++;
        continue;
      }
      if (!fits(seq)) break;
      this.freshHead++;
    }
    if (this.freshHead > 4096 && this.freshHead * 2 > this.fresh.length) {
      this.fresh = this.fresh.slice(this.freshHead);
      this.freshHead = 0;
    }
    return out;
  }

  private async send(peer: PeerState, seqs: number[]): Promise<void> {
    // Entries in flight are kept signed (bounded by inflightMax): a check needs no spool read.
    const need = seqs.filter((s) => !this.signed.has(s));
    const records = await this.opts.spool.read(need);
    records.forEach((r, i) => {
      if (r === undefined) return;
      const versions: (number | undefined)[] = [undefined, ...(r.t ?? [])];
      this.signed.set(need[i]!, versions.map((t) => signEntry(versionEntry(r.e, t), this.opts.signer)));
    });
    const entries: AuditEntry[] = [];
    const owner: { seq: number; latest: boolean }[] = [];
    const live: number[] = [];
    let checks = 0;
    for (const seq of seqs) {
      const signed = this.signed.get(seq);
      if (signed === undefined || !this.opts.spool.meta.has(seq)) {
        this.signed.delete(seq);
        continue;
      }
      live.push(seq);
      if (this.inflight.has(seq)) checks++;
      signed.forEach((e, k) => {
        entries.push(e);
        owner.push({ seq, latest: k === signed.length - 1 });
      });
    }
    if (entries.length === 0) return;
    let results: SubmitItem[];
    try {
      this.counters.entriesSent += entries.length;
      results = await peer.client.submit(entries);
    } catch (e) {
      this.peerFailed(peer, e);
      for (const seq of live) if (!this.inflight.has(seq)) this.again.add(seq);
      return;
    }
    this.peers.ok(peer);
    // Per event: what its versions' answers mean together (verdict.ts).
    const { answers, readmitted } = verdicts(results, owner);
    let retimed = false;
    const now = this.now();
    const final: number[] = [];
    const conflicts: number[] = [];
    let refused: { code: string; message: string } | null = null;
    for (const [seq, a] of answers) {
      const v = a.verdict;
      if (v === 'final') {
        final.push(seq);
        continue;
      }
      if (v === 'inflight') {
        const f = this.inflight.get(seq);
        const checks = f === undefined ? 0 : f.checks + 1;
        this.inflight.set(seq, { nextAt: now + Math.min(this.opts.limits.checkMaxMs, this.opts.limits.checkFirstMs * 2 ** Math.min(checks, 20)), checks });
        continue;
      }
      if (v === 'retime') {
        retimed = true;
        this.inflight.delete(seq);
        this.signed.delete(seq);
        const m = this.opts.spool.meta.get(seq);
        if (m !== undefined && m.versions.length + 1 < this.opts.limits.versionsMax) {
          // Synced before the new version can be sent (Spool.addVersion).
          if (await this.opts.spool.addVersion(seq, now)) this.counters.retimed++;
          this.again.add(seq);
        } else {
          // Every version is used up: keep sending the last one, slowly; visible as `stuck`.
          this.stuckSeqs.add(seq);
          this.inflight.set(seq, { nextAt: now + this.opts.limits.checkMaxMs, checks: 0 });
        }
        continue;
      }
      if (v === 'conflict') {
        conflicts.push(seq);
        continue;
      }
      const err = a.latest !== null && 'error' in a.latest ? a.latest.error : { code: 'no_result', message: 'no result for this entry' };
      refused ??= err;
      this.counters.entryErrors++;
      if (this.inflight.has(seq)) this.inflight.set(seq, { nextAt: now + this.opts.limits.retryBaseMs * 2 ** Math.min(this.pauseLevel, 16), checks: this.inflight.get(seq)!.checks });
      else this.again.add(seq);
    }
    const L = this.opts.limits;
    if (retimed) this.window = Math.max(L.submitBatchMax, Math.floor(this.window / 2));
    else if (final.length > 0) this.window = Math.min(L.inflightMax, this.window + final.length);
    if (checks > 0) {
      // Only a round in which every entry was still pending (nothing final, nothing re-admitted by
      // a peer that had lost it, nothing re-timed) pauses the checks: re-admission after a peer
      // restart must not be throttled.
      if (final.length === 0 && !readmitted && !retimed) {
        this.checkPauseUntil = now + Math.min(CHECK_PAUSE_MAX_MS, this.opts.limits.checkFirstMs * 2 ** Math.min(this.checkPauseLevel, 16));
        this.checkPauseLevel++;
      } else {
        this.checkPauseLevel = 0;
      }
    }
    if (refused !== null) {
      this.lastError = `${refused.code}: ${refused.message}`.slice(0, 500);
      this.pauseUntil = now + Math.min(this.opts.limits.retryMaxMs, this.opts.limits.retryBaseMs * 2 ** Math.min(this.pauseLevel, 16));
      this.pauseLevel++;
      this.opts.log(this.pauseLevel === 1 || this.pauseLevel % 20 === 0 ? 'warn' : 'debug', 'peer refused entries; retrying after a backoff', { peer: peer.url, code: refused.code, message: refused.message });
    } else {
      this.pauseLevel = 0;
    }
    if (conflicts.length > 0) {
      this.counters.conflicts += conflicts.length;
      const ids = (await this.opts.spool.read(conflicts.slice(0, 5))).map((r) => r?.e.id);
      this.opts.log('warn', 'events removed: the log already holds a different entry with their id', { count: conflicts.length, ids });
    }
    const done = [...final, ...conflicts];
    if (done.length > 0) {
      // Counted together with the spool's own bookkeeping (remove() updates it before it awaits).
      this.counters.final += final.length;
      for (const seq of done) {
        this.inflight.delete(seq);
        this.signed.delete(seq);
        this.stuckSeqs.delete(seq);
      }
      await this.opts.spool.remove(done);
      this.wake(); // room in the window
    }
  }

  private peerFailed(peer: PeerState, e: unknown): void {
    this.counters.requestFailures++;
    this.lastError = `${peer.url}: ${this.peers.failed(peer, e)}`;
    this.opts.log(peer.failures === 1 || peer.failures % 20 === 0 ? 'warn' : 'debug', 'peer request failed; trying the next peer', { peer: peer.url, failures: peer.failures, error: peer.lastError });
  }

  get inflightWindow(): number {
    return this.window;
  }
  get stuck(): number {
    return this.stuckSeqs.size;
  }
  get retrying(): number {
    return this.again.size;
  }
  get currentPeer(): string {
    return this.peers.current;
  }

  peerStatus(): AgentPeerStatus[] {
    return this.peers.status();
  }
}

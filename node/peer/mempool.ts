// The mempool: entries accepted by this peer (from clients or from other peers' gossip) that are
// not in the log yet, in arrival order. Blocks are built from its head.
//
// Rules:
// - every entry is validated ONCE on the way in (schema, authorized vetted client key, signature,
//   time within maxClockSkewMs, not already logged, not a conflicting reuse of (client, id));
// - deduplicated by leaf hash (its RFC 9162 leaf hash is the entry's identity);
// - bounded in count and bytes: when full, new entries are refused with `busy` — memory never grows
//   beyond mempoolMaxEntries / mempoolMaxBytes;
// - accepted entries are gossiped to the other peers in batches (one gossip message carries up to
//   GOSSIP_BATCH_ENTRIES_MAX entries / GOSSIP_BATCH_BYTES_MAX bytes), because one gossip message
//   per entry saturates at ~800 msgs/s (1 KiB messages, 4 peers, 2 cores). At most one batch
//   leaves per GOSSIP_BATCH_DELAY_MS: entries accepted after a quiet spell go at once (the
//   proposer of an idle network holds a lone entry ~20 ms sooner), entries accepted within the
//   window after a batch wait for its end and share the next one (load keeps its batching).
import { timeline, timelineOn } from '../timeline/recorder.js';
import { toHex } from '../../src/encoding/bytes.js';
import type { CheckedEntry, EntryChecker, EntryCheckFailure } from './entries.js';
import type { GovErrorCode } from '../../src/governance/index.js';
import { cancelTimer, startTimer, type LoopTimer } from './timer.js';

/** Most entries in one gossip batch message. */
export const GOSSIP_BATCH_ENTRIES_MAX = 500;
/** Most bytes of leaves in one gossip batch message. */
export const GOSSIP_BATCH_BYTES_MAX = 256 * 1024;
/** Least time between two gossip batches (the longest an accepted entry waits for its batch). */
export const GOSSIP_BATCH_DELAY_MS = 20;
/** Most entries in one submit call (the HTTP layer bounds request bodies the same way). */
export const SUBMIT_ENTRIES_MAX = 10_000;
/** Client keys whose bad signatures are counted one by one (Mempool.rejected). */
export const REJECTED_KEYS_MAX = 10_000;
/** Work done between two yields to the event loop, so consensus timers and gossip keep running. */
const ENTRIES_PER_SLICE = 64;

/** `client_revoked`: a key governance granted and then revoked (or expired, or its organization left); gov_*: docs/governance.md. */
export type SubmitCode = 'malformed' | 'unknown_client' | 'client_revoked' | 'bad_signature' | 'conflict' | 'too_large' | 'busy' | 'clock_skew' | GovErrorCode | 'gov_type_unsupported';

export type SubmitResult =
  | { status: 'accepted' | 'known-pending' | 'known-final'; leafHash: string }
  | { error: { code: SubmitCode; message: string; field?: string } };

/** What the mempool needs to know about the log (implemented by the ledger). */
export interface LogLookup {
  /** Log index of an entry by leaf hash, if logged. */
  indexOfLeafHash(leafHash: Uint8Array): Promise<number | undefined>;
  /** The logged entry for (client, id), if any. */
  lookupClientId(client: string, id: string): Promise<{ index: number; leafHash: Uint8Array } | undefined>;
  /** Entries with index < finalSize are covered by a final checkpoint. */
  finalSize(): number;
  /**
   * Both lookups for many entries at once (Store.lookupLogged: one LevelDB multi-get). Optional;
   * when present admission uses it — per-entry concurrent gets were the largest CPU cost of a
   * loaded peer in the bench profile (classic-level _get, ~19 % of busy time).
   */
  lookupMany?(entries: readonly { leafHash: Uint8Array; client: string; id: string }[]): Promise<{ index: number | undefined; logged: { index: number; leafHash: Uint8Array } | undefined }[]>;
}

export interface MempoolLimits {
  mempoolMaxEntries: number;
  mempoolMaxBytes: number;
  maxClockSkewMs: number;
}

interface Pending extends CheckedEntry {
  hex: string;
}

function clientKey(client: string, id: string): string {
  // client is 64 hex characters, so the separator cannot be ambiguous.
  return `${client}/${id}`;
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

export class Mempool {
  private readonly byHash = new Map<string, Pending>();
  private readonly byClientId = new Map<string, string>();
  private bytes = 0;
  /** Bumped whenever entries leave because they were logged (see admit()). */
  private generation = 0;
  private outbox: Uint8Array[] = [];
  private outboxBytes = 0;
  private flushTimer: LoopTimer | null = null;
  /** When the last gossip batch left (this.now()). */
  private lastFlushMs = Number.NEGATIVE_INFINITY;
  private readonly listeners = new Set<() => void>();
  stats = { accepted: 0, gossipIn: 0, gossipDropped: 0, busy: 0 };
  /**
   * Client submissions refused, by code, cumulative (read by the integrity alarms); bad signatures
   * also per client key (REJECTED_KEYS_MAX keys, then under '*': only authorized keys get that far).
   */
  readonly rejected = { byCode: new Map<SubmitCode, number>(), badSignatureByClient: new Map<string, number>() };

  /** The admission limits in force (see followLimits). */
  private limitsNow: () => MempoolLimits;

  constructor(
    limits: MempoolLimits,
    private readonly checker: EntryChecker,
    private readonly log: LogLookup,
    /** Sends one batch of leaves to the other peers (encoded by the caller). */
    private readonly gossip: ((leaves: Uint8Array[]) => void) | null,
    private readonly now: () => number = Date.now,
  ) {
    this.limitsNow = () => limits;
  }

  /**
   * Admission limits (maxClockSkewMs, mempoolMaxEntries, mempoolMaxBytes) from now on asked of
   * `f` at every use: the ledger passes the parameters in force at the next height, so a
   * params.set changes them from its effective height. They are local (admission and expiry,
   * never a block rule), so peers at slightly different heights may differ briefly.
   */
  followLimits(f: () => MempoolLimits): void {
    this.limitsNow = f;
  }

  private get limits(): MempoolLimits {
    return this.limitsNow();
  }

  get size(): number {
    return this.byHash.size;
  }
  get sizeBytes(): number {
    return this.bytes;
  }

  /** Called (synchronously) whenever entries are added; the runner uses it to start a height. */
  onAdded(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  has(leafHash: Uint8Array): boolean {
    return this.byHash.has(toHex(leafHash));
  }

  /** A pending entry by hex leaf hash. */
  getPending(leafHashHex: string): CheckedEntry | undefined {
    return this.byHash.get(leafHashHex);
  }

  /** A pending entry by (client, id). */
  pendingByClientId(client: string, id: string): CheckedEntry | undefined {
    const hex = this.byClientId.get(clientKey(client, id));
    return hex === undefined ? undefined : this.byHash.get(hex);
  }

  /** Client submission: per-entry results, in order. */
  async submit(inputs: unknown[]): Promise<SubmitResult[]> {
    if (!Array.isArray(inputs)) return [{ error: { code: 'malformed', message: 'submit takes an array of entries' } }];
    if (inputs.length > SUBMIT_ENTRIES_MAX) {
      return [{ error: { code: 'too_large', message: `at most ${SUBMIT_ENTRIES_MAX} entries per submission (SUBMIT_ENTRIES_MAX)` } }];
    }
    // Signatures in worker threads when the peer has a verify pool (entries.ts); else a no-op.
    await this.checker.preverifyInputs?.(inputs);
    const out: (SubmitResult | null)[] = new Array(inputs.length).fill(null);
    const checked: { at: number; entry: CheckedEntry }[] = [];
    for (let i = 0; i < inputs.length; i++) {
      if (i > 0 && i % ENTRIES_PER_SLICE === 0) await yieldToLoop();
      const c = this.checker.checkInput(inputs[i]);
      if (!c.ok) out[i] = { error: errorOf(c) };
      else checked.push({ at: i, entry: c.entry });
    }
    const results = await this.admitMany(checked.map((c) => c.entry));
    const added: Pending[] = [];
    results.forEach((r, k) => {
      out[checked[k]!.at] = r;
      if ('status' in r && r.status === 'accepted') added.push(this.byHash.get(r.leafHash)!);
    });
    out.forEach((r, i) => {
      if (r === null || !('error' in r)) return;
      const { byCode, badSignatureByClient: byKey } = this.rejected;
      byCode.set(r.error.code, (byCode.get(r.error.code) ?? 0) + 1);
      if (r.error.code !== 'bad_signature') return;
      const c = (inputs[i] as { client?: unknown } | null)?.client;
      const key = typeof c === 'string' && (byKey.has(c) || byKey.size < REJECTED_KEYS_MAX) ? c : '*';
      byKey.set(key, (byKey.get(key) ?? 0) + 1);
    });
    if (added.length > 0) {
      this.stats.accepted += added.length;
      for (const p of added) this.enqueueGossip(p.leaf);
      this.notify();
    }
    return out as SubmitResult[];
  }

  /** Entries received in a gossip batch from another peer: invalid ones are dropped silently. */
  async receiveGossip(leaves: Uint8Array[]): Promise<number> {
    if (timelineOn) timeline('entries.receive', `n=${leaves.length}`);
    const checked: CheckedEntry[] = [];
    for (let i = 0; i < leaves.length; i++) {
      if (i > 0 && i % ENTRIES_PER_SLICE === 0) await yieldToLoop();
      // Already pending: skip before paying for a signature check.
      // The leaf hash is computed once here and handed to the check (no second SHA-256 per entry).
      const leafHash = this.checker.leafHash(leaves[i]!);
      if (this.byHash.has(toHex(leafHash))) continue;
      const c = this.checker.checkLeaf(leaves[i]!, { leafHash });
      if (!c.ok) this.stats.gossipDropped++;
      else checked.push(c.entry);
    }
    let added = 0;
    for (const r of await this.admitMany(checked)) {
      if ('status' in r && r.status === 'accepted') added++;
      else if ('error' in r) this.stats.gossipDropped++;
    }
    this.stats.gossipIn += added;
    if (added > 0) this.notify();
    return added;
  }

  /**
   * Admission of checked entries, in order. The "already logged" lookups of the whole batch run
   * concurrently; if a block is applied meanwhile (generation changes) their answers may be
   * stale, so they are done again — otherwise an entry could re-enter the mempool right after
   * being logged and poison every later block built from it.
   */
  private async admitMany(entries: CheckedEntry[]): Promise<SubmitResult[]> {
    if (entries.length === 0) return [];
    for (;;) {
      const gen = this.generation;
      let looked: ({ index: number | undefined; logged: { index: number; leafHash: Uint8Array } | undefined } | null)[];
      if (this.log.lookupMany !== undefined) {
        const ask: number[] = [];
        for (let i = 0; i < entries.length; i++) if (!this.byHash.has(toHex(entries[i]!.leafHash))) ask.push(i);
        const answers = await this.log.lookupMany(ask.map((i) => entries[i]!));
        looked = new Array<null>(entries.length).fill(null);
        ask.forEach((i, k) => (looked[i] = answers[k]!));
      } else {
        looked = await Promise.all(
          entries.map(async (e) => {
            if (this.byHash.has(toHex(e.leafHash))) return null;
            return { index: await this.log.indexOfLeafHash(e.leafHash), logged: await this.log.lookupClientId(e.client, e.id) };
          }),
        );
      }
      if (gen !== this.generation) continue;
      // From here on everything is synchronous: no block can be applied in between.
      return entries.map((e, i) => this.admitOne(e, looked[i]!));
    }
  }

  private admitOne(e: CheckedEntry, looked: { index: number | undefined; logged: { index: number; leafHash: Uint8Array } | undefined } | null): SubmitResult {
    const hex = toHex(e.leafHash);
    if (this.byHash.has(hex)) return { status: 'known-pending', leafHash: hex };
    if (looked === null) return { status: 'known-pending', leafHash: hex };
    if (looked.index !== undefined) return { status: looked.index < this.log.finalSize() ? 'known-final' : 'known-pending', leafHash: hex };
    if (looked.logged !== undefined) {
      return { error: { code: 'conflict', message: `client ${e.client} already logged a different entry with id "${e.id}" (index ${looked.logged.index})`, field: 'id' } };
    }
    if (this.byClientId.has(clientKey(e.client, e.id))) {
      return { error: { code: 'conflict', message: `client ${e.client} already submitted a different entry with id "${e.id}"`, field: 'id' } };
    }
    const skew = Math.abs(e.timeMs - this.now());
    if (skew > this.limits.maxClockSkewMs) {
      return { error: { code: 'clock_skew', message: `entry time is ${skew} ms away from this peer's clock (maxClockSkewMs ${this.limits.maxClockSkewMs})`, field: 'time' } };
    }
    if (this.byHash.size + 1 > this.limits.mempoolMaxEntries || this.bytes + e.leaf.length > this.limits.mempoolMaxBytes) {
      this.stats.busy++;
      return {
        error: {
          code: 'busy',
          message: `mempool full (${this.byHash.size} entries / ${this.bytes} bytes; mempoolMaxEntries ${this.limits.mempoolMaxEntries}, mempoolMaxBytes ${this.limits.mempoolMaxBytes}); retry later`,
        },
      };
    }
    this.byHash.set(hex, { ...e, hex });
    this.byClientId.set(clientKey(e.client, e.id), hex);
    this.bytes += e.leaf.length;
    return { status: 'accepted', leafHash: hex };
  }

  /**
   * Oldest entries first, bounded by count and bytes; skips entries whose time is outside skew of
   * `timeMs`. Called to build a block: the pending gossip batch leaves first, so the entries of
   * our proposal travel ahead of it and the other peers rebuild it from their mempools instead of
   * fetching what is still in our outbox.
   */
  take(maxEntries: number, maxBytes: number, timeMs: number, bytesOf: (leaf: Uint8Array) => number): CheckedEntry[] {
    if (this.outbox.length > 0) this.flush();
    const out: CheckedEntry[] = [];
    let bytes = 0;
    const skew = this.limits.maxClockSkewMs;
    for (const p of this.byHash.values()) {
      if (out.length >= maxEntries) break;
      if (Math.abs(p.timeMs - timeMs) > skew) continue;
      const b = bytesOf(p.leaf);
      if (bytes + b > maxBytes) break;
      bytes += b;
      out.push(p);
    }
    return out;
  }

  /** Drops entries whose time fell outside the skew window (they could never be put in a block). */
  expire(): number {
    const t = this.now();
    const skew = this.limits.maxClockSkewMs;
    let n = 0;
    for (const p of [...this.byHash.values()]) {
      if (Math.abs(p.timeMs - t) > skew) {
        this.drop(p);
        n++;
      }
    }
    return n;
  }

  /** A block was applied: its entries, and any pending entry reusing one of their (client, id), leave. */
  removeLogged(entries: { leafHash: Uint8Array; client: string; id: string }[]): void {
    this.generation++;
    for (const e of entries) {
      const p = this.byHash.get(toHex(e.leafHash));
      if (p !== undefined) this.drop(p);
      const other = this.byClientId.get(clientKey(e.client, e.id));
      if (other !== undefined) {
        const q = this.byHash.get(other);
        if (q !== undefined) this.drop(q);
      }
    }
  }

  /** Drops pending entries that can never go into a block (e.g. a revoked client's, a refused governance record). */
  discard(entries: readonly { leafHash: Uint8Array }[]): void {
    for (const e of entries) {
      const p = this.byHash.get(toHex(e.leafHash));
      if (p !== undefined) this.drop(p);
    }
  }

  private drop(p: Pending): void {
    this.byHash.delete(p.hex);
    if (this.byClientId.get(clientKey(p.client, p.id)) === p.hex) this.byClientId.delete(clientKey(p.client, p.id));
    this.bytes -= p.leaf.length;
  }

  private notify(): void {
    for (const f of this.listeners) f();
  }

  private enqueueGossip(leaf: Uint8Array): void {
    if (this.gossip === null) return;
    if (this.outboxBytes + leaf.length > GOSSIP_BATCH_BYTES_MAX) this.flush();
    this.outbox.push(leaf);
    this.outboxBytes += leaf.length;
    if (this.outbox.length >= GOSSIP_BATCH_ENTRIES_MAX) this.flush();
    else if (this.flushTimer === null) {
      // Leading edge after a quiet spell (still a macrotask later, so the rest of the same
      // submission and submissions arriving together share the batch); otherwise the end of the
      // window that the last batch opened (never longer: the clock may step back).
      // A zero wait is setImmediate (see timer.ts).
      const wait = Math.min(GOSSIP_BATCH_DELAY_MS, Math.max(0, this.lastFlushMs + GOSSIP_BATCH_DELAY_MS - this.now()));
      this.flushTimer = startTimer(() => this.flush(), wait);
    }
  }

  private cancelFlush(): void {
    const t = this.flushTimer;
    if (t === null) return;
    cancelTimer(t);
    this.flushTimer = null;
  }

  /** Sends the pending gossip batch now. */
  flush(): void {
    this.cancelFlush();
    if (this.outbox.length === 0 || this.gossip === null) return;
    const batch = this.outbox;
    this.outbox = [];
    this.outboxBytes = 0;
    this.lastFlushMs = this.now();
    if (timelineOn) timeline('entries.publish', `n=${batch.length}`);
    this.gossip(batch);
  }

  stop(): void {
    this.cancelFlush();
    this.outbox = [];
  }
}

function errorOf(f: EntryCheckFailure): { code: SubmitCode; message: string; field?: string } {
  return f.field === undefined ? { code: f.code, message: f.message } : { code: f.code, message: f.message, field: f.field };
}

// Optional Ed25519 verification in worker threads (peer config `verifyWorkers`; 0 = in-thread).
// The workers run the same verifier as the main thread (node/crypto/verify-worker.ts), so the
// pool changes where a signature is checked, never the verdict.
//
// - Bounded: at most `queueMax` signatures and `queueBytesMax` bytes waiting or in flight; a call
//   beyond either is refused at once (VerifyPoolError 'verify_queue_full'), and the caller checks
//   in-thread instead (the backpressure a single thread has anyway).
// - Batched: a call's jobs travel in messages of up to `batchMax` jobs, packed in one transferred
//   buffer (per-message cost is comparable to a verification).
// - In order: each call resolves with one verdict per job, in the order given.
// - Never wedged: a worker that exits, errors or does not answer within `batchTimeoutMs` is
//   terminated and replaced; its batch is retried once on a fresh worker, then the call fails
//   with 'verify_worker_failed' (the caller then verifies in-thread); after 8 deaths with no reply
//   in between (a worker that cannot start) the pool refuses every call. close() fails what is left
//   with 'verify_pool_closed' and terminates every worker.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES } from '../../src/crypto/types.js';
import type { VerifyReply, VerifyRequest } from '../crypto/verify-worker.js';
import { JOB_HEAD } from '../crypto/verify-job.js';

export interface VerifyJob {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

export type VerifyPoolErrorCode = 'verify_queue_full' | 'verify_worker_failed' | 'verify_pool_closed';

export class VerifyPoolError extends Error {
  constructor(
    readonly code: VerifyPoolErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface VerifyPoolOptions {
  workers: number;
  /** Most signatures waiting or in flight (default 16,384). */
  queueMax?: number;
  /** Most packed bytes waiting or in flight (default 16 MiB). */
  queueBytesMax?: number;
  /** Most jobs per message to a worker (default 256). */
  batchMax?: number;
  /** A worker that holds a batch longer is presumed stuck and replaced (default 10 s). */
  batchTimeoutMs?: number;
  /** Tests only: the worker module's URL instead of verify-worker's. */
  workerUrl?: string;
}

/** Most worker threads a peer may run. */
export const VERIFY_WORKERS_MAX = 16;
/** Worker deaths without a reply in between after which the pool gives up (every call then refused). */
const DEATHS_IN_A_ROW_MAX = 8;

interface Call {
  verdicts: boolean[];
  left: number;
  failed: boolean;
  resolve: (v: boolean[]) => void;
  reject: (e: Error) => void;
}

interface Batch {
  call: Call;
  /** Index in the call's verdicts of each packed job. */
  at: number[];
  buf: Uint8Array;
  attempts: number;
}

interface Slot {
  worker: Worker;
  busy: { id: number; batch: Batch; timer: NodeJS.Timeout } | null;
}

// Run from source (tests, tsx), the worker module is TypeScript: the worker then registers tsx's
// loader first. Compiled, it is plain JavaScript and is imported directly.
const BOOT = `const { workerData } = require('node:worker_threads');
(async () => { if (workerData.tsx) (await import(workerData.tsx)).register(); await import(workerData.url); })()
  .catch((e) => { setImmediate(() => { throw e; }); });`;

function workerEntry(): { url: string; tsx: string | null } {
  const ts = import.meta.url.endsWith('.ts');
  const url = new URL(`../crypto/verify-worker.${ts ? 'ts' : 'js'}`, import.meta.url).href;
  if (!ts) return { url, tsx: null };
  const tsx = createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
  return { url, tsx: new URL(`file://${tsx}`).href };
}

export class VerifyPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Batch[] = [];
  private readonly queueMax: number;
  private readonly queueBytesMax: number;
  private readonly batchMax: number;
  private readonly timeoutMs: number;
  private readonly entry: { url: string; tsx: string | null };
  private held = 0;
  private heldBytes = 0;
  private nextId = 1;
  private closed = false;
  /** Deaths since the last reply: a worker that cannot even start must not be respawned forever. */
  private deathsInARow = 0;
  /** Set when workers keep dying without answering: every call is refused (the caller verifies in-thread). */
  private broken: string | null = null;
  /** Workers replaced after an exit, an error or a timeout. */
  replaced = 0;
  /** The verifier the workers reported (set by their first reply). */
  verifierName: string | null = null;

  constructor(opts: VerifyPoolOptions) {
    if (!Number.isSafeInteger(opts.workers) || opts.workers < 1 || opts.workers > VERIFY_WORKERS_MAX) {
      throw new RangeError(`workers must be an integer in 1..${VERIFY_WORKERS_MAX}`);
    }
    this.queueMax = opts.queueMax ?? 16_384;
    this.queueBytesMax = opts.queueBytesMax ?? 16 * 1024 * 1024;
    this.batchMax = opts.batchMax ?? 256;
    this.timeoutMs = opts.batchTimeoutMs ?? 10_000;
    this.entry = opts.workerUrl !== undefined ? { url: opts.workerUrl, tsx: null } : workerEntry();
    for (let i = 0; i < opts.workers; i++) this.slots.push(this.spawn());
  }

  get workers(): number {
    return this.slots.length;
  }

  /** Signatures waiting or in flight. */
  get pending(): number {
    return this.held;
  }

  /** Terminates one worker as if it had crashed (tests: the batch it holds must not be lost). */
  killOne(i = 0): Promise<number> {
    return this.slots[i]!.worker.terminate();
  }

  /** One verdict per job, in order. A job with a wrongly sized key or signature is false (no worker involved). */
  verifyMany(jobs: readonly VerifyJob[]): Promise<boolean[]> {
    if (this.closed) return Promise.reject(new VerifyPoolError('verify_pool_closed', 'the verify pool is closed'));
    if (this.broken !== null) return Promise.reject(new VerifyPoolError('verify_worker_failed', this.broken));
    let bytes = 0;
    let n = 0;
    for (const j of jobs) {
      if (!wellSized(j)) continue;
      n++;
      bytes += JOB_HEAD + j.message.length;
    }
    if (this.held + n > this.queueMax || this.heldBytes + bytes > this.queueBytesMax) {
      return Promise.reject(new VerifyPoolError('verify_queue_full', `${this.held} signatures (${this.heldBytes} bytes) already queued`));
    }
    return new Promise<boolean[]>((resolve, reject) => {
      const call: Call = { verdicts: new Array<boolean>(jobs.length).fill(false), left: 0, failed: false, resolve, reject };
      let at: number[] = [];
      let size = 0;
      const flush = (): void => {
        if (at.length === 0) return;
        this.waiting.push({ call, at, buf: pack(jobs, at, size), attempts: 0 });
        call.left++;
        at = [];
        size = 0;
      };
      for (let i = 0; i < jobs.length; i++) {
        const j = jobs[i]!;
        if (!wellSized(j)) continue;
        at.push(i);
        size += JOB_HEAD + j.message.length;
        if (at.length >= this.batchMax) flush();
      }
      flush();
      this.held += n;
      this.heldBytes += bytes;
      if (call.left === 0) resolve(call.verdicts);
      this.dispatch();
    });
  }

  /** Fails what is queued or in flight and terminates every worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new VerifyPoolError('verify_pool_closed', 'the verify pool was closed');
    for (const b of this.waiting.splice(0)) this.fail(b, err);
    const ends: Promise<number>[] = [];
    for (const s of this.slots) {
      if (s.busy !== null) {
        clearTimeout(s.busy.timer);
        this.fail(s.busy.batch, err);
        s.busy = null;
      }
      ends.push(s.worker.terminate());
    }
    await Promise.allSettled(ends);
  }

  private spawn(): Slot {
    const worker = new Worker(BOOT, { eval: true, workerData: this.entry });
    const slot: Slot = { worker, busy: null };
    worker.on('message', (m: VerifyReply) => this.onReply(slot, m));
    worker.on('error', () => this.onDeath(slot));
    worker.on('exit', () => this.onDeath(slot));
    // An idle pool does not keep the process alive; a peer closes it on stop.
    worker.unref();
    return slot;
  }

  private onReply(slot: Slot, m: VerifyReply): void {
    const busy = slot.busy;
    if (busy === null || busy.id !== m.id) return;
    clearTimeout(busy.timer);
    slot.busy = null;
    slot.worker.unref();
    this.deathsInARow = 0;
    this.verifierName ??= m.verifier;
    const b = busy.batch;
    b.at.forEach((i, k) => (b.call.verdicts[i] = m.verdicts[k] === 1));
    this.release(b);
    if (!b.call.failed && --b.call.left === 0) b.call.resolve(b.call.verdicts);
    this.dispatch();
  }

  /** A worker exited, errored or timed out: replace it; retry its batch once, then fail the call. */
  private onDeath(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return; // already replaced (error and exit both fire)
    const busy = slot.busy;
    slot.busy = null;
    if (busy !== null) clearTimeout(busy.timer);
    void slot.worker.terminate();
    if (this.closed || this.broken !== null) {
      // Nothing is retried any more: a batch this worker still held must fail here, or its call never settles.
      if (busy !== null) {
        const err = this.closed
          ? new VerifyPoolError('verify_pool_closed', 'the verify pool was closed')
          : new VerifyPoolError('verify_worker_failed', this.broken!);
        this.fail(busy.batch, err);
      }
      return;
    }
    if (++this.deathsInARow > DEATHS_IN_A_ROW_MAX) {
      // Workers die without ever answering (e.g. the worker module cannot load): stop here.
      this.broken = `verify workers died ${this.deathsInARow} times in a row without answering`;
      const err = new VerifyPoolError('verify_worker_failed', this.broken);
      if (busy !== null) this.fail(busy.batch, err);
      for (const b of this.waiting.splice(0)) this.fail(b, err);
      return;
    }
    this.slots[i] = this.spawn();
    this.replaced++;
    if (busy !== null) {
      const b = busy.batch;
      if (b.attempts < 2) this.waiting.unshift(b);
      else this.fail(b, new VerifyPoolError('verify_worker_failed', `a verify worker died twice on a batch of ${b.at.length} signatures`));
    }
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.waiting.length === 0) return;
      if (slot.busy !== null) continue;
      const b = this.waiting.shift()!;
      if (b.call.failed) {
        this.release(b);
        continue;
      }
      b.attempts++;
      const id = this.nextId++;
      // A copy is transferred: the original stays here for a retry if this worker dies.
      const copy = b.buf.slice();
      const req: VerifyRequest = { id, buf: copy.buffer, n: b.at.length };
      const timer = setTimeout(() => this.onDeath(slot), this.timeoutMs);
      timer.unref();
      slot.busy = { id, batch: b, timer };
      // Referenced while it holds a batch: a caller awaiting verdicts keeps the process alive.
      slot.worker.ref();
      slot.worker.postMessage(req, [copy.buffer]);
    }
  }

  private fail(b: Batch, err: Error): void {
    this.release(b);
    if (b.call.failed) return;
    b.call.failed = true;
    b.call.reject(err);
  }

  private release(b: Batch): void {
    this.held -= b.at.length;
    this.heldBytes -= b.buf.length;
  }
}

function wellSized(j: VerifyJob): boolean {
  return (
    j.publicKey instanceof Uint8Array &&
    j.signature instanceof Uint8Array &&
    j.message instanceof Uint8Array &&
    j.publicKey.length === ED25519_PUBLIC_KEY_BYTES &&
    j.signature.length === ED25519_SIGNATURE_BYTES
  );
}

function pack(jobs: readonly VerifyJob[], at: number[], size: number): Uint8Array {
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  let o = 0;
  for (const i of at) {
    const j = jobs[i]!;
    buf.set(j.publicKey, o);
    buf.set(j.signature, o + ED25519_PUBLIC_KEY_BYTES);
    view.setUint32(o + ED25519_PUBLIC_KEY_BYTES + ED25519_SIGNATURE_BYTES, j.message.length, true);
    buf.set(j.message, o + JOB_HEAD);
    o += JOB_HEAD + j.message.length;
  }
  return buf;
}

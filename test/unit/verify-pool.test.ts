// The worker-thread verify pool (node/peer/verify-pool.ts): verdicts in order across batches and
// workers, a killed worker loses nothing, a stuck worker fails the call with a clear error instead
// of wedging, bounds refuse at once, close() fails what is left.
import { describe, expect, it } from 'vitest';
import { nobleSigner } from '../../src/crypto/noble.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { VerifyPool, VerifyPoolError, type VerifyJob } from '../../node/peer/verify-pool.js';

const signer = nobleSigner(new Uint8Array(32).fill(3));

/** n jobs; every third has a flipped signature bit (expected false). */
function jobs(n: number): { jobs: VerifyJob[]; want: boolean[] } {
  const out: VerifyJob[] = [];
  const want: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const message = utf8(`entry ${i}`);
    const signature = signer.sign(message);
    const bad = i % 3 === 2;
    if (bad) signature[10]! ^= 1;
    out.push({ publicKey: signer.publicKey, message, signature });
    want.push(!bad);
  }
  return { jobs: out, want };
}

describe('verify pool', () => {
  it('gives one verdict per job, in order, across many batches and two workers', async () => {
    const pool = new VerifyPool({ workers: 2, batchMax: 16 });
    try {
      const a = jobs(300);
      const b = jobs(40);
      const [ra, rb] = await Promise.all([pool.verifyMany(a.jobs), pool.verifyMany(b.jobs)]);
      expect(ra).toEqual(a.want);
      expect(rb).toEqual(b.want);
      // A wrongly sized key or signature is false without reaching a worker.
      expect(await pool.verifyMany([{ publicKey: signer.publicKey, message: utf8('x'), signature: new Uint8Array(63) }])).toEqual([false]);
      expect(pool.pending).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('a worker killed while it holds a batch is replaced and the batch retried: nothing lost', async () => {
    const pool = new VerifyPool({ workers: 1, batchMax: 500 });
    try {
      const a = jobs(1500);
      const p = pool.verifyMany(a.jobs);
      await pool.killOne(0);
      expect(await p).toEqual(a.want);
      expect(pool.replaced).toBeGreaterThanOrEqual(1);
      // The replacement serves later calls too.
      const b = jobs(10);
      expect(await pool.verifyMany(b.jobs)).toEqual(b.want);
      expect(pool.pending).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('a worker that never answers in time fails the call with verify_worker_failed, never wedges', async () => {
    // A 1 ms deadline: every attempt is presumed stuck, the worker replaced, the batch retried once.
    const pool = new VerifyPool({ workers: 1, batchMax: 2000, batchTimeoutMs: 1 });
    try {
      const err = await pool.verifyMany(jobs(2000).jobs).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VerifyPoolError);
      expect((err as VerifyPoolError).code).toBe('verify_worker_failed');
      expect(pool.pending).toBe(0);
      expect(pool.replaced).toBeGreaterThanOrEqual(2);
    } finally {
      await pool.close();
    }
  });

  it('workers that cannot start are respawned a bounded number of times, then every call is refused', async () => {
    const pool = new VerifyPool({ workers: 2, workerUrl: new URL('./no-such-verify-worker.js', import.meta.url).href });
    try {
      await expect(pool.verifyMany(jobs(10).jobs)).rejects.toMatchObject({ code: 'verify_worker_failed' });
      await expect(pool.verifyMany(jobs(1).jobs)).rejects.toMatchObject({ code: 'verify_worker_failed' });
      expect(pool.replaced).toBeLessThanOrEqual(8);
      expect(pool.pending).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('workers that cannot start: every concurrent call settles, none is left holding a batch', { timeout: 30_000 }, async () => {
    // When the pool gives up, the other worker may still hold a batch; that call must fail too.
    const pool = new VerifyPool({ workers: 2, workerUrl: new URL('./no-such-verify-worker.js', import.meta.url).href });
    try {
      const calls = Array.from({ length: 12 }, () => pool.verifyMany(jobs(3).jobs));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 10_000)));
      const settled = await Promise.race([Promise.allSettled(calls), deadline]);
      clearTimeout(timer);
      expect(settled).not.toBe('timeout');
      for (const r of settled as PromiseSettledResult<boolean[]>[]) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'verify_worker_failed' });
      }
      expect(pool.pending).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('refuses at once beyond its count or byte bound, and fails what is left on close', async () => {
    const pool = new VerifyPool({ workers: 1, queueMax: 100, queueBytesMax: 1 << 20 });
    const first = pool.verifyMany(jobs(80).jobs);
    await expect(pool.verifyMany(jobs(30).jobs)).rejects.toMatchObject({ code: 'verify_queue_full' });
    const big = { publicKey: signer.publicKey, message: new Uint8Array(2 << 20), signature: new Uint8Array(64) };
    await expect(pool.verifyMany([big])).rejects.toMatchObject({ code: 'verify_queue_full' });
    const closing = pool.close();
    await expect(first).rejects.toMatchObject({ code: 'verify_pool_closed' });
    await closing;
    await expect(pool.verifyMany(jobs(1).jobs)).rejects.toMatchObject({ code: 'verify_pool_closed' });
  });
});

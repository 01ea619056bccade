// FinalityWaiters (node/http/waiters.ts): long-polls wake on final checkpoints, time out, abort,
// are bounded, and do not miss a final checkpoint that arrives during the caller's first check.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FinalityWaiters } from '../../node/http/waiters.js';
import type { PeerEvents } from '../../node/peer/peer.js';

const final = (ev: EventEmitter<PeerEvents>, treeSize = 1) => ev.emit('final', { treeSize, note: new Uint8Array() });
const never = () => undefined;

describe('FinalityWaiters', () => {
  it('wakes on the final checkpoint that makes check() true', async () => {
    const ev = new EventEmitter<PeerEvents>();
    const w = new FinalityWaiters(ev, 10);
    let size = 0;
    const p = w.wait(async () => size >= 2, 5000, never, w.generation);
    expect(w.size).toBe(1);
    size = 1;
    final(ev, 1);
    await new Promise((r) => setTimeout(r, 10));
    expect(w.size).toBe(1);
    size = 2;
    final(ev, 2);
    expect(await p).toBe(true);
    expect(w.size).toBe(0);
  });

  it('a final checkpoint during the caller’s first check is not missed (idle log afterwards)', async () => {
    const ev = new EventEmitter<PeerEvents>();
    const w = new FinalityWaiters(ev, 10);
    const since = w.generation;
    final(ev); // arrives while the caller was checking
    const t0 = Date.now();
    expect(await w.wait(async () => true, 5000, never, since)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('times out (false), aborts (false), a throwing check ends the wait (false)', async () => {
    const ev = new EventEmitter<PeerEvents>();
    const w = new FinalityWaiters(ev, 10);
    const t0 = Date.now();
    expect(await w.wait(async () => false, 100, never, w.generation)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    let abort: () => void = () => undefined;
    const p = w.wait(async () => false, 5000, (cb) => (abort = cb), w.generation);
    abort();
    expect(await p).toBe(false);
    const q = w.wait(async () => {
      throw new Error('store closed');
    }, 5000, never, w.generation);
    final(ev);
    expect(await q).toBe(false);
    expect(w.size).toBe(0);
  });

  it('a final checkpoint during a running check re-runs it', async () => {
    const ev = new EventEmitter<PeerEvents>();
    const w = new FinalityWaiters(ev, 10);
    let calls = 0;
    let release: () => void = () => undefined;
    const p = w.wait(
      async () => {
        calls++;
        if (calls === 1) await new Promise<void>((r) => (release = r));
        return calls >= 2;
      },
      5000,
      never,
      w.generation,
    );
    final(ev); // starts check #1 (blocked)
    final(ev); // arrives while #1 runs: remembered
    release();
    expect(await p).toBe(true);
    expect(calls).toBe(2);
  });

  it('bounded by max; close() ends every wait and detaches from the peer', async () => {
    const ev = new EventEmitter<PeerEvents>();
    const w = new FinalityWaiters(ev, 2);
    expect(ev.listenerCount('final')).toBe(1);
    const a = w.wait(async () => false, 5000, never, w.generation);
    expect(w.hasRoom()).toBe(true);
    const b = w.wait(async () => false, 5000, never, w.generation);
    expect(w.hasRoom()).toBe(false);
    w.close();
    expect(await Promise.all([a, b])).toEqual([false, false]);
    expect(ev.listenerCount('final')).toBe(0);
  });
});

// FinalityWaiters with an AbortSignal: a long-poll whose client already left (its socket closed
// during the first lookup, before the waiter was registered) takes no waiter slot at all, and one
// that leaves while waiting frees its slot at once.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FinalityWaiters } from '../../node/http/waiters.js';
import type { PeerEvents } from '../../node/peer/peer.js';

describe('FinalityWaiters abort signal', () => {
  it('an already aborted signal resolves false at once and takes no slot', async () => {
    const w = new FinalityWaiters(new EventEmitter<PeerEvents>(), 1);
    const ac = new AbortController();
    ac.abort();
    const t0 = Date.now();
    const p = w.wait(async () => false, 60_000, ac.signal, w.generation);
    expect(w.size).toBe(0);
    expect(w.hasRoom()).toBe(true);
    expect(await p).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('aborting while waiting frees the slot at once', async () => {
    const w = new FinalityWaiters(new EventEmitter<PeerEvents>(), 1);
    const ac = new AbortController();
    const p = w.wait(async () => false, 60_000, ac.signal, w.generation);
    expect(w.size).toBe(1);
    expect(w.hasRoom()).toBe(false);
    ac.abort();
    expect(await p).toBe(false);
    expect(w.size).toBe(0);
  });
});

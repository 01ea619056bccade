// The deadline signal behind every request timeout on the peer network. It must fire even when
// garbage collection runs while it waits: `AbortSignal.any([AbortSignal.timeout(ms), …])` does
// not in Node 20 (the timeout signal is held only weakly and is collected), which left a request
// to a peer that never answers waiting forever.
import { describe, expect, it } from 'vitest';
import { deadline } from '../../node/net/deadline.js';
import { collectGarbage } from './support/gc.js';

/** Resolves with the signal's reason when it aborts, or with 'pending' after `ms`. */
function outcome(signal: AbortSignal, ms: number): Promise<unknown> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('pending'), ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve(signal.reason)), { once: true });
  });
}

describe('deadline', () => {
  it('aborts with a TimeoutError after its time although garbage is collected meanwhile', async () => {
    const parent = new AbortController();
    const d = deadline(100, parent.signal);
    const seen = outcome(d.signal, 2_000);
    await collectGarbage(5, 10);
    const reason = await seen;
    expect(reason).toBeInstanceOf(DOMException);
    expect((reason as DOMException).name).toBe('TimeoutError');
    d.clear();
  });

  it('aborts with the parent reason when the parent aborts first', async () => {
    const parent = new AbortController();
    const d = deadline(60_000, parent.signal);
    const seen = outcome(d.signal, 2_000);
    const why = new Error('stopped');
    parent.abort(why);
    expect(await seen).toBe(why);
    d.clear();
  });

  it('is aborted at once when the parent already is', () => {
    const parent = new AbortController();
    parent.abort(new Error('gone'));
    const d = deadline(60_000, parent.signal);
    expect(d.signal.aborted).toBe(true);
    expect((d.signal.reason as Error).message).toBe('gone');
    d.clear();
  });

  it('never fires once cleared, and detaches from the parent', async () => {
    const parent = new AbortController();
    const d = deadline(50, parent.signal);
    d.clear();
    parent.abort(new Error('later'));
    expect(await outcome(d.signal, 200)).toBe('pending');
  });
});

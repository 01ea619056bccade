// The shared group commit (node/storage/group-commit.ts) of the agent's spool and the meta-audit
// queue: requests arriving during a write share the next one, answers go to their own callers,
// a failed write fails its whole group only, writes never overlap, close() drains.
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../node/storage/group-commit.js';

/** A commit whose writes finish only when the test releases them. */
function gated() {
  const groups: number[][] = [];
  const release: (() => void)[] = [];
  let active = 0;
  let maxActive = 0;
  let failNext: Error | null = null;
  const gc = new GroupCommit<number, string>('test queue', async (group) => {
    groups.push(group);
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise<void>((r) => release.push(r));
    active--;
    const f = failNext;
    failNext = null;
    if (f !== null) throw f;
    return group.map((n) => (n < 0 ? new Error(`refused ${n}`) : `ok ${n}`));
  });
  const tick = () => new Promise((r) => setTimeout(r, 0));
  return {
    gc,
    groups,
    maxActive: () => maxActive,
    failNextWith: (e: Error) => void (failNext = e),
    /** Waits until a write is in flight, then lets it finish. */
    async releaseOne() {
      for (let i = 0; i < 100 && release.length === 0; i++) await tick();
      release.shift()!();
      await tick();
    },
  };
}

describe('GroupCommit', () => {
  it('requests that arrive during a write share the next write; each caller gets its own answer', async () => {
    const g = gated();
    const first = g.gc.submit(1);
    const later = [g.gc.submit(2), g.gc.submit(3), g.gc.submit(4)];
    expect(g.gc.waiting).toBe(3);
    await g.releaseOne();
    expect(await first).toBe('ok 1');
    await g.releaseOne();
    expect(await Promise.all(later)).toEqual(['ok 2', 'ok 3', 'ok 4']);
    expect(g.groups).toEqual([[1], [2, 3, 4]]);
    expect(g.maxActive()).toBe(1);
  });

  it('an Error answer refuses only its own caller', async () => {
    const g = gated();
    const ps = [g.gc.submit(5), g.gc.submit(-6), g.gc.submit(7)].map((p) => p.then((v) => v, (e: Error) => e.message));
    await g.releaseOne();
    await g.releaseOne();
    expect(await Promise.all(ps)).toEqual(['ok 5', 'refused -6', 'ok 7']);
  });

  it('a failed write rejects every caller of its group, and the next group is written', async () => {
    const g = gated();
    const head = g.gc.submit(1);
    const doomed = [g.gc.submit(2), g.gc.submit(3)].map((p) => p.then((v) => v, (e: Error) => e.message));
    await g.releaseOne();
    await head;
    g.failNextWith(new Error('disk full'));
    await g.releaseOne();
    expect(await Promise.all(doomed)).toEqual(['disk full', 'disk full']);
    const after = g.gc.submit(4);
    await g.releaseOne();
    expect(await after).toBe('ok 4');
  });

  it('a commit answering the wrong number of requests fails its group instead of leaving callers hanging', async () => {
    const gc = new GroupCommit<number, string>('short queue', async () => []);
    await expect(gc.submit(1)).rejects.toThrow('short queue: commit answered 0 of 1 requests');
  });

  it('close() waits for every queued request, then refuses new ones', async () => {
    const g = gated();
    const ps = [g.gc.submit(1), g.gc.submit(2)];
    let closed = false;
    const closing = g.gc.close().then(() => void (closed = true));
    await g.releaseOne();
    expect(closed).toBe(false);
    await g.releaseOne();
    await closing;
    expect(await Promise.all(ps)).toEqual(['ok 1', 'ok 2']);
    await expect(g.gc.submit(3)).rejects.toThrow('test queue is closed');
  });
});

// When the agent checks finality (node/agent/finality.ts): as many of its oldest events as the
// log's final tree size grew by, the time schedule once the size stops growing; and what a
// peer's answers mean per event (node/agent/verdict.ts).
import { describe, expect, it } from 'vitest';
import { checkpointSize, FinalityWatch, GROWTH_STALE_MS } from '../../node/agent/finality.js';
import { verdicts } from '../../node/agent/verdict.js';

describe('agent finality checks', () => {
  it('reads the tree size of a checkpoint note, nothing from a malformed one', () => {
    expect(checkpointSize('cairn.example/log\n1234\nq7Uu/E0vQ8Am8dlIx9mQv8Vnm1o8OZBKgd0c2cH8M2s=\n\n— org1 AAAA\n')).toBe(1234);
    expect(checkpointSize('origin\n-1\nroot\n')).toBeNull();
    expect(checkpointSize('origin\n12x\n')).toBeNull();
    expect(checkpointSize('no newline')).toBeNull();
    expect(checkpointSize('origin\n99999999999999999\n')).toBeNull();
  });

  it('allows as many checks as the final size grew, at most what is in flight', () => {
    const w = new FinalityWatch();
    expect(w.observe(100, 0, 40)).toBe(true); // first read: everything in flight may be final
    expect(w.due).toBe(40);
    for (let i = 0; i < 40; i++) w.take();
    expect(w.due).toBe(0);
    expect(w.observe(100, 100, 500)).toBe(false); // no growth, no checks
    expect(w.due).toBe(0);
    expect(w.observe(130, 200, 500)).toBe(true);
    expect(w.due).toBe(30);
    expect(w.observe(2000, 300, 500)).toBe(true);
    expect(w.due).toBe(500); // capped by the events in flight
    w.take();
    expect(w.due).toBe(499);
    expect(w.observe(50, 400, 500)).toBe(false); // a peer behind the others: ignored
    expect(w.finalSize).toBe(2000);
  });

  it('follows the log while it grows, hands back to the time schedule when it stalls', () => {
    const w = new FinalityWatch();
    expect(w.following(0)).toBe(false); // never read: the time schedule
    w.observe(10, 1000, 5);
    expect(w.following(1000 + GROWTH_STALE_MS - 1)).toBe(true);
    expect(w.following(1000 + GROWTH_STALE_MS)).toBe(false);
    w.observe(10, 1000 + GROWTH_STALE_MS + 10, 5); // read, but no growth
    expect(w.following(1000 + GROWTH_STALE_MS + 10)).toBe(false);
    w.observe(11, 9000, 5);
    expect(w.following(9000)).toBe(true);
  });

  it('combines the answers of an event’s versions', () => {
    const { answers, readmitted } = verdicts(
      [
        { error: { code: 'clock_skew', message: 'old' } },
        { status: 'known-final', leafHash: 'a' },
        { status: 'accepted', leafHash: 'b' },
        { error: { code: 'conflict', message: 'c' } },
        { error: { code: 'busy', message: 'later' } },
        { error: { code: 'clock_skew', message: 'old' } },
      ],
      [
        { seq: 1, latest: false },
        { seq: 1, latest: true },
        { seq: 2, latest: true },
        { seq: 3, latest: true },
        { seq: 4, latest: true },
        { seq: 5, latest: true },
      ],
    );
    expect([...answers].map(([seq, a]) => [seq, a.verdict])).toEqual([
      [1, 'final'],
      [2, 'inflight'],
      [3, 'conflict'],
      [4, 'error'],
      [5, 'retime'],
    ]);
    expect(readmitted).toBe(true);
  });
});

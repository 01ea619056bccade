// The status poll's quiet rule (node/peer/sync.ts pollDue): the periodic poll is left out only
// while nothing moved since the last one, and never for longer than STATUS_POLL_QUIET_MS.
import { describe, expect, it } from 'vitest';
import { pollDue, STATUS_POLL_QUIET_MS } from '../../node/peer/sync.js';

const last = { atMs: 10_000, height: 7, treeSize: 70, final: true, ahead: false };
const still = { atMs: 11_000, height: 7, treeSize: 70, finalSize: 70, catchingUp: false, heightRunning: false };

describe('pollDue', () => {
  it('polls first, and leaves a poll out while the head, its finality and the claims are unchanged', () => {
    expect(pollDue(null, still)).toBe(true);
    expect(pollDue(last, still)).toBe(false);
    expect(pollDue(last, { ...still, atMs: last.atMs + STATUS_POLL_QUIET_MS - 1 })).toBe(false);
  });

  it('polls again once STATUS_POLL_QUIET_MS passed, or when the clock stepped back', () => {
    expect(pollDue(last, { ...still, atMs: last.atMs + STATUS_POLL_QUIET_MS })).toBe(true);
    expect(pollDue(last, { ...still, atMs: last.atMs - 1 })).toBe(true);
  });

  it.each([
    ['our head moved (a new height)', last, { ...still, height: 8, treeSize: 75, finalSize: 75 }],
    ['our tree grew', last, { ...still, treeSize: 71, finalSize: 71 }],
    ['our head is not final now', last, { ...still, finalSize: 69 }],
    ['our head was not final at the last poll', { ...last, final: false }, still],
    ['a source claimed a height above ours', { ...last, ahead: true }, still],
    ['a catch-up runs', last, { ...still, catchingUp: true }],
    ['our consensus runs a height it has not decided (others may have decided it and gone idle)', last, { ...still, heightRunning: true }],
  ])('polls at the normal cadence when %s', (_what, l, now) => {
    expect(pollDue(l, now)).toBe(true);
  });
});

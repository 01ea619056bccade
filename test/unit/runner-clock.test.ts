// The runner's production clock: a zero wait (the eager start of an idle height) runs on the next
// turn of the event loop (setImmediate), not on a timer Node clamps to 1 ms or more; cancellable.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../node/peer/runner/ports.js';

afterEach(() => {
  vi.useRealTimers();
});

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('runner system clock', () => {
  it('a zero wait fires on the next turn without any timer; it can be cleared', async () => {
    // Timers are fake and never advanced: only a setImmediate can fire.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const fired: string[] = [];
    systemClock.setTimeout(() => fired.push('zero'), 0);
    const cleared = systemClock.setTimeout(() => fired.push('cleared'), 0);
    systemClock.clearTimeout(cleared);
    const later = systemClock.setTimeout(() => fired.push('later'), 5);
    await nextTurn();
    expect(fired).toEqual(['zero']);
    vi.advanceTimersByTime(5);
    expect(fired).toEqual(['zero', 'later']);
    const gone = systemClock.setTimeout(() => fired.push('gone'), 5);
    systemClock.clearTimeout(gone);
    systemClock.clearTimeout(later);
    vi.advanceTimersByTime(10);
    await nextTurn();
    expect(fired).toEqual(['zero', 'later']);
  });
});

import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../node/net/token-bucket.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('TokenBucket', () => {
  it('allows a burst, then refuses until tokens refill at the configured rate', () => {
    const c = clock();
    const b = new TokenBucket(2, 3, c.now); // 2/s, burst 3
    expect([b.tryTake(), b.tryTake(), b.tryTake(), b.tryTake()]).toEqual([true, true, true, false]);
    c.advance(499); // 0.998 tokens
    expect(b.tryTake()).toBe(false);
    c.advance(1); // 1 token
    expect(b.tryTake()).toBe(true);
    expect(b.tryTake()).toBe(false);
  });

  it('never holds more than the burst, however long it idles', () => {
    const c = clock();
    const b = new TokenBucket(100, 5, c.now);
    c.advance(3_600_000);
    expect(b.available()).toBe(5);
    let n = 0;
    while (b.tryTake()) n++;
    expect(n).toBe(5);
  });

  it('a refused attempt takes nothing; a clock going backwards removes nothing', () => {
    const c = clock();
    const b = new TokenBucket(1, 1, c.now);
    expect(b.tryTake()).toBe(true);
    c.advance(500);
    expect(b.tryTake()).toBe(false);
    expect(b.available()).toBeCloseTo(0.5, 9);
    c.advance(-10_000);
    expect(b.available()).toBeCloseTo(0.5, 9);
    c.advance(10_500); // back to where it was, +500 ms
    expect(b.tryTake()).toBe(true);
  });

  it('sustains exactly rate x time (+ burst) over a long run', () => {
    const c = clock();
    const b = new TokenBucket(10, 20, c.now);
    let ok = 0;
    for (let i = 0; i < 10_000; i++) {
      if (b.tryTake()) ok++;
      c.advance(7); // 10 s in total, offered at ~143/s
    }
    expect(ok).toBeGreaterThanOrEqual(20 + 699);
    expect(ok).toBeLessThanOrEqual(20 + 700);
  });

  it('rejects nonsensical parameters', () => {
    expect(() => new TokenBucket(0, 1)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN, 1)).toThrow(RangeError);
    expect(() => new TokenBucket(1, Infinity)).toThrow(RangeError);
  });
});

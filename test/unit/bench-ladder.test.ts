// The rising ladder bench:cost shares with its etcd phase (bench/step.ts climbLadder): which rates
// it offers and which step it reports, against a fake capacity (no network).
import { describe, expect, it } from 'vitest';
import { climbLadder, LADDER_DOWN_MAX, LADDER_FACTOR } from '../../bench/step.js';

const fake = (capacity: number) => {
  const offered: number[] = [];
  const run = async (_id: string, rate: number) => {
    offered.push(rate);
    return { offeredRate: rate, keepsUp: rate <= capacity };
  };
  return { offered, run };
};

describe('climbLadder', () => {
  it('climbs ×LADDER_FACTOR until a step fails, then tries halfway and keeps it when it holds', async () => {
    const f = fake(350);
    const { best, steps } = await climbLadder({ start: 100, upMax: 5, floor: 25 }, f.run);
    const up = [100, 100 * LADDER_FACTOR, 100 * LADDER_FACTOR * LADDER_FACTOR, 100 * LADDER_FACTOR * LADDER_FACTOR * LADDER_FACTOR];
    expect(f.offered).toEqual([...up, (up[2]! + up[3]!) / 2]);
    expect(best?.offeredRate).toBe(f.offered[4]);
    expect(steps).toHaveLength(5);
  });

  it('halves at most LADDER_DOWN_MAX times when nothing keeps up, never below the floor', async () => {
    const none = fake(1);
    const r = await climbLadder({ start: 400, upMax: 5, floor: 25 }, none.run);
    expect(r.best).toBeNull();
    expect(none.offered).toHaveLength(1 + LADDER_DOWN_MAX);
    const floored = fake(1);
    await climbLadder({ start: 40, upMax: 5, floor: 25 }, floored.run);
    expect(floored.offered).toEqual([40]);
  });

  it('stops after upMax successful steps', async () => {
    const f = fake(Infinity);
    const { best, steps } = await climbLadder({ start: 10, upMax: 3, floor: 0 }, f.run);
    expect(steps).toHaveLength(3);
    expect(best?.offeredRate).toBe(10 * LADDER_FACTOR * LADDER_FACTOR);
  });
});

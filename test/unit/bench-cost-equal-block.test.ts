// bench:cost's equal-block-size search: rates steered by entries/block, clamped to the ladder floor
// and the configuration's own highest rate that kept up, the closest step kept (no network: the
// steps are a model where entries/block = rate × height duration).
import { describe, expect, it } from 'vitest';
import { costAtBlockSize, equalBlockSearch, EQUAL_BLOCK_STEPS_MAX, type BlockStep, type CostPoint } from '../../bench/cost-equal-block.js';
import { atBlockSizeLines, equalBlockLines } from '../../bench/cost-table.js';
import { parseCostArgs, type CostRow, type CostStep } from '../../bench/cost.js';

/** A configuration whose height lasts `heightS` at any rate (plus `bias` entries per block). */
const model = (heightS: number, bias = 0) => {
  const rates: number[] = [];
  const run = async (_id: string, rate: number): Promise<BlockStep> => {
    rates.push(rate);
    return { offeredRate: rate, keepsUp: true, entriesPerBlock: rate * heightS + bias };
  };
  return { rates, run };
};

describe('bench:cost equal block size', () => {
  it('defaults to 40 entries per block; 0 turns it off; 1 is refused', () => {
    expect(parseCostArgs([]).equalBlock).toBe(40);
    expect(parseCostArgs(['--equal-block', '0']).equalBlock).toBe(0);
    expect(() => parseCostArgs(['--equal-block', '1'])).toThrow(/--equal-block/);
  });

  it('lands on the target in one step when entries/block is proportional to the rate', async () => {
    const m = model(0.5);
    const r = await equalBlockSearch({ target: 40, max: 300, floor: 25, hint: { offeredRate: 200, keepsUp: true, entriesPerBlock: 100 } }, m.run);
    expect(m.rates).toEqual([80]);
    expect(r.step?.entriesPerBlock).toBe(40);
  });

  it('corrects a biased guess and keeps the closest of at most EQUAL_BLOCK_STEPS_MAX steps', async () => {
    const m = model(0.5, 30);
    const r = await equalBlockSearch({ target: 40, max: 300, floor: 10, hint: { offeredRate: 200, keepsUp: true, entriesPerBlock: 100 } }, m.run);
    expect(m.rates.length).toBeLessThanOrEqual(EQUAL_BLOCK_STEPS_MAX);
    expect(Math.abs(r.step!.entriesPerBlock - 40)).toBe(Math.min(...r.steps.map((s) => Math.abs(s.entriesPerBlock - 40))));
  });

  it('fits the growth of entries/block with the rate when heights lengthen with load', async () => {
    const rates: number[] = [];
    const run = async (_id: string, rate: number): Promise<BlockStep> => {
      rates.push(rate);
      return { offeredRate: rate, keepsUp: true, entriesPerBlock: 0.001 * rate * rate };
    };
    const r = await equalBlockSearch({ target: 20, max: 300, floor: 25, hint: { offeredRate: 200, keepsUp: true, entriesPerBlock: 40 } }, run);
    expect(rates[0]).toBe(100); // proportional first guess: 10 entries/block
    expect(rates[1]).toBeCloseTo(141.42, 1); // k = 2 from the two points: lands on 20
    expect(r.step?.entriesPerBlock).toBeCloseTo(20, 5);
  });

  it('never offers more than the highest rate that kept up, nor less than the floor', async () => {
    const slow = model(0.1); // 40 entries/block would need 400/s
    const r = await equalBlockSearch({ target: 40, max: 120, floor: 25, hint: { offeredRate: 120, keepsUp: true, entriesPerBlock: 12 } }, slow.run);
    expect(slow.rates).toEqual([120]); // clamped, and a repeat of the same rate is not run again
    expect(r.step?.entriesPerBlock).toBe(12);
    const fast = model(4); // 40 entries/block would need 10/s
    await equalBlockSearch({ target: 40, max: 300, floor: 25, hint: { offeredRate: 100, keepsUp: true, entriesPerBlock: 400 } }, fast.run);
    expect(fast.rates).toEqual([25]);
  });

  it('states each n against the smallest n at the equal block size', () => {
    const s = (cpu: number, wire: number, epb: number): CostStep => ({ offeredRate: 60, finalizedPerSec: 60, final: 360, keepsUp: true, why: '', p50Ms: 100, p99Ms: 300, cpuMsPerEntryPerPeer: cpu, wireBytesPerEntryPerPeer: wire, writeSyscallsPerEntryPerPeer: 2, entriesPerBlock: epb });
    const row = (orgs: number, step: CostStep): CostRow => ({ orgs, entryBytes: 300, at: null, steps: [], equal: null, equalBlock: { target: 40, step, steps: [step] }, loadAverage: { start: 1, end: 1 } });
    const lines = equalBlockLines([row(7, s(2.6, 1500, 38)), row(4, s(2, 1000, 41))]);
    expect(lines.find((l) => l.startsWith('  equal block size'))).toBe('  equal block size ~40 entries, 300 B: per peer against n=4: n=7 CPU 1.30×, wire 1.50× (38.0 vs 41.0 entries/block)');
    expect(lines[0]).toContain('n=7 300 B equal block ~40: offered 60 -> 60/s, 38.0 entries/block');
  });

  // A configuration whose block costs 20 ms per block plus 0.5 ms per entry: per entry 20 / e + 0.5.
  const p = (epb: number, keepsUp = true, perBlock = 20, perEntry = 0.5): CostPoint => ({ offeredRate: epb * 10, keepsUp, entriesPerBlock: epb, cpuMsPerEntryPerPeer: perBlock / epb + perEntry, wireBytesPerEntryPerPeer: 4000 / epb + 400 });

  it('puts a configuration at exactly the target block size through the steps on either side of it', () => {
    const c = costAtBlockSize([p(10), p(25), p(80), p(300)], 40)!;
    expect(c.below.entriesPerBlock).toBe(25);
    expect(c.above.entriesPerBlock).toBe(80);
    expect(c.cpuMsPerEntryPerPeer).toBeCloseTo(20 / 40 + 0.5, 9);
    expect(c.wireBytesPerEntryPerPeer).toBeCloseTo(4000 / 40 + 400, 9);
  });

  it('gives no answer without kept-up steps on both sides, nor when the larger blocks cost more per entry', () => {
    expect(costAtBlockSize([p(10), p(25)], 40)).toBeNull();
    expect(costAtBlockSize([p(25), p(80, false)], 40)).toBeNull();
    expect(costAtBlockSize([p(25), { ...p(80), cpuMsPerEntryPerPeer: 2 }], 40)).toBeNull();
    expect(costAtBlockSize([p(40)], 40)).toBeNull();
  });

  it('states each n against the smallest n at exactly the target', () => {
    const step = (x: CostPoint): CostStep => ({ offeredRate: x.offeredRate, finalizedPerSec: x.offeredRate, final: 100, keepsUp: x.keepsUp, why: '', p50Ms: 100, p99Ms: 300, cpuMsPerEntryPerPeer: x.cpuMsPerEntryPerPeer, wireBytesPerEntryPerPeer: x.wireBytesPerEntryPerPeer, writeSyscallsPerEntryPerPeer: 2, entriesPerBlock: x.entriesPerBlock });
    const row = (orgs: number, pts: CostPoint[]): CostRow => ({ orgs, entryBytes: 300, at: null, steps: pts.slice(1).map(step), equal: null, equalBlock: { target: 40, step: step(pts[0]!), steps: [step(pts[0]!)] }, loadAverage: { start: 1, end: 1 } });
    // n = 7: per-block part twice n = 4's (its heights carry more votes), the same per-entry part.
    const lines = atBlockSizeLines([row(4, [p(30), p(60)]), row(7, [p(35, true, 40), p(50, true, 40)])]);
    expect(lines[0]).toContain('n=4 1.000 CPU ms, 500 wire B (through 30.0 and 60.0 entries/block)');
    expect(lines[0]).toContain('n=7 1.500 CPU ms');
    expect(lines[1]).toBe('  at exactly 40 entries/block, 300 B: per peer against n=4: n=7 CPU 1.50×, wire 1.00×');
  });
});

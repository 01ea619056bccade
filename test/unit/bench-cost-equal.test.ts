// bench:cost's equal-rate phase: its option, and the growth line that compares each n's per-peer
// cost at that one rate with the smallest n's (no network: the rows are given).
import { describe, expect, it } from 'vitest';
import { equalGrowth } from '../../bench/cost-table.js';
import { parseCostArgs, type CostRow, type CostStep } from '../../bench/cost.js';

const step = (cpu: number, wire: number): CostStep => ({
  offeredRate: 60,
  finalizedPerSec: 60,
  final: 360,
  keepsUp: true,
  why: '',
  p50Ms: 100,
  p99Ms: 300,
  cpuMsPerEntryPerPeer: cpu,
  wireBytesPerEntryPerPeer: wire,
  writeSyscallsPerEntryPerPeer: 2,
  entriesPerBlock: 30,
});
const row = (orgs: number, equal: CostStep | null): CostRow => ({ orgs, entryBytes: 300, at: null, steps: [], equal, loadAverage: { start: 1, end: 1 } });

describe('bench:cost equal rate', () => {
  it('defaults to 60/s; 0 turns it off; a rate below 10 is refused', () => {
    expect(parseCostArgs([]).equalRate).toBe(60);
    expect(parseCostArgs(['--equal-rate', '120']).equalRate).toBe(120);
    expect(parseCostArgs(['--equal-rate', '0']).equalRate).toBe(0);
    expect(() => parseCostArgs(['--equal-rate', '5'])).toThrow(/--equal-rate/);
  });

  it('states each n against the smallest n at the equal rate', () => {
    const lines = equalGrowth([row(7, step(3, 1500)), row(4, step(2, 1000)), row(10, null)]);
    expect(lines).toEqual(['  equal rate 60/s, 300 B, per peer against n=4: n=7 CPU 1.50×, wire 1.50×']);
  });
});

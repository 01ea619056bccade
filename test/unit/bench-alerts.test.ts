// The alerts phase of the bench (bench/alerts.ts) on small counts: the numbers it reports are
// consistent with each other and every field the result JSON and the table rely on is there.
// No timing is asserted (the machine is shared).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bestFullRun, REPLAY_ENTRIES, REPLAY_TARGET_PER_SEC, runAlertsPhase } from '../../bench/alerts.js';
import { parseBenchArgs } from '../../bench/run-options.js';
import { formatTable } from '../../bench/table.js';

const N = 3000;

describe('bench alerts phase', () => {
  it('evaluates and replays the requested entries, with targets and verdicts', async () => {
    const r = await runAlertsPhase({ evalEntries: N, replayEntries: N, maxSeconds: 60 }, { entriesPerSec: 100, from: 'test' });
    expect(r.rules).toBeGreaterThan(0);
    expect(r.rulesFile).toBe('docs/examples/rules.yaml');
    for (const part of [r.evaluation, r.replay]) {
      expect(part).toMatchObject({ requested: N, entries: N, completed: true });
      expect(Number.isFinite(part.entriesPerSec) && part.entriesPerSec > 0).toBe(true);
      expect(part.seconds).toBeGreaterThanOrEqual(0);
      expect(part.measured.length).toBeGreaterThan(0);
    }
    // The same synthetic entries through both paths make the same alerts (hashes differ, counts do not);
    // the workload starts at 07:00 Paris time, so the off-hours rule fires.
    expect(r.evaluation.alerts).toBeGreaterThan(0);
    expect(r.replay.alerts).toBe(r.evaluation.alerts);
    expect(r.replay.bundles).toBe(Math.ceil(N / 256));
    expect(r.replay.alertJsonBytes).toBeGreaterThan(r.replay.alerts);
    expect(r.targets).toMatchObject({ maxFinalizedPerSec: 100, maxFinalizedFrom: 'test', evaluationTargetPerSec: 500, replayTargetPerSec: REPLAY_TARGET_PER_SEC, replayEntriesTarget: REPLAY_ENTRIES });
    expect(r.targets.evaluationPass).toBe(r.evaluation.entriesPerSec >= 500);
    // Fewer than the target's 1,000,000 entries can never pass the replay target.
    expect(r.targets.replayPass).toBe(false);
    expect(r.loadAverage.start).toBeGreaterThanOrEqual(0);
    const json = JSON.parse(JSON.stringify(r)) as typeof r;
    expect(json).toEqual(r);

    const table = formatTable({ kind: 'alerts', startedAt: 'now', elapsedS: 1, machine: { cpuModel: 'cpu', cores: 2, memoryGiB: 1, node: 'v20', commit: 'x' }, loadAverage: { start: 0, end: 0 }, alerts: r });
    expect(table).toContain('rule evaluation (example rules)');
    expect(table).toMatch(/alerts replay .*: FAIL/);
  }, 120_000);

  it('without a finalized rate the evaluation has no target and the time budget cuts a part short', async () => {
    const r = await runAlertsPhase({ evalEntries: 2000, replayEntries: 2000, maxSeconds: 0 }, null);
    expect(r.targets.evaluationTargetPerSec).toBeNull();
    expect(r.targets.evaluationPass).toBeNull();
    // A zero budget stops both before any work: reported, not hidden.
    expect(r.evaluation).toMatchObject({ completed: false, entries: 0 });
    expect(r.replay).toMatchObject({ completed: false, entries: 0 });
    expect(r.targets.replayPass).toBe(false);
  }, 60_000);

  it('takes the fastest recorded full run as the reference', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-bench-alerts-'));
    try {
      expect(await bestFullRun(dir)).toBeNull();
      const w = (f: string, v: unknown) => writeFile(join(dir, f), JSON.stringify(v));
      await w('2026-01-01T00-00-00Z.json', { kind: 'full', maxThroughput: { entriesPerSec: 700 } });
      await w('2026-01-02T00-00-00Z.json', { kind: 'full', maxThroughput: { entriesPerSec: 300 } });
      await w('2026-01-03T00-00-00Z-smoke.json', { kind: 'smoke', maxThroughput: { entriesPerSec: 9000 } });
      await w('2026-01-04T00-00-00Z.json', '{ not json');
      expect(await bestFullRun(dir)).toEqual({ file: 'bench/results/2026-01-01T00-00-00Z.json', entriesPerSec: 700 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses --no-alerts and --alerts-only, not both', () => {
    expect(parseBenchArgs([])).toMatchObject({ alerts: true, alertsOnly: false });
    expect(parseBenchArgs(['--no-alerts'])).toMatchObject({ alerts: false, alertsOnly: false });
    expect(parseBenchArgs(['--alerts-only'])).toMatchObject({ alerts: true, alertsOnly: true });
    expect(() => parseBenchArgs(['--alerts-only', '--no-alerts'])).toThrow(/exclude each other/);
  });
});

// CI smoke of the benchmark: `bench/run.ts --smoke` starts 4 real peer processes and
// the load-generator processes, runs every phase briefly (rates, latency, catch-up, auditor,
// `cairn audit`) and writes its JSON. It must WORK, not be fast: the assertions check that every
// measured field is present, finite and non-zero, and that what the load generator saw final was
// confirmed by verified inclusion proofs. Takes ~30-60 s (process starts dominate) on 2 cores.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/** This checkout: the bench that runs is the one next to this test, wherever it is cloned. */
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

let proc: ChildProcess | null = null;
let dir = '';

afterAll(async () => {
  if (proc?.pid !== undefined && proc.exitCode === null) {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

function positive(x: unknown, what: string): number {
  expect(typeof x, what).toBe('number');
  expect(Number.isFinite(x as number), `${what} finite`).toBe(true);
  expect(x as number, what).toBeGreaterThan(0);
  return x as number;
}

describe('bench --smoke', () => {
  it('runs every phase and writes a complete JSON result (~30-60 s)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-bench-smoke-'));
    const out = join(dir, 'result.json');
    const lines: string[] = [];
    proc = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', out], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => lines.push(d.toString('utf8')));
    proc.stderr!.on('data', (d: Buffer) => lines.push(d.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => proc!.on('exit', (c) => resolve(c)));
    expect(code, lines.join('')).toBe(0);
    const r = JSON.parse(await readFile(out, 'utf8'));
    // Written outside the repository: the result records the file name, never the machine's path.
    expect(r.options.out).toBe('result.json');
    expect(JSON.stringify(r)).not.toContain(dir);
    const text = lines.join('');
    expect(text).toContain('max sustained throughput');
    expect(text).toContain('cairn audit');

    expect(r.kind).toBe('smoke');
    expect(r.machine.cores).toBeGreaterThan(0);
    positive(r.verificationBound.verifyPerSecPerCore, 'verify/s per core');
    positive(r.verificationBound.entriesPerSec, 'bound');
    positive(r.maxThroughput.entriesPerSec, 'throughput');
    positive(r.maxThroughput.ratioToBound, 'ratio');
    // Every latency phase saw entries final, with verified inclusion proofs and none failing.
    for (const k of ['25%', '50%', '75%']) {
      const s = r.latency[k];
      positive(s.final, `${k} final entries`);
      for (const p of ['p50', 'p90', 'p99', 'max']) expect(Number.isFinite(s.latencyMs[p]), `${k} ${p}`).toBe(true);
      expect(s.latencyMs.p50).toBeLessThanOrEqual(s.latencyMs.max);
      expect(s.proofsFailed).toBe(0);
      positive(s.proofsOk, `${k} inclusion proofs verified`);
    }
    expect(r.maxThroughput.step.final).toBe(r.maxThroughput.step.accepted);
    positive(r.resources.cpuMsPerEntry, 'cpu per entry');
    expect(r.resources.peakRssMiB).toHaveLength(4);
    for (const x of r.resources.peakRssMiB) positive(x, 'peak RSS');
    // The peak during the max sustained step alone (VmHWM reset at its start) is measured for every
    // peer and cannot exceed the whole-run peak, which is kept across the resets.
    expect(r.resources.peakRssMaxSustainedStep.id).toBe(r.maxThroughput.step.id);
    expect(r.resources.peakRssMaxSustainedMiB).toEqual(r.maxThroughput.step.peakRssMiB);
    r.resources.peakRssMaxSustainedMiB.forEach((x: number, i: number) => {
      positive(x, 'peak RSS at the max sustained step');
      expect(x).toBeLessThanOrEqual(r.resources.peakRssMiB[i]);
    });
    for (const x of r.resources.diskBytesPerEntry) positive(x, 'disk per entry');
    expect(r.catchup.reachedHead).toBe(true);
    positive(r.catchup.entriesBehind, 'catch-up entries');
    positive(r.catchup.entriesPerSec, 'catch-up rate');
    positive(r.auditor.checkpointVerifyPerSecNode, 'checkpoint verify/s');
    positive(r.auditor.inclusionVerifyPerSecNode, 'inclusion verify/s');
    expect(r.auditor.cairnAudit.ok).toBe(true);
    // cairn audit checked the whole log: every entry the network holds.
    expect(r.auditor.cairnAudit.entries).toBeGreaterThanOrEqual(r.catchup.entriesBehind);
    positive(r.auditor.cairnAudit.entriesPerSec, 'audit entries/s');
    // Each step carries the peers' own counters: heights were decided, all four peers were read,
    // and nothing halted (a limit that triggers shows up in httpNon2xx / publishFailures / runner).
    const cs = r.maxThroughput.step.counters;
    expect(cs.unreadable).toBe(0);
    positive(cs.heightsDecided, 'heights decided during the sustained step');
    expect(cs.mempoolAfter).toHaveLength(4);
    expect(cs.halted).toEqual([]);
    expect(typeof r.maxThroughput.step.httpStatus['202']).toBe('number');
  }, 240_000);
});

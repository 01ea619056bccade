// `bench/run.ts --search-indexes off`: the benchmark starts its peer processes with the config
// switch CAIRN_SEARCH_INDEXES=off (peer config `searchIndexes: false`), so the same run can be
// made with and without indexing, back to back. A short smoke (one organization, a fixed rate,
// three seconds): the run completes, records the option, and a search on the peer answers
// 503 index_incomplete, i.e. the peer really ran without indexes.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/run-options.js';
import { REPO_ROOT } from './support/peer-procs.js';

let dir = '';
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the bench from this checkout; its whole process group is killed at the deadline. */
function runBench(args: string[], deadlineMs: number): Promise<{ code: number | null; output: string }> {
  const out: string[] = [];
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => out.push(d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => out.push(d.toString('utf8')));
  const timer = setTimeout(() => {
    out.push(`\n(deadline of ${deadlineMs} ms: killed)`);
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }, deadlineMs);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output: out.join('') });
    }),
  );
}

describe('bench --search-indexes', () => {
  it('parses on and off, and refuses anything else', () => {
    expect(parseBenchArgs([]).searchIndexes).toBe(true);
    expect(parseBenchArgs(['--search-indexes', 'off']).searchIndexes).toBe(false);
    expect(parseBenchArgs(['--search-indexes', 'on']).searchIndexes).toBe(true);
    expect(() => parseBenchArgs(['--search-indexes', 'no'])).toThrow(/--search-indexes must be one of on, off/);
  });

  it('off: the peers run without search indexes (their search answers index_incomplete) and the run completes', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-bench-noindex-'));
    const out = join(dir, 'result.json');
    const { code, output } = await runBench(['--smoke', '--orgs', '1', '--loadgens', '1', '--fixed-rate', '100', '--search-indexes', 'off', '--out', out], 170_000);
    expect(code, output).toBe(0);
    const r = JSON.parse(await readFile(out, 'utf8'));
    expect(r.options.searchIndexes).toBe(false);
    expect(r.network.searchIndexes).toEqual({ on: false, searchStatus: 503, searchError: 'index_incomplete' });
    expect(r.maxThroughput.entriesPerSec).toBeGreaterThan(0);
    expect(r.maxThroughput.step.final).toBe(r.maxThroughput.step.accepted);
    expect(output).toContain('search indexes off: GET /v1/search answered 503 index_incomplete');
  }, 180_000);
});

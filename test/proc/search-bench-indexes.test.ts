// `bench/run.ts --search-indexes off`: the benchmark starts its peer processes with the config
// switch CAIRN_SEARCH_INDEXES=off (peer config `searchIndexes: false`), so the same run can be
// made with and without indexing, back to back. A short smoke (one organization, a fixed rate,
// three seconds): the run completes, records the option, and a search on the peer answers
// 503 index_incomplete, i.e. the peer really ran without indexes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/run.js';

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

describe('bench --search-indexes', () => {
  it('parses on and off, and refuses anything else', () => {
    expect(parseBenchArgs([]).searchIndexes).toBe(true);
    expect(parseBenchArgs(['--search-indexes', 'off']).searchIndexes).toBe(false);
    expect(parseBenchArgs(['--search-indexes', 'on']).searchIndexes).toBe(true);
    expect(() => parseBenchArgs(['--search-indexes', 'no'])).toThrow(/--search-indexes must be on or off/);
  });

  it('off: the peers run without search indexes (their search answers index_incomplete) and the run completes', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-bench-noindex-'));
    const out = join(dir, 'result.json');
    const lines: string[] = [];
    const args = ['--import', 'tsx', 'bench/run.ts', '--smoke', '--orgs', '1', '--loadgens', '1', '--fixed-rate', '100', '--search-indexes', 'off', '--out', out];
    proc = spawn(process.execPath, args, { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => lines.push(d.toString('utf8')));
    proc.stderr!.on('data', (d: Buffer) => lines.push(d.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => proc!.on('exit', (c) => resolve(c)));
    expect(code, lines.join('')).toBe(0);
    const r = JSON.parse(await readFile(out, 'utf8'));
    expect(r.options.searchIndexes).toBe(false);
    expect(r.network.searchIndexes).toEqual({ on: false, searchStatus: 503, searchError: 'index_incomplete' });
    expect(r.maxThroughput.entriesPerSec).toBeGreaterThan(0);
    expect(r.maxThroughput.step.final).toBe(r.maxThroughput.step.accepted);
    expect(lines.join('')).toContain('search indexes off: GET /v1/search answered 503 index_incomplete');
  }, 180_000);
});

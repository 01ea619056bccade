// The benches' command-line reading: each value checked where it is read, and every refusal names
// the option and carries the usage (through the shared readArgs and the two exported parsers).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readArgs } from '../../bench/args.js';
import { parseCostArgs } from '../../bench/cost.js';
import { parseBenchArgs } from '../../bench/run-options.js';

const USAGE = 'usage: demo [--n N]';
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs a bench script (from source) with `args`: its exit code and stderr. */
function runBench(script: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, timeout: 60_000 }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stderr });
    });
  });
}

/** Options read from argv by a small parser built on readArgs. */
function demo(argv: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  readArgs(argv, USAGE, ({ name, value, int, num, list, oneOf, unknown }) => {
    if (name === '--n') o.n = int(value(), 1, 10);
    else if (name === '--x') o.x = num(value(), 0, 1);
    else if (name === '--l') o.l = list(value(), 1, 9);
    else if (name === '--m') o.m = oneOf(value(), ['on', 'off'] as const);
    else if (name === '--flag') o.flag = true;
    else unknown();
  });
  return o;
}

describe('readArgs', () => {
  it('reads options in order with their checked values', () => {
    expect(demo(['--n', '3', '--x', '0.25', '--l', '1,2,9', '--m', 'off', '--flag'])).toEqual({ n: 3, x: 0.25, l: [1, 2, 9], m: 'off', flag: true });
  });

  it.each([
    [['--n'], /^--n needs a value\nusage: demo/],
    [['--n', '11'], /^--n must be an integer in 1\.\.10\nusage: demo/],
    [['--n', '2.5'], /^--n must be an integer in 1\.\.10/],
    [['--n', ''], /^--n must be an integer in 1\.\.10/],
    [['--x', '1.5'], /^--x must be a number in 0\.\.1/],
    [['--x', 'NaN'], /^--x must be a number in 0\.\.1/],
    [['--l', '1,,2'], /^--l must be a comma-separated list of integers in 1\.\.9/],
    [['--l', '1,10'], /^--l must be a comma-separated list of integers in 1\.\.9/],
    [['--m', 'maybe'], /^--m must be one of on, off/],
    [['--what'], /^unknown option "--what"\nusage: demo/],
  ])('refuses %j naming the option', (argv, message) => {
    expect(() => demo(argv)).toThrow(message);
  });

  it('answers --help and -h with the usage alone', () => {
    expect(() => demo(['--help'])).toThrow(/^usage: demo \[--n N\]$/);
    expect(() => demo(['-h'])).toThrow(/^usage: demo \[--n N\]$/);
  });
});

describe('the bench and bench:cost options', () => {
  it('refuse a missing value instead of taking nothing', () => {
    expect(() => parseBenchArgs(['--out'])).toThrow(/^--out needs a value/);
    expect(() => parseBenchArgs(['--timeline'])).toThrow(/^--timeline needs a value/);
    expect(() => parseCostArgs(['--orgs'])).toThrow(/^--orgs needs a value/);
  });

  it('hold counts to integers and rates to their ranges', () => {
    expect(() => parseBenchArgs(['--orgs', '4.5'])).toThrow(/^--orgs must be an integer in 1\.\.16/);
    expect(parseBenchArgs(['--fixed-rate', '12.5', '--duration', '20']).fixedRate).toBe(12.5);
    expect(() => parseBenchArgs(['--fixed-rate', '5'])).toThrow(/^--fixed-rate must be a number in 10\.\.100000/);
    expect(() => parseBenchArgs(['--auth', 'magic'])).toThrow(/^--auth must be one of none, signature, token/);
    expect(parseCostArgs(['--orgs', '4,7', '--step-s', '5', '--etcd', 'off'])).toMatchObject({ orgs: [4, 7], stepS: 5, etcd: 'off' });
    expect(() => parseCostArgs(['--etcd', 'on'])).toThrow(/^--etcd must be one of auto, off/);
    expect(() => parseCostArgs(['--nope'])).toThrow(/^unknown option "--nope"/);
    // Checks a parser makes beyond the cursor's own read through the same refusal, usage included.
    expect(() => parseCostArgs(['--equal-rate', '5'])).toThrow(/^--equal-rate must be 0 \(none\) or at least 10\nusage: bench:cost/);
    expect(() => parseCostArgs(['--equal-block', '1'])).toThrow(/^--equal-block must be 0 \(none\) or at least 2\nusage: bench:cost/);
    expect(() => parseBenchArgs(['--timeline', ''])).toThrow(/^--timeline must be a directory\nusage:/);
  });
});

describe('a bench refusing its command line', () => {
  it('prints the one refusal and the usage, no stack, and exits 2 before starting anything', async () => {
    const cases: [string, string[], RegExp][] = [
      ['bench/run.ts', ['--orgs', '4.5'], /^bench: --orgs must be an integer in 1\.\.16\nusage: bench /],
      ['bench/cost.ts', ['--etcd', 'on'], /^bench:cost: --etcd must be one of auto, off\nusage: bench:cost /],
      ['bench/catchup.ts', ['--bogus'], /^bench:catchup: unknown option "--bogus"\nusage: bench:catchup /],
      ['bench/memory.ts', ['--reuse'], /^bench:memory: --reuse needs a value\nusage: bench:memory /],
      ['bench/search.ts', ['--passes', '0'], /^bench:search: --passes must be an integer in 1\.\.10\nusage: bench:search /],
      ['bench/ingest.ts', ['--workers', '0,x'], /^bench:ingest: --workers must be a comma-separated list of integers in 0\.\.16\nusage: bench:ingest /],
    ];
    const results = await Promise.all(cases.map(([script, args]) => runBench(script, args)));
    results.forEach((r, i) => {
      expect(r.code, cases[i]![0]).toBe(2);
      expect(r.stderr, cases[i]![0]).toMatch(cases[i]![2]);
      expect(r.stderr, cases[i]![0]).not.toMatch(/\n\s+at /);
    });
  }, 90_000);
});

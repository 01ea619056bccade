// A benchmark result is committed to the repository, so the paths it records must not be the
// machine's: the output file is recorded relative to the repository (or by file name alone when
// it was written outside the repository, e.g. to a temp dir).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { codeRoot, recordedPath } from '../../bench/paths.js';
import { recordOutput } from '../../bench/run.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/+$/, '');

describe('bench result paths', () => {
  it('codeRoot is this checkout', () => {
    expect(codeRoot()).toBe(ROOT);
  });

  it('records a file inside the repository relative to it', () => {
    expect(recordedPath(join(ROOT, 'bench', 'results', 'x.json'))).toBe('bench/results/x.json');
  });

  it('records a path relative to the working directory the same way', () => {
    const cwd = process.cwd();
    try {
      process.chdir(join(ROOT, 'bench'));
      expect(recordedPath('results/y.json')).toBe('bench/results/y.json');
    } finally {
      process.chdir(cwd);
    }
  });

  it('records a file outside the repository by its name only', () => {
    expect(recordedPath(join(tmpdir(), 'cairn-bench-1', 'result.json'))).toBe('result.json');
    expect(recordedPath('/elsewhere/deep/r.json')).toBe('r.json');
  });

  it('the result written by bench/run.ts carries the recorded, not the absolute, output path', () => {
    const abs = join(ROOT, 'bench', 'results', '2026-01-01T00-00-00-000Z.json');
    const r = recordOutput({ kind: 'full', options: { orgs: 4, out: abs } }, abs);
    expect(r.options).toEqual({ orgs: 4, out: 'bench/results/2026-01-01T00-00-00-000Z.json' });
    expect(JSON.stringify(r)).not.toContain(ROOT);
  });
});

// Helpers for the CLI tests: an in-memory CliIo and temp directories.
import { expect } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../../node/cli/io.js';
import { run } from '../../../node/cli/run.js';

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with captured output; `stdin` feeds "-" file arguments. */
export async function cli(argv: string[], opts: { cwd?: string; stdin?: Uint8Array } = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.stdin !== undefined ? { readStdin: async () => opts.stdin! } : {}),
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

/** The error contract: exactly one `cairn: ...` line on stderr, nothing on stdout, the exit code. */
export function expectError(r: Captured, code: number, pattern?: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^cairn: [^\n]+\n$/);
  if (pattern) expect(r.stderr).toMatch(pattern);
}

export async function tempDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `cairn-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

// The real program in a child process (`node --import tsx node/cli/main.ts`): exit codes and the
// one-line stderr contract as a shell sees them. Each spawn costs ~0.5-1 s of tsx start-up (more
// when the 2 cores are busy: ~5 s for the file), so this file keeps to four spawns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { parseSignerKey } from '../../src/checkpoint/keys.js';
import { signNote } from '../../src/checkpoint/note.js';
import { nobleSigner } from '../../src/crypto/noble.js';
import { tempDir } from './support/cli.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SPAWN_TIMEOUT_MS = 20_000;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cairn(args: string[], stdin?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'node/cli/main.ts', ...args], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: SPAWN_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

let dir: { path: string; cleanup: () => Promise<void> };
const p = (name: string) => join(dir.path, name);

beforeAll(async () => {
  dir = await tempDir('proc');
});
afterAll(async () => {
  await dir.cleanup();
});

describe('cairn as a process', () => {
  it('keygen, then verify checkpoint: exit 0 / 1 / 2 with one stderr line on failure', async () => {
    const gen = await cairn(['keygen', '--name', 'solo.example', '--out', p('keys')]);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout).toMatch(/^solo\.example\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\n$/);
    const sk = parseSignerKey((await readFile(p('keys/solo.example.key'), 'utf8')).trim());
    if (!sk.ok) throw new Error(sk.message);
    await writeFile(p('trust.json'), JSON.stringify({ origin: 'cairn.example/proc', quorum: 1, keys: [gen.stdout.trim()] }));
    const note = signNote(formatCheckpoint({ origin: 'cairn.example/proc', size: 0, root: new Uint8Array(32) }), [
      { name: 'solo.example', signer: nobleSigner(sk.key.seed) },
    ]);

    const good = await cairn(['verify', 'checkpoint', '-', '--trust', p('trust.json')], note);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain('checkpoint OK');

    const bad = await cairn(['verify', 'checkpoint', '-', '--trust', p('trust.json')], note.replace('cairn.example/proc', 'cairn.example/prod'));
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^cairn: [^\n]+\n$/);

    const usage = await cairn(['verify', 'checkpoint', p('missing')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^cairn: required option '--trust <file>' not specified[^\n]*\n$/);
  });
});

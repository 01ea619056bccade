// The real `cairn` program in child processes (`node --import tsx node/cli/main.ts`): the peer
// commands' error contract as a shell sees it — exactly one `cairn: ...` line on stderr, nothing
// on stdout, exit 1 (failed / unreachable) or 2 (usage). Each spawn costs ~1 s of tsx start-up,
// so this file keeps to a few; the in-process tests (test/unit/cli-peer-commands.test.ts) cover
// every command and message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../unit/support/cli.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SPAWN_TIMEOUT_MS = 30_000;

function cairn(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'node/cli/main.ts', ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'], timeout: SPAWN_TIMEOUT_MS, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

let dir: { path: string; cleanup: () => Promise<void> };
let closedUrl: string;

beforeAll(async () => {
  dir = await tempDir('cli-errors');
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  closedUrl = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  await new Promise<void>((r) => s.close(() => r()));
  await writeFile(join(dir.path, 'bad-trust.json'), '{"origin": "x", "quorum": 1, "keys": ["nope"]}');
});

afterAll(async () => {
  await dir.cleanup();
});

describe('cairn peer commands as a process', () => {
  it('unreachable peer: exit 1, one line', async () => {
    const r = await cairn(['status', closedUrl]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`cairn: cannot reach peer ${closedUrl}: connection refused (GET /v1/status)\n`);
  }, 40_000);

  it('bad arguments: exit 2, one line', async () => {
    const r = await cairn(['submit', '--peer', closedUrl, '--stdin'], '{}\n');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("cairn: required option '--key <file>' not specified (see 'cairn submit --help')\n");
  }, 40_000);

  it('bad trust file: exit 2, one line', async () => {
    const r = await cairn(['audit', closedUrl, '--trust', join(dir.path, 'bad-trust.json')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^cairn: invalid trust file .*bad-trust\.json: keys\[0\]: .*\[trust_bad_key\]\n$/);
  }, 40_000);

  it('cairn start with an unreadable config: exit 2, one line', async () => {
    const r = await cairn(['start', '--config', join(dir.path, 'missing.json')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^cairn: config_unreadable: cannot read config file .*missing\.json: [^\n]+\n$/);
  }, 40_000);

  it('help for every new command', async () => {
    const r = await cairn(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['p2p-key', 'genesis', 'start', 'submit', 'get', 'receipt', 'status', 'verify', 'audit']) expect(r.stdout).toMatch(new RegExp(`\\n  ${c} `));
  }, 40_000);
});

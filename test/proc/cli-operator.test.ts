// The README's "organization operating a peer" walkthrough with the real CLI, for a one-organization
// network: keygen, p2p-key, genesis (+ trust file), a hand-written config, `cairn start` as a
// process, then `cairn submit --wait` with a keygen client key, `cairn status`, `cairn audit`, and a
// clean stop on SIGTERM (exit 0).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli, tempDir } from '../unit/support/cli.js';
import { freePort } from '../peer-support/fixtures.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** `cairn start` must answer HTTP within this long after its last log line (progress-derived). */
const START_STALL_MS = 30_000;

let dir: { path: string; cleanup: () => Promise<void> };
let peer: ChildProcess | null = null;
let log = '';

beforeAll(async () => {
  dir = await tempDir('operator');
});

afterAll(async () => {
  if (peer?.pid !== undefined && peer.exitCode === null) {
    try {
      process.kill(-peer.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await dir.cleanup();
});

describe('operator walkthrough (one organization, real cairn start process)', () => {
  it('keygen, p2p-key, genesis, config, start, submit --wait, status, audit, clean stop', async () => {
    const p = (n: string) => join(dir.path, n);
    expect((await cli(['keygen', '--name', 'org1.example', '--out', 'keys'], { cwd: dir.path })).code).toBe(0);
    const idr = await cli(['p2p-key', '--out', 'keys/org1.p2p'], { cwd: dir.path });
    expect(idr.code, idr.stderr).toBe(0);
    expect((await cli(['keygen', '--name', 'app1', '--out', 'keys'], { cwd: dir.path })).code).toBe(0);
    const p2pPort = await freePort();
    const httpPort = await freePort();
    const g = await cli(
      ['genesis', '--origin', 'audit.example.com/solo', '--validator', `keys/org1.example.pub,keys/org1.p2p,/ip4/127.0.0.1/tcp/${p2pPort}`, '--client', 'app1,keys/app1.pub,org1.example', '--out', 'genesis.json', '--trust-out', 'trust.json'],
      { cwd: dir.path },
    );
    expect(g.code, g.stderr).toBe(0);
    await writeFile(
      p('config.json'),
      JSON.stringify({ dataDir: 'data', genesis: 'genesis.json', signingKey: 'keys/org1.example.key', p2pKey: 'keys/org1.p2p', listen: [`/ip4/127.0.0.1/tcp/${p2pPort}`], http: `127.0.0.1:${httpPort}` }),
    );

    peer = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(REPO, 'node/cli/main.ts'), 'start', '--config', p('config.json')], { cwd: dir.path, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    peer.stdout!.on('data', (d) => (log += d));
    peer.stderr!.on('data', (d) => (log += d));
    const exit = new Promise<number | null>((r) => peer!.once('exit', (c) => r(c)));
    const url = `http://127.0.0.1:${httpPort}`;
    let seen = 0;
    let last = Date.now();
    for (;;) {
      if (peer.exitCode !== null) throw new Error(`cairn start exited ${peer.exitCode}:\n${log}`);
      const st = await cli(['status', url]);
      if (st.code === 0) {
        expect(st.stdout).toMatch(/organization +org1\.example \(validator 0\)/);
        break;
      }
      if (log.length !== seen) {
        seen = log.length;
        last = Date.now();
      }
      if (Date.now() - last > START_STALL_MS) throw new Error(`no HTTP answer and no log output for ${START_STALL_MS} ms:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    const s = await cli(['submit', '--peer', url, '--key', 'keys/app1.key', '--action', 'user.login', '--actor', 'alice', '--resource-type', 'service', '--resource-id', 'portal', '--wait', '--timeout', '30s'], { cwd: dir.path });
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^[0-9a-f]{64} final 0 /);
    const a = await cli(['audit', url, '--trust', 'trust.json'], { cwd: dir.path });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/size +1\n/);

    peer.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(log).toContain('"msg":"stopped"');
  }, 120_000);
});

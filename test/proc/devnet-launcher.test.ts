// The devnet launcher as a process (`node devnet/start.ts`, what `npm start` runs after the build):
// the banner and its commands, reuse of the devnet dir on the next start, Ctrl-C (SIGINT) stopping
// every peer cleanly, no orphan when the launcher itself is SIGKILLed (each peer stops when its
// stdin pipe closes), and one-line errors for bad options and busy ports. One organization keeps
// it cheap: the multi-peer behaviour is covered by devnet-acceptance.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../unit/support/cli.js';
import { devnetBasePort } from './support/devnet-ports.js';
import { peerNodeOptions, semiSpaceMiB } from '../../node/peer/v8-memory.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The launcher must print its banner within this long after its last output line (progress-derived). */
const OUTPUT_STALL_MS = 60_000;

let dir: { path: string; cleanup: () => Promise<void> };
const running: ChildProcess[] = [];
const peerPids: number[] = [];
let basePort = 0;

/** True when `port` on 127.0.0.1 can be bound right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

interface Launch {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

function launch(args: string[]): Launch {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'devnet/start.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, out: () => out, err: () => err, exit };
}

/** Waits for `pattern` in stdout; the deadline moves with every new output byte. */
async function waitFor(l: Launch, pattern: RegExp): Promise<string> {
  let seen = 0;
  let last = Date.now();
  for (;;) {
    const o = l.out();
    if (pattern.test(o)) return o;
    if (o.length !== seen) {
      seen = o.length;
      last = Date.now();
    }
    if (l.proc.exitCode !== null) throw new Error(`launcher exited (${l.proc.exitCode}) before ${pattern}:\n${o}\n${l.err()}`);
    if (Date.now() - last > OUTPUT_STALL_MS) throw new Error(`no ${pattern} and no output for ${OUTPUT_STALL_MS} ms:\n${o}\n${l.err()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

function pidsIn(banner: string): number[] {
  return [...banner.matchAll(/\(pid (\d+), log /g)].map((m) => Number(m[1]));
}

beforeAll(async () => {
  dir = await tempDir('devnet-launch');
  // A base whose HTTP (base+1) and libp2p (base+101) ports are free now; other test files use other ranges.
  for (let attempt = 0; basePort === 0; attempt++) {
    const b = devnetBasePort(50);
    if ((await portFree(b + 1)) && (await portFree(b + 101))) basePort = b;
    else if (attempt > 20) throw new Error('no free port pair found for the devnet launcher test');
  }
});

afterAll(async () => {
  // Whatever happened: kill the launchers' and peers' process groups.
  const killGroup = (pid: number) => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  for (const p of running) if (p.pid !== undefined && p.exitCode === null) killGroup(p.pid);
  for (const pid of peerPids) if (alive(pid)) killGroup(pid);
  await dir.cleanup();
}, 30_000);

describe('devnet launcher process (slow: two 1-organization starts under tsx)', () => {
  const devnetDir = () => join(dir.path, 'dn');

  it('prints URLs, the trust file and working commands; Ctrl-C stops every peer cleanly', async () => {
    const l = launch(['--orgs', '1', '--base-port', String(basePort), '--dir', devnetDir(), '--samples', '1']);
    const banner = await waitFor(l, /Press Ctrl-C to stop the devnet/);
    expect(banner).toContain('generating keys and a genesis for 1 organizations');
    expect(banner).toContain(`org1.devnet  http://127.0.0.1:${basePort + 1}`);
    expect(banner).toContain(`trust file (auditor's trust root: origin, keys, quorum): ${join(devnetDir(), 'trust.json')}`);
    expect(banner).toMatch(/sample entries \(final\): [0-9a-f]{64}\n/);
    expect(banner).toContain(`npx cairn audit http://127.0.0.1:${basePort + 1} --trust ${join(devnetDir(), 'trust.json')} --auth-key ${join(devnetDir(), 'keys', 'auditor.pem')}`);
    expect(banner).toContain(`auditor key (trusted as auditor by every peer: entries, bundles, audit): ${join(devnetDir(), 'keys', 'auditor.pem')}`);
    expect(await readFile(join(devnetDir(), 'keys', 'auditor.pem'), 'utf8')).toMatch(/\nkeyid: auditor\n-----BEGIN PRIVATE KEY-----\n/);
    // Meta-audit: reads are logged as entries, and the banner shows how to list them.
    expect(banner).toContain('cairn.read.* entry naming the reader (e.g. key:auditor)');
    expect(banner).toContain(
      `  npx cairn search --peer http://127.0.0.1:${basePort + 1} --trust ${join(devnetDir(), 'trust.json')} --action cairn.read.entry --auth-key ${join(devnetDir(), 'keys', 'auditor.pem')}\n`,
    );
    expect(banner).not.toContain('meta-audit off');
    expect(JSON.parse(await readFile(join(devnetDir(), 'peers', 'org1.devnet', 'policy.json'), 'utf8'))).toMatchObject({ keys: [{ name: 'auditor', roles: ['auditor'] }, { name: 'operator', roles: ['operator'] }] });
    const [pid] = pidsIn(banner);
    expect(pid).toBeGreaterThan(0);
    peerPids.push(pid!);
    expect(alive(pid!)).toBe(true);
    // glibc's per-thread malloc arenas and V8's young generation: devnet peers run with
    // MALLOC_ARENA_MAX=2 and 4 MiB semi-spaces unless the environment sets them.
    const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
    expect(environ).toContain(`MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '2'}`);
    expect(environ).toContain(`NODE_OPTIONS=${peerNodeOptions(process.env.NODE_OPTIONS)}`);

    l.proc.kill('SIGINT');
    expect(await l.exit, l.err()).toBe(0);
    expect(await waitGone(pid!, 15_000)).toBe(true);
    const log = await readFile(join(devnetDir(), 'logs', 'org1.devnet.log'), 'utf8');
    expect(log, log.slice(-1500)).toContain('"msg":"stopped"');
    // It said at start which Ed25519 verifier and which key check it uses (both libsodium here).
    const start = log.split('\n').find((line) => line.includes('"msg":"ed25519 verifier"'));
    expect(start, log.slice(0, 1500)).toBeDefined();
    expect(JSON.parse(start!)).toMatchObject({ verifier: 'libsodium', keyCheck: 'libsodium' });
    // ...and the V8 heap it got: the old generation's growth it set itself, the semi-spaces it was started with.
    const heap = log.split('\n').find((line) => line.includes('"msg":"memory: V8 heap"'));
    expect(heap, log.slice(0, 1500)).toBeDefined();
    expect(JSON.parse(heap!)).toMatchObject({ heapGrowingPercent: 50, source: 'default', semiSpaceMiB: semiSpaceMiB([], peerNodeOptions(process.env.NODE_OPTIONS)) });
  }, 120_000);

  it('reuses the devnet dir; refuses other options for it; a SIGKILLed launcher leaves no orphan', async () => {
    const bad = launch(['--orgs', '2', '--dir', devnetDir()]);
    expect(await bad.exit).toBe(1);
    expect(bad.err()).toMatch(/^devnet: .* holds a devnet of 1 organizations; use --orgs 1, or another --dir for a different network\n$/);

    const l = launch(['--dir', devnetDir(), '--samples', '1']);
    const banner = await waitFor(l, /Press Ctrl-C to stop the devnet/);
    expect(banner).toContain('reusing the devnet in');
    const [pid] = pidsIn(banner);
    peerPids.push(pid!);

    // A second launcher on the same ports fails with one line naming the busy port.
    const clash = launch(['--dir', join(dir.path, 'other'), '--orgs', '1', '--base-port', String(basePort)]);
    expect(await clash.exit).toBe(1);
    expect(clash.err()).toMatch(new RegExp(`^devnet: org1\\.devnet HTTP port ${basePort + 1} on 127\\.0\\.0\\.1 is not free .*--base-port\\n$`));

    l.proc.kill('SIGKILL');
    await l.exit;
    // The peer sees its stdin pipe close and stops itself, cleanly.
    const gone = await waitGone(pid!, 15_000);
    const log = await readFile(join(devnetDir(), 'logs', 'org1.devnet.log'), 'utf8');
    const tail = log.trimEnd().split('\n').slice(-6).join('\n');
    expect(gone, `peer ${pid} still running 15 s after its launcher was killed; log tail:\n${tail}`).toBe(true);
    expect(log.trimEnd().split('\n').pop(), `log tail:\n${tail}`).toContain('"msg":"stopped"');
  }, 120_000);

  it('Ctrl-C during start-up stops the peers started so far and exits 130', async () => {
    const l = launch(['--orgs', '1', '--base-port', String(basePort), '--dir', join(dir.path, 'early'), '--samples', '1']);
    const out = await waitFor(l, /started org1\.devnet \(pid \d+\)/);
    const pid = Number(/started org1\.devnet \(pid (\d+)\)/.exec(out)![1]);
    peerPids.push(pid);
    l.proc.kill('SIGINT');
    expect(await l.exit).toBe(130);
    expect(l.out()).toMatch(/devnet: SIGINT: stopping every peer\.\.\.\ndevnet: stopped\n$/);
    expect(await waitGone(pid, 15_000)).toBe(true);
  }, 60_000);

  it('rejects bad options with one line and exit 1 or 2', async () => {
    {
      const a = launch(['--orgs', 'x', '--dir', join(dir.path, 'x')]);
      expect(await a.exit).toBe(1);
      expect(a.err()).toBe('devnet: --orgs must be a number, got "x"\n');
      const b = launch(['--orgs', '17', '--dir', join(dir.path, 'y')]);
      expect(await b.exit).toBe(1);
      expect(b.err()).toBe('devnet: --orgs must be an integer in 1..16 (DEVNET_ORGS_MAX)\n');
      const c = launch(['--bogus']);
      expect(await c.exit).toBe(2);
      expect(c.err()).toMatch(/^devnet: unknown option '--bogus'\n$/);
    }
  }, 60_000);
});

// A peer running as a child process (node --import tsx node/peer/main.ts --config <file>),
// started detached (own process group) so a test can SIGKILL it and everything it spawned.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatGenesis, type Genesis } from '../../node/peer/genesis.js';
import { formatP2PKey } from '../../node/peer/config.js';
import type { OrgFixture } from './fixtures.js';

export interface ChildStatus {
  height: number;
  treeSize: number;
  finalSize: number;
  mempool: number;
  connected: number;
  problem: string | null;
  evidence: number;
  catchUpEntriesPerSec: number;
}

export interface ChildPeer {
  proc: ChildProcess;
  status: ChildStatus | null;
  /** Largest tree size this process reported final (the 'checkpoint final' log lines). */
  maxFinalReported: number;
  lines: string[];
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** Writes genesis, keys and config for `org` under dir; returns the config path. */
export async function writePeerFiles(dir: string, genesis: Genesis, org: OrgFixture): Promise<string> {
  await mkdir(join(dir, 'data'), { recursive: true });
  await writeFile(join(dir, 'genesis.json'), formatGenesis(genesis));
  await writeFile(join(dir, `${org.name}.key`), org.signerKeyText + '\n', { mode: 0o600 });
  await writeFile(join(dir, 'p2p.key'), formatP2PKey(org.p2pSeed), { mode: 0o600 });
  const cfg = { dataDir: 'data', genesis: 'genesis.json', signingKey: `${org.name}.key`, p2pKey: 'p2p.key', listen: [`/ip4/127.0.0.1/tcp/${org.port}`], logLevel: 'info' };
  await writeFile(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  return join(dir, 'config.json');
}

const children = new Set<ChildPeer>();

/**
 * The checkout this test file belongs to: the child runs THIS repository's code, wherever it is
 * cloned (a fixed path would run another checkout's code, or fail where there is none).
 */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function startChild(configPath: string, env: Record<string, string> = {}): ChildPeer {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'node/peer/main.ts', '--config', configPath], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CAIRN_STATUS_INTERVAL_MS: '250', ...env },
  });
  const child: ChildPeer = {
    proc,
    status: null,
    maxFinalReported: 0,
    lines: [],
    exited: new Promise((resolve) => proc.on('exit', (code) => resolve(code))),
    kill(signal) {
      try {
        process.kill(-proc.pid!, signal);
      } catch {
        // already gone
      }
    },
  };
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (child.lines.length < 5000) child.lines.push(line);
      try {
        const j = JSON.parse(line);
        if (j.status) child.status = j.status;
        if (j.final) child.maxFinalReported = Math.max(child.maxFinalReported, j.final.treeSize);
      } catch {
        // not JSON
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => {
    if (child.lines.length < 5000) child.lines.push(`[stderr] ${d.toString('utf8')}`);
  });
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

/** Kills every child still running (afterEach/afterAll). */
export async function killAllChildren(): Promise<void> {
  const all = [...children];
  for (const c of all) c.kill('SIGKILL');
  await Promise.all(all.map((c) => c.exited));
}

// Peer processes with the HTTP API for multi-process tests: writes each organization's genesis,
// keys and config (p2p and HTTP on 127.0.0.1 only), spawns `node --import tsx <script> ...` from
// the repository root (derived from this file's URL, never an absolute path) in its own process
// group, and samples what a test asserts on: /v1/status, VmRSS from /proc/<pid>/status and the
// size of the data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatGenesis, type Genesis } from '../../../node/peer/genesis.js';
import { formatP2PKey } from '../../../node/peer/config.js';
import { freePort, type OrgFixture } from '../../peer-support/fixtures.js';

/** The repository root (this file is test/proc/support/peer-procs.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Log lines kept per process (the last ones are printed when a wait fails). */
const LINES_KEPT = 400;

export interface PeerProc {
  name: string;
  dir: string;
  dataDir: string;
  url: string;
  proc: ChildProcess;
  /** The last lines of stdout/stderr (a ring of LINES_KEPT); all of them go to <dir>/out.log. */
  lines: string[];
  /** Every parsed stdout JSON line goes here too (the Byzantine peer's reports). */
  onJson: ((j: Record<string, unknown>) => void) | null;
  /** Warn/error log lines (pino level >= 40) by message: count and the first one's fields. */
  warnings: Map<string, { count: number; example: string }>;
  exitCode: number | null | undefined;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** Writes genesis, keys and a config with an HTTP API for `org` under dir; returns the config path and URL. */
export async function writeHttpPeerFiles(dir: string, genesis: Genesis, org: OrgFixture, logLevel = 'info'): Promise<{ config: string; url: string }> {
  await mkdir(join(dir, 'data'), { recursive: true });
  await writeFile(join(dir, 'genesis.json'), formatGenesis(genesis));
  await writeFile(join(dir, `${org.name}.key`), org.signerKeyText + '\n', { mode: 0o600 });
  await writeFile(join(dir, 'p2p.key'), formatP2PKey(org.p2pSeed), { mode: 0o600 });
  const httpPort = await freePort();
  const cfg = {
    dataDir: 'data',
    genesis: 'genesis.json',
    signingKey: `${org.name}.key`,
    p2pKey: 'p2p.key',
    listen: [`/ip4/127.0.0.1/tcp/${org.port}`],
    http: `127.0.0.1:${httpPort}`,
    logLevel,
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  return { config: join(dir, 'config.json'), url: `http://127.0.0.1:${httpPort}` };
}

const running = new Set<PeerProc>();

/** Spawns `node --import tsx <script relative to the repository root> ...args`. */
export function spawnPeerProc(name: string, dir: string, url: string, script: string, args: string[], env: Record<string, string> = {}): PeerProc {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const p: PeerProc = {
    name,
    dir,
    dataDir: join(dir, 'data'),
    url,
    proc,
    lines: [],
    onJson: null,
    warnings: new Map(),
    exitCode: undefined,
    exited: new Promise((resolve) => proc.on('exit', (code) => resolve(code))),
    kill(signal) {
      try {
        process.kill(-proc.pid!, signal);
      } catch {
        // already gone
      }
    },
  };
  const keep = (l: string) => {
    p.lines.push(l);
    if (p.lines.length > LINES_KEPT) p.lines.shift();
  };
  const out = createWriteStream(join(dir, 'out.log'));
  out.on('error', () => undefined);
  proc.stdout!.pipe(out);
  proc.stderr!.pipe(out);
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let j: Record<string, unknown> | null = null;
      try {
        j = JSON.parse(line) as Record<string, unknown>;
      } catch {
        // not JSON
      }
      // Status lines every 250 ms would push everything else out of the ring.
      if (!(j && 'status' in j)) keep(line.length > 600 ? line.slice(0, 600) + '…' : line);
      if (j && typeof j.level === 'number' && j.level >= 40) {
        const key = `${j.level >= 50 ? 'error' : 'warn'}: ${String(j.msg)}`;
        const seen = p.warnings.get(key);
        if (seen) seen.count++;
        else p.warnings.set(key, { count: 1, example: line.slice(0, 400) });
      }
      if (j && p.onJson) p.onJson(j);
    }
  });
  proc.stderr!.on('data', (d: Buffer) => keep(`[stderr] ${d.toString('utf8').slice(0, 2000)}`));
  proc.stdin!.on('error', () => undefined);
  running.add(p);
  void p.exited.then((code) => {
    p.exitCode = code;
    running.delete(p);
  });
  return p;
}

/** SIGTERM every process still running, SIGKILL after graceMs. */
export async function stopAllPeerProcs(graceMs = 10_000): Promise<void> {
  const all = [...running];
  for (const p of all) p.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const p of all) p.kill('SIGKILL');
  }, graceMs);
  await Promise.all(all.map((p) => p.exited));
  clearTimeout(timer);
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status), null when it is gone. */
export async function rssBytes(pid: number): Promise<number | null> {
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(s);
    return m === null ? null : Number(m[1]) * 1024;
  } catch {
    return null;
  }
}

/** Total size of the regular files under dir (recursively), in bytes; files vanishing meanwhile count 0. */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else if (e.isFile()) total += await stat(p).then((s) => s.size, () => 0);
  }
  return total;
}

/** GET <url><path> as JSON with a deadline; throws with the status and body on a non-2xx answer. */
export async function getJson<T = Record<string, unknown>>(url: string, path: string, timeoutMs = 3_000): Promise<T> {
  const res = await fetch(url + path, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** POST one JSON body to <url>/v1/entries; the HTTP status and parsed body (null if not JSON). */
export async function postEntries(url: string, body: unknown, timeoutMs = 5_000): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const res = await fetch(url + '/v1/entries', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> | null = null;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

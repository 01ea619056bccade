// The devnet's peer processes: one `cairn start --config <file> --stop-with-stdin` per
// organization, each in its own process group, stdout/stderr appended to <dir>/logs/<org>.log;
// the wait until every peer answers GET /v1/status, sees all the others and has a quorum; and
// stopping them (SIGTERM to each process group, SIGKILL after STOP_GRACE_MS). If the launcher
// dies, even by SIGKILL, each peer sees its stdin pipe close and stops itself, so no orphan runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CairnClient, type CairnCredentials } from '../src/client/index.js';
import { peerMemoryEnv } from '../node/peer/v8-memory.js';
import { DevnetError, READY_STALL_MS, READY_TOTAL_MS_MAX, shown, sleep, STOP_GRACE_MS, tail, type DevnetPeer } from './common.js';

/** The default peer command: `cairn start` of the build (or source tree, under tsx) this file belongs to. */
export function defaultPeerCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    // Running from source (tsx): devnet/launch.ts → node/cli/main.ts. tsx resolved here, since the
    // peers run with the devnet dir as working directory.
    return [process.execPath, '--import', import.meta.resolve('tsx'), resolve(dirname(here), '../node/cli/main.ts'), 'start'];
  }
  // dist/devnet/launch.js → dist/node/cli/main.js
  return [process.execPath, resolve(dirname(here), '../node/cli/main.js'), 'start'];
}

/** Resolves when `port` on 127.0.0.1 can be bound (then releases it); rejects naming the port. */
export function checkPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => {
      reject(new DevnetError('port_in_use', `${what} port ${port} on 127.0.0.1 is not free (${e.code ?? e.message}): is another devnet running? Choose other ports with --base-port`));
    });
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolvePort()));
  });
}

/**
 * The error for a peer that exited before it answered. A port taken by another program between
 * checkPortFree and the peer's own listen shows only in the peer's log (EADDRINUSE); it is reported
 * as 'port_in_use', like a port found busy by the check, so the caller can choose other ports.
 */
export function startupExitError(name: string, r: { code: number | null; signal: string | null }, logFile: string, lastLines: string): DevnetError {
  const what = `peer ${name} exited during start-up (code ${r.code}, signal ${r.signal}); last lines of ${logFile}:\n${lastLines}`;
  if (/\bEADDRINUSE\b/.test(lastLines)) return new DevnetError('port_in_use', `${what}\na port it listens on was taken after it was checked: choose other ports with --base-port`);
  return new DevnetError('peer_exited', what);
}

interface Child {
  peer: DevnetPeer;
  /** This process's pid (peer.pid changes when the organization's peer is restarted). */
  pid: number;
  proc: ChildProcess;
  exit: Promise<{ code: number | null; signal: string | null }>;
  exited: boolean;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // Negative pid: the whole process group (the peer was started detached, as group leader).
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export interface PeerView {
  answered: boolean;
  connected: number;
  quorumOk: boolean;
  finalSize: number;
  problem: string | null;
  error?: string;
}

export async function viewOf(url: string, credentials: CairnCredentials): Promise<PeerView> {
  try {
    // Status is an operator's read.
    const s = await new CairnClient({ url, requestTimeoutMs: 3000, credentials }).status();
    return { answered: true, connected: s.peers.filter((p) => p.connected).length, quorumOk: s.quorum.ok, finalSize: s.finalSize, problem: s.problem };
  } catch (e) {
    return { answered: false, connected: 0, quorumOk: false, finalSize: 0, problem: null, error: (e as Error).message };
  }
}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new DevnetError('aborted', 'start-up interrupted; the peers started so far were stopped');
}

/** `p`, or a DevnetError 'aborted' as soon as `signal` aborts (p keeps running; its result is dropped). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DevnetError('aborted', 'start-up interrupted; the peers started so far were stopped'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Waits until every peer answers, is connected to all others and has a quorum (progress-derived deadline). */
async function waitReady(children: Child[], operator: CairnCredentials, log: (l: string) => void, signal?: AbortSignal): Promise<void> {
  const n = children.length;
  const started = Date.now();
  let lastProgress = Date.now();
  let best = -1;
  for (;;) {
    checkAborted(signal);
    const dead = children.find((c) => c.exited);
    if (dead !== undefined) {
      const r = await dead.exit;
      throw startupExitError(dead.peer.name, r, dead.peer.logFile, await tail(dead.peer.logFile, 15));
    }
    const views = await Promise.all(children.map((c) => viewOf(c.peer.url, operator)));
    const score = views.reduce((s, v) => s + (v.answered ? 1 : 0) + v.connected + (v.quorumOk ? 1 : 0), 0);
    if (score > best) {
      best = score;
      lastProgress = Date.now();
    }
    if (views.every((v) => v.answered && v.quorumOk && v.connected === n - 1)) {
      log(`all ${n} peers connected with a quorum after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return;
    }
    const now = Date.now();
    if (now - lastProgress > READY_STALL_MS || now - started > READY_TOTAL_MS_MAX) {
      const states = views
        .map((v, i) => `${children[i]!.peer.name}: ${v.answered ? `answering, ${v.connected}/${n - 1} connected, quorum ${v.quorumOk ? 'ok' : 'missing'}` : `not answering (${v.error})`}`)
        .join('; ');
      throw new DevnetError('not_ready', `the devnet did not become ready (no progress for ${Math.round((now - lastProgress) / 1000)} s): ${states}; logs in ${dirname(children[0]!.peer.logFile)}`);
    }
    await sleep(300);
  }
}

export interface LaunchOptions {
  /** The devnet dir: the peers' working directory. */
  dir: string;
  /** Command that runs a peer; `--config <file> --stop-with-stdin` is appended. */
  command: string[];
  env?: Record<string, string>;
  /** The operator's credentials (status reads). */
  operator: CairnCredentials;
  log: (line: string) => void;
  cwd: string;
}

export interface Launched {
  /** Resolves when a peer process exits while the devnet is supposed to be running. */
  exited: Promise<{ name: string; code: number | null; signal: string | null }>;
  stop(): Promise<void>;
  stopPeer(name: string): Promise<void>;
  startPeer(name: string): Promise<void>;
}

/** Starts every peer and waits until the network is ready; on any failure the peers started so far are stopped. */
export async function launchPeers(peers: DevnetPeer[], o: LaunchOptions, signal?: AbortSignal): Promise<Launched> {
  // The current process of each organization (replaced by startPeer after a stopPeer).
  const children = new Map<string, Child>();
  /** Organizations stopped on purpose (stopPeer): their exit is not a crash. */
  const expectedExit = new Set<string>();
  let stopping = false;
  let resolveExited!: (v: { name: string; code: number | null; signal: string | null }) => void;
  const exited = new Promise<{ name: string; code: number | null; signal: string | null }>((r) => (resolveExited = r));

  /** SIGTERM to the child's process group, SIGKILL after STOP_GRACE_MS; resolves once it exited. */
  const terminate = async (c: Child): Promise<void> => {
    if (!c.exited) killGroup(c.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (!c.exited) killGroup(c.pid, 'SIGKILL');
    }, STOP_GRACE_MS);
    await c.exit;
    clearTimeout(timer);
    // A peer's own children (none today) would share its group: make sure the group is gone.
    killGroup(c.pid, 'SIGKILL');
  };
  const stop = async (): Promise<void> => {
    stopping = true;
    process.off('exit', killAllNow);
    await Promise.all([...children.values()].map(terminate));
  };
  // Last resort if the launcher exits without stop() (uncaught exception, process.exit): kill synchronously.
  const killAllNow = () => {
    for (const c of children.values()) if (!c.exited) killGroup(c.pid, 'SIGKILL');
  };
  process.on('exit', killAllNow);

  const spawnPeer = (p: DevnetPeer): Child => {
    const fd = openSync(p.logFile, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(o.command[0]!, [...o.command.slice(1), '--config', p.configFile, '--stop-with-stdin'], {
        cwd: o.dir,
        detached: true, // own process group: Ctrl-C in the terminal reaches only the launcher, which stops peers in order
        stdio: ['pipe', fd, fd],
        // The memory settings read at process start (peerMemoryEnv; docs/peer.md, Memory).
        env: { ...process.env, ...peerMemoryEnv(process.env), CAIRN_STATUS_INTERVAL_MS: '10000', ...(o.env ?? {}) },
      });
    } finally {
      closeSync(fd);
    }
    if (proc.pid === undefined) throw new DevnetError('spawn_failed', `cannot start ${o.command[0]} for ${p.name}`);
    p.pid = proc.pid;
    const child: Child = {
      peer: p,
      pid: proc.pid,
      proc,
      exited: false,
      exit: new Promise((r) => {
        proc.once('exit', (code, sig) => {
          child.exited = true;
          if (!stopping && !expectedExit.has(p.name)) resolveExited({ name: p.name, code, signal: sig });
          r({ code, signal: sig });
        });
        proc.once('error', () => {
          child.exited = true;
          r({ code: null, signal: null });
        });
      }),
    };
    // Our end of the stdin pipe stays open for the peer's lifetime; it closes when we die.
    proc.stdin?.on('error', () => undefined);
    children.set(p.name, child);
    o.log(`started ${p.name} (pid ${p.pid}), log ${shown(p.logFile, o.cwd)}`);
    return child;
  };
  const peerNamed = (name: string): DevnetPeer => {
    const p = peers.find((x) => x.name === name);
    if (p === undefined) throw new DevnetError('bad_option', `no organization named ${name} (have ${peers.map((x) => x.name).join(', ')})`);
    return p;
  };
  const stopPeer = async (name: string): Promise<void> => {
    const c = children.get(peerNamed(name).name);
    if (c === undefined || c.exited) return;
    expectedExit.add(name);
    await terminate(c);
  };
  const startPeer = async (name: string): Promise<void> => {
    const p = peerNamed(name);
    const old = children.get(name);
    if (old !== undefined && !old.exited) throw new DevnetError('bad_option', `${name} is running (pid ${old.pid})`);
    const c = spawnPeer(p);
    // Until it answers, an exit is reported to the caller (below), not as a crash.
    expectedExit.add(name);
    const started = Date.now();
    for (;;) {
      if (c.exited) {
        const r = await c.exit;
        throw startupExitError(name, r, p.logFile, await tail(p.logFile, 15));
      }
      if ((await viewOf(p.url, o.operator)).answered) break;
      if (Date.now() - started > READY_STALL_MS) {
        throw new DevnetError('not_ready', `peer ${name} did not answer ${p.url}/v1/status within ${READY_STALL_MS} ms; see ${p.logFile}`);
      }
      await sleep(200);
    }
    expectedExit.delete(name);
  };

  try {
    for (const p of peers) spawnPeer(p);
    await waitReady([...children.values()], o.operator, o.log, signal);
  } catch (e) {
    await stop();
    throw e;
  }
  return { exited, stop, stopPeer, startPeer };
}

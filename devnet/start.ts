// The one-command devnet: `npm start` (= node dist/devnet/start.js) on a fresh clone brings up a
// Cairn network of N organizations (default 4) on 127.0.0.1 and prints how to use it.
//
// What it does, in order:
//   1. first start only: generates, under the devnet dir (default .devnet/), each organization's
//      signing key (cairn keygen format) and libp2p key, a client key vouched for by org 1, the
//      genesis, the auditor's trust file (origin, verifier keys, quorum) and one config file per
//      peer. Everything is generated in a temporary directory and renamed into place at the end,
//      so an interrupted first start leaves nothing half-made. Later starts reuse the directory
//      (same keys, same genesis, same data: the log survives restarts).
//   2. starts one `cairn start --config <file> --stop-with-stdin` process per organization, each
//      in its own process group, stdout/stderr appended to <dir>/logs/<org>.log;
//   3. waits until every peer answers GET /v1/status, sees all the others connected and has a
//      quorum — with a deadline that moves forward while progress is made (a peer answering, a
//      connection appearing) and fails with each peer's state and the tail of its log otherwise;
//   4. submits a few sample entries through the client SDK (src/client) and waits until final;
//   5. prints each peer's API URL, the trust file and copy-pasteable commands.
// Access control (devnet/auth.ts): an auditor key (.devnet/keys/auditor.pem) and an operator key
// that every peer's policy file trusts; the launcher, the sample submission and the printed
// commands all send them.
// Ctrl-C / SIGTERM stop every peer cleanly (SIGTERM to each process group, SIGKILL after
// STOP_GRACE_MS). If the launcher itself dies, even by SIGKILL, each peer sees its stdin pipe
// close and stops itself (`--stop-with-stdin`), so no orphan keeps running.
//
// startDevnet(opts) is the same start-up path as a function; the acceptance tests use it.
import '../node/polyfills.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CairnClient, type CairnCredentials } from '../src/client/index.js';
import { privateKeyToPem } from '../src/crypto/keys.js';
import { nodeSigner } from '../src/crypto/node.js';
import { randomSeed, publicKeyFromSeed } from '../src/crypto/noble.js';
import { toHex } from '../src/encoding/bytes.js';
import { formatTrustFile, parseTrustFile } from '../src/verifier/index.js';
import { keygen } from '../node/cli/keygen.js';
import { generateP2PKeyFile } from '../node/peer/config.js';
import { buildGenesis, formatGenesis, loadGenesis, type Genesis } from '../node/peer/genesis.js';
import { ensureDevnetAuth, type DevnetAuth } from './auth.js';

/** Most organizations a devnet runs (each is a process on this machine). */
export const DEVNET_ORGS_MAX = 16;
/** HTTP port of org i (1-based) = basePort + i; libp2p port = basePort + P2P_PORT_OFFSET + i. */
export const P2P_PORT_OFFSET = 100;
export const DEFAULT_BASE_PORT = 8400;
export const DEFAULT_ORGS = 4;
export const DEFAULT_DIR = '.devnet';
export const DEVNET_ORIGIN = 'cairn.example/devnet';
/** Sample entries submitted on every start. */
export const DEFAULT_SAMPLES = 3;
/** Time a peer gets to stop after SIGTERM before its process group is killed. */
export const STOP_GRACE_MS = 10_000;
/** The readiness wait fails when nothing progressed for this long. */
export const READY_STALL_MS = 45_000;
/** ... and in any case after this long. */
export const READY_TOTAL_MS_MAX = 240_000;
/** The sample entries must be final within this long. */
export const SAMPLES_FINAL_MS = 60_000;
const CLIENT_NAME = 'devnet-client';
const SETTINGS_FILE = 'devnet.json';

export interface DevnetOptions {
  /** Devnet directory (default .devnet, relative to cwd). */
  dir?: string;
  /** Number of organizations (default 4, 1..DEVNET_ORGS_MAX). */
  orgs?: number;
  /** Ports: HTTP basePort+1..basePort+N, libp2p basePort+101..basePort+100+N (default 8400). */
  basePort?: number;
  /** Sample entries to submit once ready (default 3; 0 = none). */
  samples?: number;
  /** Command that runs a peer; `--config <file> --stop-with-stdin` is appended. Default: this build's `cairn start`. */
  peerCommand?: string[];
  /** Extra environment for the peers. */
  env?: Record<string, string>;
  /** Progress messages (default: none). */
  log?: (line: string) => void;
  /** Directory relative paths are shown against (default process.cwd()). */
  cwd?: string;
  /** Aborting it during start-up stops the peers started so far, cleanly, and rejects with DevnetError 'aborted'. */
  signal?: AbortSignal;
}

export interface DevnetPeer {
  name: string;
  url: string;
  httpPort: number;
  p2pPort: number;
  configFile: string;
  logFile: string;
  pid: number;
}

export interface Devnet {
  dir: string;
  origin: string;
  quorum: number;
  peers: DevnetPeer[];
  urls: string[];
  trustFile: string;
  genesisFile: string;
  clientKeyFile: string;
  /** The auditor and operator keys every peer's policy trusts, and the policy files. */
  auth: DevnetAuth;
  /** Leaf hashes of the sample entries submitted by this start (all final). */
  samples: string[];
  /** Whether this start generated the keys and genesis (false: reused). */
  created: boolean;
  /** Copy-pasteable commands that work against this devnet. */
  commands: string[];
  /** Resolves when a peer process exits while the devnet is supposed to be running. */
  exited: Promise<{ name: string; code: number | null; signal: string | null }>;
  /** Stops every peer (SIGTERM to each process group, SIGKILL after STOP_GRACE_MS). Idempotent. */
  stop(): Promise<void>;
  /** Stops one organization's peer (for operations and tests); its exit is not reported in `exited`. */
  stopPeer(name: string): Promise<void>;
  /**
   * Starts a stopped organization's peer again; resolves once it answers /v1/status, rejects with
   * DevnetError 'peer_exited' (and the tail of its log) if it exits first, e.g. refusing a corrupt store.
   */
  startPeer(name: string): Promise<void>;
}

export class DevnetError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DevnetError';
  }
}

interface Settings {
  version: 1;
  orgs: number;
  basePort: number;
}

function orgName(i: number): string {
  return `org${i}.devnet`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The default peer command: `cairn start` of the build (or source tree, under tsx) this file belongs to. */
export function defaultPeerCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    // Running from source (tsx): devnet/start.ts → node/cli/main.ts. tsx resolved here, since the
    // peers run with the devnet dir as working directory.
    return [process.execPath, '--import', import.meta.resolve('tsx'), resolve(dirname(here), '../node/cli/main.ts'), 'start'];
  }
  // dist/devnet/start.js → dist/node/cli/main.js
  return [process.execPath, resolve(dirname(here), '../node/cli/main.js'), 'start'];
}

function checkOptions(opts: DevnetOptions): { orgs: number | undefined; basePort: number | undefined; samples: number } {
  const { orgs, basePort } = opts;
  if (orgs !== undefined && (!Number.isInteger(orgs) || orgs < 1 || orgs > DEVNET_ORGS_MAX)) {
    throw new DevnetError('bad_option', `--orgs must be an integer in 1..${DEVNET_ORGS_MAX} (DEVNET_ORGS_MAX)`);
  }
  if (basePort !== undefined && (!Number.isInteger(basePort) || basePort < 1024 || basePort + P2P_PORT_OFFSET + DEVNET_ORGS_MAX > 65535)) {
    throw new DevnetError('bad_option', `--base-port must be an integer in 1024..${65535 - P2P_PORT_OFFSET - DEVNET_ORGS_MAX}`);
  }
  const samples = opts.samples ?? DEFAULT_SAMPLES;
  if (!Number.isInteger(samples) || samples < 0 || samples > 1000) throw new DevnetError('bad_option', '--samples must be an integer in 0..1000');
  return { orgs, basePort, samples };
}

/** Generates keys, genesis, trust file and configs into `dir` (which must not exist yet). */
async function generate(dir: string, orgs: number, basePort: number): Promise<void> {
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(tmp, 'keys'), { recursive: true, mode: 0o700 });
  try {
    const io = { stdout: () => undefined, stderr: () => undefined, cwd: tmp };
    const validators = [];
    const keys = [];
    for (let i = 1; i <= orgs; i++) {
      const name = orgName(i);
      const k = await keygen(io, name, 'keys');
      const p2p = await generateP2PKeyFile(join(tmp, 'keys', `${name}.p2p`));
      validators.push({ name, verifierKey: k.verifierKey, peerId: p2p.peerId, addrs: [`/ip4/127.0.0.1/tcp/${basePort + P2P_PORT_OFFSET + i}`] });
      keys.push(k.verifierKey);
    }
    const clientSeed = randomSeed();
    await writeFile(join(tmp, 'keys', 'client.pem'), privateKeyToPem(clientSeed), { mode: 0o600 });
    const genesis = buildGenesis({
      origin: DEVNET_ORIGIN,
      validators,
      clients: [{ name: CLIENT_NAME, publicKey: toHex(publicKeyFromSeed(clientSeed)), vouchedBy: orgName(1) }],
    });
    await writeFile(join(tmp, 'genesis.json'), formatGenesis(genesis));
    const trust = parseTrustFile(JSON.stringify({ origin: genesis.origin, quorum: genesis.quorum, keys }));
    if (!trust.ok) throw new DevnetError('internal', `generated trust file is invalid: ${trust.message}`);
    await writeFile(join(tmp, 'trust.json'), formatTrustFile(trust.trust));
    for (let i = 1; i <= orgs; i++) {
      const name = orgName(i);
      await mkdir(join(tmp, 'peers', name), { recursive: true });
      // Paths relative to the config file's directory, so the devnet dir can be moved.
      const config = {
        dataDir: 'data',
        genesis: '../../genesis.json',
        signingKey: `../../keys/${name}.key`,
        p2pKey: `../../keys/${name}.p2p`,
        listen: [`/ip4/127.0.0.1/tcp/${basePort + P2P_PORT_OFFSET + i}`],
        http: `127.0.0.1:${basePort + i}`,
        logLevel: 'info',
      };
      await writeFile(join(tmp, 'peers', name, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    }
    await mkdir(join(tmp, 'logs'), { recursive: true });
    const settings: Settings = { version: 1, orgs, basePort };
    await writeFile(join(tmp, SETTINGS_FILE), JSON.stringify(settings, null, 2) + '\n');
    await mkdir(dirname(dir), { recursive: true });
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

async function readSettings(dir: string): Promise<Settings> {
  let s: Settings;
  try {
    s = JSON.parse(await readFile(join(dir, SETTINGS_FILE), 'utf8')) as Settings;
  } catch (e) {
    throw new DevnetError('bad_dir', `${dir} exists but ${SETTINGS_FILE} is unreadable (${(e as Error).message}); delete the directory to start a fresh devnet`);
  }
  if (s?.version !== 1 || !Number.isInteger(s.orgs) || !Number.isInteger(s.basePort)) {
    throw new DevnetError('bad_dir', `${join(dir, SETTINGS_FILE)} is not a devnet settings file; delete ${dir} to start a fresh devnet`);
  }
  return s;
}

/** Resolves when `port` on 127.0.0.1 can be bound (then releases it); rejects naming the port. */
function checkPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => {
      reject(new DevnetError('port_in_use', `${what} port ${port} on 127.0.0.1 is not free (${e.code ?? e.message}): is another devnet running? Choose other ports with --base-port`));
    });
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolvePort()));
  });
}

async function tail(path: string, lines: number): Promise<string> {
  try {
    const t = await readFile(path, 'utf8');
    return t.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface PeerView {
  answered: boolean;
  connected: number;
  quorumOk: boolean;
  finalSize: number;
  problem: string | null;
  error?: string;
}

async function viewOf(url: string, credentials: CairnCredentials): Promise<PeerView> {
  try {
    // Status is an operator's read.
    const s = await new CairnClient({ url, requestTimeoutMs: 3000, credentials }).status();
    return { answered: true, connected: s.peers.filter((p) => p.connected).length, quorumOk: s.quorum.ok, finalSize: s.finalSize, problem: s.problem };
  } catch (e) {
    return { answered: false, connected: 0, quorumOk: false, finalSize: 0, problem: null, error: (e as Error).message };
  }
}

/** Waits until every peer answers, is connected to all others and has a quorum (progress-derived deadline). */
function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new DevnetError('aborted', 'start-up interrupted; the peers started so far were stopped');
}

/** `p`, or a DevnetError 'aborted' as soon as `signal` aborts (p keeps running; its result is dropped). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DevnetError('aborted', 'start-up interrupted; the peers started so far were stopped'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

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
      throw new DevnetError(
        'peer_exited',
        `peer ${dead.peer.name} exited during start-up (code ${r.code}, signal ${r.signal}); last lines of ${dead.peer.logFile}:\n${await tail(dead.peer.logFile, 15)}`,
      );
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

function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** Submits `count` sample entries through the SDK, round-robin over the peers, and waits until each is final. */
async function submitSamples(urls: string[], clientKeyFile: string, count: number, auth: DevnetAuth): Promise<string[]> {
  const { parsePrivateKey } = await import('../src/crypto/keys.js');
  const k = parsePrivateKey(await readFile(clientKeyFile, 'utf8'));
  if (!k.ok) throw new DevnetError('bad_dir', `client key ${clientKeyFile}: ${k.message}`);
  const signer = nodeSigner(k.value.seed);
  const stamp = Date.now().toString(36);
  const submitted = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      // Submitting is open; waiting for finality reads the entry back (an auditor's read).
      const client = new CairnClient({ url: urls[i % urls.length]!, credentials: auth.auditor });
      const r = await client.signAndSubmit(
        {
          v: 1,
          id: `devnet-sample-${stamp}-${i + 1}`,
          time: new Date().toISOString(),
          actor: { id: 'alice@example.com', type: 'user' },
          action: 'devnet.sample',
          resource: { type: 'devnet', id: `sample-${i + 1}` },
          outcome: 'success',
          data: { note: 'submitted by the devnet launcher' },
        },
        signer,
      );
      return { client, leafHash: r.leafHash };
    }),
  );
  try {
    await Promise.all(submitted.map((s) => s.client.waitFinal(s.leafHash, { timeoutMs: SAMPLES_FINAL_MS })));
  } catch (e) {
    // Say what each peer was doing: the usual causes are a stalled consensus or a peer cut off.
    const views = await Promise.all(urls.map(async (u) => [u, await viewOf(u, auth.operator)] as const));
    const states = views.map(([u, v]) => (v.answered ? `${u}: final size ${v.finalSize}, ${v.connected} connected, quorum ${v.quorumOk ? 'ok' : 'missing'}` : `${u}: ${v.error}`)).join('; ');
    throw new DevnetError('samples_not_final', `sample entries not final within ${SAMPLES_FINAL_MS} ms (${(e as Error).message}); ${states}`);
  }
  return submitted.map((s) => s.leafHash);
}

export async function startDevnet(opts: DevnetOptions = {}): Promise<Devnet> {
  const log = opts.log ?? (() => undefined);
  const cwd = opts.cwd ?? process.cwd();
  const checked = checkOptions(opts);
  const dir = resolve(cwd, opts.dir ?? DEFAULT_DIR);

  let created = false;
  if (!(await exists(join(dir, SETTINGS_FILE)))) {
    if (await exists(dir)) throw new DevnetError('bad_dir', `${dir} exists but is not a devnet directory (no ${SETTINGS_FILE}); choose another --dir or delete it`);
    const orgs = checked.orgs ?? DEFAULT_ORGS;
    const basePort = checked.basePort ?? DEFAULT_BASE_PORT;
    log(`generating keys and a genesis for ${orgs} organizations in ${shown(dir, cwd)}`);
    await generate(dir, orgs, basePort);
    created = true;
  }
  const settings = await readSettings(dir);
  if (checked.orgs !== undefined && checked.orgs !== settings.orgs) {
    throw new DevnetError('bad_option', `${shown(dir, cwd)} holds a devnet of ${settings.orgs} organizations; use --orgs ${settings.orgs}, or another --dir for a different network`);
  }
  if (checked.basePort !== undefined && checked.basePort !== settings.basePort) {
    throw new DevnetError('bad_option', `${shown(dir, cwd)} was created with --base-port ${settings.basePort} (the ports are in its genesis); use that, or another --dir`);
  }
  const genesisFile = join(dir, 'genesis.json');
  let genesis: Genesis;
  try {
    genesis = await loadGenesis(genesisFile);
  } catch (e) {
    throw new DevnetError('bad_dir', `${genesisFile}: ${(e as Error).message}; delete ${dir} to start a fresh devnet`);
  }
  if (!created) log(`reusing the devnet in ${shown(dir, cwd)} (${settings.orgs} organizations)`);

  const peers: DevnetPeer[] = [];
  for (let i = 1; i <= settings.orgs; i++) {
    const name = orgName(i);
    const httpPort = settings.basePort + i;
    const p2pPort = settings.basePort + P2P_PORT_OFFSET + i;
    peers.push({
      name,
      url: `http://127.0.0.1:${httpPort}`,
      httpPort,
      p2pPort,
      configFile: join(dir, 'peers', name, 'config.json'),
      logFile: join(dir, 'logs', `${name}.log`),
      pid: 0,
    });
  }
  const auth = await ensureDevnetAuth(dir, peers.map((p) => p.name));
  for (const p of peers) {
    await checkPortFree(p.httpPort, `${p.name} HTTP`);
    await checkPortFree(p.p2pPort, `${p.name} libp2p`);
  }

  const command = opts.peerCommand ?? defaultPeerCommand();
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
      proc = spawn(command[0]!, [...command.slice(1), '--config', p.configFile, '--stop-with-stdin'], {
        cwd: dir,
        detached: true, // own process group: Ctrl-C in the terminal reaches only the launcher, which stops peers in order
        stdio: ['pipe', fd, fd],
        env: { ...process.env, CAIRN_STATUS_INTERVAL_MS: '10000', ...(opts.env ?? {}) },
      });
    } finally {
      closeSync(fd);
    }
    if (proc.pid === undefined) throw new DevnetError('spawn_failed', `cannot start ${command[0]} for ${p.name}`);
    p.pid = proc.pid;
    const child: Child = {
      peer: p,
      pid: proc.pid,
      proc,
      exited: false,
      exit: new Promise((r) => {
        proc.once('exit', (code, signal) => {
          child.exited = true;
          if (!stopping && !expectedExit.has(p.name)) resolveExited({ name: p.name, code, signal });
          r({ code, signal });
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
    log(`started ${p.name} (pid ${p.pid}), log ${shown(p.logFile, cwd)}`);
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
        throw new DevnetError('peer_exited', `peer ${name} exited during start-up (code ${r.code}, signal ${r.signal}); last lines of ${p.logFile}:\n${await tail(p.logFile, 15)}`);
      }
      if ((await viewOf(p.url, auth.operator)).answered) break;
      if (Date.now() - started > READY_STALL_MS) {
        throw new DevnetError('not_ready', `peer ${name} did not answer ${p.url}/v1/status within ${READY_STALL_MS} ms; see ${p.logFile}`);
      }
      await sleep(200);
    }
    expectedExit.delete(name);
  };

  try {
    await mkdir(join(dir, 'logs'), { recursive: true });
    for (const p of peers) spawnPeer(p);
    await waitReady([...children.values()], auth.operator, log, opts.signal);
    const clientKeyFile = join(dir, 'keys', 'client.pem');
    let samples: string[] = [];
    checkAborted(opts.signal);
    if (checked.samples > 0) {
      samples = await abortable(submitSamples(peers.map((p) => p.url), clientKeyFile, checked.samples, auth), opts.signal);
      checkAborted(opts.signal);
      log(`${samples.length} sample entries submitted and final`);
    }
    const trustFile = join(dir, 'trust.json');
    const devnet: Devnet = {
      dir,
      origin: genesis.origin,
      quorum: genesis.quorum,
      peers,
      urls: peers.map((p) => p.url),
      trustFile,
      genesisFile,
      clientKeyFile,
      auth,
      samples,
      created,
      commands: [],
      exited,
      stop,
      stopPeer,
      startPeer,
    };
    devnet.commands = exampleCommands(devnet, cwd);
    return devnet;
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Commands a user can paste (paths shown relative to `cwd` when inside it). */
export function exampleCommands(d: Devnet, cwd: string): string[] {
  const key = shown(d.clientKeyFile, cwd);
  const trust = shown(d.trustFile, cwd);
  const u = (i: number) => d.urls[i % d.urls.length]!;
  const hash = d.samples[0] ?? '<leaf-hash printed by submit>';
  // Reads of entries and bundles are an auditor's, status an operator's; checkpoints are public.
  const asAuditor = d.auth === undefined ? '' : ` --auth-key ${shown(d.auth.auditorKeyFile, cwd)}`;
  const asOperator = d.auth === undefined ? '' : ` --auth-key ${shown(d.auth.operatorKeyFile, cwd)}`;
  return [
    `npx cairn submit --peer ${u(0)} --key ${key} --action db.query --actor alice@example.com --resource-type db.table --resource-id payments --wait${asAuditor}`,
    `npx cairn status ${u(1)}${asOperator}`,
    `npx cairn get ${hash} --peer ${u(1)}${asAuditor}`,
    `npx cairn verify checkpoint --peer ${u(2)} --trust ${trust}`,
    `npx cairn verify receipt ${hash} --peer ${u(3)} --trust ${trust}${asAuditor}`,
    `npx cairn receipt ${hash} --peer ${u(3)} --out receipt.tlog-proof --entry-out entry.json${asAuditor}`,
    `npx cairn verify receipt receipt.tlog-proof --entry entry.json --trust ${trust}`,
    `npx cairn audit ${u(2)} --trust ${trust}${asAuditor}`,
    ...(d.auth?.enforced === true ? [`npx cairn auth whoami --peer ${u(0)}${asAuditor}`, `npx cairn auth token --peer ${u(0)}${asAuditor}`] : []),
  ];
}

/** The banner printed once the devnet is up. */
export function formatBanner(d: Devnet, cwd: string): string {
  const lines = [
    '',
    `Cairn devnet is up: ${d.peers.length} organizations, quorum ${d.quorum}, origin ${d.origin}`,
    '',
    ...d.peers.map((p) => `  ${p.name.padEnd(12)} ${p.url}   (pid ${p.pid}, log ${shown(p.logFile, cwd)})`),
    '',
    `  trust file (auditor's trust root: origin, keys, quorum): ${shown(d.trustFile, cwd)}`,
    `  client key (authorized in the genesis, vouched for by ${orgName(1)}): ${shown(d.clientKeyFile, cwd)}`,
    `  genesis: ${shown(d.genesisFile, cwd)}`,
    ...(d.auth !== undefined
      ? [
          `  auditor key (trusted as auditor by every peer: entries, bundles, audit): ${shown(d.auth.auditorKeyFile, cwd)}`,
          `  operator key (trusted as operator: status, metrics): ${shown(d.auth.operatorKeyFile, cwd)}`,
          `  policies: ${shown(dirname(dirname(d.auth.policyFiles[0] ?? d.dir)), cwd)}/<org>/policy.json${d.auth.enforced ? '' : ' (written; not enforced by this build)'}`,
          `  read with: --auth-key ${shown(d.auth.auditorKeyFile, cwd)} (or CAIRN_AUTH_KEY=${shown(d.auth.auditorKeyFile, cwd)})`,
        ]
      : []),
    ...(d.samples.length > 0 ? [`  sample entries (final): ${d.samples.join(', ')}`] : []),
    '',
    'Try (from this directory):',
    ...d.commands.map((c) => `  ${c}`),
    '',
    'Press Ctrl-C to stop the devnet (the keys, genesis and log stay in the devnet dir for the next start).',
    '',
  ];
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { Command, CommanderError } = await import('commander');
  const program = new Command()
    .name('npm start --')
    .description('start a local Cairn devnet: N organizations, one peer process each, on 127.0.0.1')
    .option('--orgs <n>', `number of organizations (1..${DEVNET_ORGS_MAX}; default ${DEFAULT_ORGS}, or the existing devnet's)`)
    .option('--base-port <port>', `HTTP ports base+1..base+N, libp2p ports base+${P2P_PORT_OFFSET + 1}.. (default ${DEFAULT_BASE_PORT})`)
    .option('--dir <dir>', `devnet directory, reused on the next start (default ${DEFAULT_DIR})`)
    .option('--samples <n>', `sample entries to submit once up (default ${DEFAULT_SAMPLES})`)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError && (e.code === 'commander.helpDisplayed' || e.code === 'commander.version')) return 0;
    process.stderr.write(`devnet: ${(e as Error).message.replace(/^error:\s*/i, '')}\n`);
    return 2;
  }
  const o = program.opts<{ orgs?: string; basePort?: string; dir?: string; samples?: string }>();
  const num = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d{1,6}$/.test(v)) throw new DevnetError('bad_option', `${flag} must be a number, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  let devnet: Devnet;
  const say = (l: string) => process.stdout.write(`devnet: ${l}\n`);
  let interrupted = false;
  let stopNow: (() => Promise<void>) | null = null;
  // During start-up a signal aborts startDevnet, which stops the peers started so far cleanly.
  const abort = new AbortController();
  const onSignal = (sig: string) => {
    if (interrupted) return;
    interrupted = true;
    say(`${sig}: stopping every peer...`);
    if (stopNow !== null) void stopNow().then(() => process.exit(0));
    else abort.abort();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  try {
    const orgs = num(o.orgs, '--orgs');
    const basePort = num(o.basePort, '--base-port');
    const samples = num(o.samples, '--samples');
    devnet = await startDevnet({
      ...(o.dir !== undefined ? { dir: o.dir } : {}),
      ...(orgs !== undefined ? { orgs } : {}),
      ...(basePort !== undefined ? { basePort } : {}),
      ...(samples !== undefined ? { samples } : {}),
      log: say,
      signal: abort.signal,
    });
  } catch (e) {
    if (interrupted) {
      say('stopped');
      return 130;
    }
    process.stderr.write(`devnet: ${(e as Error).message}\n`);
    return 1;
  }
  stopNow = devnet.stop;
  if (interrupted) {
    await devnet.stop();
    return 130;
  }
  process.stdout.write(formatBanner(devnet, process.cwd()) + '\n');
  const crashed = await devnet.exited;
  if (interrupted) return new Promise<number>(() => undefined); // onSignal exits when the stop completes
  process.stderr.write(`devnet: peer ${crashed.name} exited unexpectedly (code ${crashed.code}, signal ${crashed.signal}); see its log. Stopping the others.\n`);
  await devnet.stop();
  return 1;
}

const invokedDirectly = process.argv[1] !== undefined && /[/\\]devnet[/\\]start\.(js|ts)$/.test(process.argv[1]);
if (invokedDirectly) {
  const code = await main(process.argv.slice(2));
  process.exit(code);
}

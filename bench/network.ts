// The benchmark network: N organizations' peers as real, separate OS processes on 127.0.0.1,
// each started through the peer program's own entry (node/peer/main.ts, compiled to
// dist/node/peer/main.js) from generated genesis, keys and config files in a bench directory.
//
// Every child is started detached (its own process group) so that stop/kill reach everything it
// spawned, and killAll() is wired to exit/SIGINT/SIGTERM by run.ts: no peer outlives the bench.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { formatSignerKey, formatVerifierKey } from '../src/checkpoint/keys.js';
import { publicKeyFromSeed } from '../src/crypto/noble.js';
import { toHex } from '../src/encoding/bytes.js';
import { buildGenesis, formatGenesis, type BuildGenesisInput, type Genesis } from '../node/peer/genesis.js';
import { formatP2PKey, p2pKeyFromSeed } from '../node/peer/config.js';
import { peerMemoryEnv } from '../node/peer/v8-memory.js';
import { codeRoot, nodeEntryArgs } from './paths.js';
import { benchPolicy, type BenchAuthConfig, type BenchAuthMode } from './auth.js';

/** Most peers a bench network runs (the reference runs use 4, 7 and 10). */
export const BENCH_PEERS_MAX = 16;
/** Most client keys put into the bench genesis (the genesis allows 10,000). */
export const BENCH_CLIENTS_MAX = 4096;
/** Lines of peer output kept per process (for diagnostics when something fails). */
const LINES_KEPT_MAX = 200;

export interface BenchClientKey {
  name: string;
  seedHex: string;
  publicKeyHex: string;
}

export interface BenchPeerSpec {
  name: string;
  dir: string;
  dataDir: string;
  configPath: string;
  p2pPort: number;
  httpPort: number;
  url: string;
}

export interface BenchNetworkSpec {
  dir: string;
  genesis: Genesis;
  genesisPath: string;
  trustPath: string;
  trustJson: string;
  peers: BenchPeerSpec[];
  clients: BenchClientKey[];
  /** With an access policy: the bench key (auditor + operator roles) and its key file (seed hex, for the CLI). */
  auth: { config: BenchAuthConfig; keyPath: string; policyPath: string; metaAudit: boolean } | null;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Writes genesis (validators + `clients` authorized client keys), per-peer keys and configs.
 * Keys are random per run: a bench directory is never reused across runs.
 */
/**
 * `auth` other than 'none' gives every peer the same access policy (one bench key with an auditor
 * and an operator role, fresh per run); `metaAudit` also records every restricted read in the
 * log through each organization's `<org>-meta-audit` genesis client, as a deployment would.
 */
export async function writeNetwork(dir: string, opts: { peers: number; clients: number; limits?: BuildGenesisInput['limits']; auth?: BenchAuthMode; metaAudit?: boolean }): Promise<BenchNetworkSpec> {
  if (!Number.isInteger(opts.peers) || opts.peers < 1 || opts.peers > BENCH_PEERS_MAX) throw new RangeError(`peers must be 1..${BENCH_PEERS_MAX} (BENCH_PEERS_MAX)`);
  if (!Number.isInteger(opts.clients) || opts.clients < 1 || opts.clients > BENCH_CLIENTS_MAX) throw new RangeError(`clients must be 1..${BENCH_CLIENTS_MAX} (BENCH_CLIENTS_MAX)`);
  await mkdir(dir, { recursive: true });
  const orgs: { name: string; seed: Uint8Array; p2pSeed: Uint8Array; peerId: string; verifierKey: string; p2pPort: number; httpPort: number }[] = [];
  const usedPorts = new Set<number>();
  const port = async () => {
    for (let i = 0; i < 100; i++) {
      const p = await freePort();
      if (!usedPorts.has(p)) {
        usedPorts.add(p);
        return p;
      }
    }
    throw new Error('no free port found in 100 attempts');
  };
  for (let i = 0; i < opts.peers; i++) {
    const name = `org${i}.bench`;
    const seed = new Uint8Array(randomBytes(32));
    const p2pSeed = new Uint8Array(randomBytes(32));
    const { peerId } = await p2pKeyFromSeed(p2pSeed);
    orgs.push({ name, seed, p2pSeed, peerId, verifierKey: formatVerifierKey(name, publicKeyFromSeed(seed)), p2pPort: await port(), httpPort: await port() });
  }
  const clients: BenchClientKey[] = [];
  for (let i = 0; i < opts.clients; i++) {
    const seed = new Uint8Array(randomBytes(32));
    clients.push({ name: `client${i}`, seedHex: toHex(seed), publicKeyHex: toHex(publicKeyFromSeed(seed)) });
  }
  const authMode = opts.auth ?? 'none';
  const metaAudit = authMode !== 'none' && opts.metaAudit === true;
  // The meta-audit clients: one per organization, named <org>-meta-audit, vouched by it.
  const metaSeeds = metaAudit ? orgs.map(() => new Uint8Array(randomBytes(32))) : [];
  const metaClients = metaSeeds.map((seed, i) => ({ name: `${orgs[i]!.name}-meta-audit`, publicKey: toHex(publicKeyFromSeed(seed)), vouchedBy: orgs[i]!.name }));
  const genesis = buildGenesis({
    origin: 'cairn.example/bench',
    validators: orgs.map((o) => ({ name: o.name, verifierKey: o.verifierKey, peerId: o.peerId, addrs: [`/ip4/127.0.0.1/tcp/${o.p2pPort}`] })),
    clients: [...clients.map((c, i) => ({ name: c.name, publicKey: c.publicKeyHex, vouchedBy: orgs[i % orgs.length]!.name })), ...metaClients],
    ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
  });
  const genesisPath = join(dir, 'genesis.json');
  await writeFile(genesisPath, formatGenesis(genesis));
  const trustJson = JSON.stringify({ origin: genesis.origin, quorum: genesis.quorum, keys: orgs.map((o) => o.verifierKey) }, null, 2) + '\n';
  const trustPath = join(dir, 'trust.json');
  await writeFile(trustPath, trustJson);
  let auth: BenchNetworkSpec['auth'] = null;
  if (authMode !== 'none') {
    const { config, policy } = benchPolicy();
    const policyPath = join(dir, 'policy.json');
    await writeFile(policyPath, JSON.stringify(policy, null, 2) + '\n');
    // The CLI reads a 64-hex-digit seed as a key file (its name comes from CAIRN_AUTH_KEY_NAME).
    const keyPath = join(dir, 'bench-auth.key');
    await writeFile(keyPath, config.seedHex + '\n', { mode: 0o600 });
    auth = { config: { ...config, mode: authMode }, keyPath, policyPath, metaAudit };
  }
  const peers: BenchPeerSpec[] = [];
  for (const [oi, o] of orgs.entries()) {
    const pdir = join(dir, o.name);
    await mkdir(join(pdir, 'data'), { recursive: true });
    await writeFile(join(pdir, 'signing.key'), formatSignerKey(o.name, o.seed) + '\n', { mode: 0o600 });
    await writeFile(join(pdir, 'p2p.key'), formatP2PKey(o.p2pSeed), { mode: 0o600 });
    const cfg = {
      dataDir: 'data',
      genesis: genesisPath,
      signingKey: 'signing.key',
      p2pKey: 'p2p.key',
      listen: [`/ip4/127.0.0.1/tcp/${o.p2pPort}`],
      http: `127.0.0.1:${o.httpPort}`,
      logLevel: 'info',
      ...(auth !== null ? { auth: { policy: auth.policyPath, ...(metaAudit ? { metaAuditKey: 'meta-audit.key' } : {}) } } : {}),
    };
    if (metaAudit) await writeFile(join(pdir, 'meta-audit.key'), formatSignerKey(metaClients[oi]!.name, metaSeeds[oi]!) + '\n', { mode: 0o600 });
    const configPath = join(pdir, 'config.json');
    await writeFile(configPath, JSON.stringify(cfg, null, 2) + '\n');
    peers.push({ name: o.name, dir: pdir, dataDir: join(pdir, 'data'), configPath, p2pPort: o.p2pPort, httpPort: o.httpPort, url: `http://127.0.0.1:${o.httpPort}` });
  }
  return { dir, genesis, genesisPath, trustPath, trustJson, peers, clients, auth };
}

export interface PeerProcess {
  spec: BenchPeerSpec;
  proc: ChildProcess;
  pid: number;
  lines: string[];
  exited: Promise<number | null>;
  alive: boolean;
}

const running = new Set<PeerProcess>();

/**
 * Starts one peer process. `cpuProfDir` adds `--cpu-prof` (V8 writes the profile when the
 * process exits cleanly, i.e. after stopPeer's SIGTERM).
 */
export function startPeerProcess(spec: BenchPeerSpec, opts: { cpuProfDir?: string; env?: Record<string, string> } = {}): PeerProcess {
  // V8's default profile names carry the pid and thread id: with one fixed name, the module
  // loader thread's profile (run from source, tsx runs one) overwrote the main thread's.
  const prof = opts.cpuProfDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : [];
  const proc = spawn(process.execPath, [...prof, ...nodeEntryArgs('node/peer/main'), '--config', spec.configPath], {
    cwd: codeRoot(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // The memory settings docs/peer.md (Memory) advises operators to start a peer with.
    env: { ...process.env, ...peerMemoryEnv(process.env), CAIRN_STATUS_INTERVAL_MS: '0', CAIRN_LOG_LEVEL: 'warn', ...(opts.env ?? {}) },
  });
  if (proc.pid === undefined) throw new Error(`could not start peer ${spec.name}`);
  const p: PeerProcess = {
    spec,
    proc,
    pid: proc.pid,
    lines: [],
    alive: true,
    exited: new Promise((resolve) => proc.on('exit', (code) => resolve(code))),
  };
  const keep = (s: string) => {
    for (const line of s.split('\n')) {
      if (line.length === 0) continue;
      p.lines.push(line.length > 500 ? line.slice(0, 500) + '…' : line);
      if (p.lines.length > LINES_KEPT_MAX) p.lines.shift();
    }
  };
  proc.stdout!.on('data', (d: Buffer) => keep(d.toString('utf8')));
  proc.stderr!.on('data', (d: Buffer) => keep(`[stderr] ${d.toString('utf8')}`));
  running.add(p);
  void p.exited.then(() => {
    p.alive = false;
    running.delete(p);
  });
  return p;
}

function signalGroup(p: PeerProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(-p.pid, sig);
  } catch {
    // already gone
  }
}

/** Clean stop (SIGTERM; the peer closes HTTP, network and store); SIGKILL after `graceMs`. */
export async function stopPeerProcess(p: PeerProcess, graceMs = 15_000): Promise<number | null> {
  if (!p.alive) return p.exited;
  signalGroup(p, 'SIGTERM');
  const t = setTimeout(() => signalGroup(p, 'SIGKILL'), graceMs);
  const code = await p.exited;
  clearTimeout(t);
  return code;
}

/** Kills every peer still running, at once (for exit paths; synchronous). */
export function killAllPeers(): void {
  for (const p of running) signalGroup(p, 'SIGKILL');
}

/** Stops every running peer cleanly (profiles get written), then kills stragglers. */
export async function stopAllPeers(graceMs = 15_000): Promise<void> {
  await Promise.all([...running].map((p) => stopPeerProcess(p, graceMs)));
}

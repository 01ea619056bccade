// A network of peer PROCESSES for the governance acceptance tests: n organizations, each a
// `node/peer/main.ts` process with the HTTP API on 127.0.0.1 (test/proc/support/peer-procs.ts),
// plus the files the CLI needs in one work directory: each organization's signing key
// (<org>.key), a genesis client key (client.key), the genesis and the auditors' trust file.
// Waits poll /v1/status of every running process, have deadlines, and print every peer's state
// (status summary and last log lines) when they fail.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTrustFile } from '../../../src/verifier/index.js';
import { toHex } from '../../../src/encoding/bytes.js';
import { signEntry } from '../../../src/entry/index.js';
import type { AuditEntry } from '../../../src/entry/types.js';
import { formatGenesis, type Genesis } from '../../../node/peer/genesis.js';
import type { PeerStatus } from '../../../node/peer/peer.js';
import { makeClients, makeGenesis, makeOrgs, type ClientFixture, type OrgFixture } from '../../peer-support/fixtures.js';
import { cli } from '../../unit/support/cli.js';
import { getJson, spawnPeerProc, stopAllPeerProcs, writeHttpPeerFiles, type PeerProc } from './peer-procs.js';

export interface GovNet {
  root: string;
  /** The CLI's working directory: <org>.key, client.key, genesis.json, trust.json. */
  work: string;
  orgs: OrgFixture[];
  clients: ClientFixture[];
  genesis: Genesis;
  procs: (PeerProc | null)[];
  urls: string[];
  configs: string[];
  dirs: string[];
  /** The last /v1/status seen of each process (null before the first answer). */
  last: (PeerStatus | null)[];
}

/** Short consensus timeouts, like the in-process clusters: a lost round costs little. */
const LIMITS = { timeouts: { proposeMs: 1500, prevoteMs: 500, precommitMs: 500, deltaMs: 250 }, blockIntervalMs: 50 };

/** Writes every organization's files and starts the processes of `start` (default: all). */
export async function startGovNet(n: number, label: string, start: number[] = [...Array(n).keys()]): Promise<GovNet> {
  const root = await mkdtemp(join(tmpdir(), `cairn-${label}-`));
  const work = join(root, 'work');
  await mkdir(work, { recursive: true });
  const orgs = await makeOrgs(n, label);
  const clients = makeClients(2, `${label}client`);
  const genesis = makeGenesis(orgs, clients, { limits: LIMITS });
  const net: GovNet = { root, work, orgs, clients, genesis, procs: orgs.map(() => null), urls: [], configs: [], dirs: [], last: orgs.map(() => null) };
  for (let i = 0; i < n; i++) {
    const dir = join(root, `peer${i}`);
    const { config, url } = await writeHttpPeerFiles(dir, genesis, orgs[i]!);
    net.dirs.push(dir);
    net.configs.push(config);
    net.urls.push(url);
    await writeFile(join(work, `${orgs[i]!.name}.key`), orgs[i]!.signerKeyText + '\n');
  }
  await writeFile(join(work, 'client.key'), toHex(clients[0]!.seed) + '\n');
  await writeFile(join(work, 'genesis.json'), formatGenesis(genesis));
  await writeFile(join(work, 'trust.json'), formatTrustFile({ origin: genesis.origin, keys: genesis.validators.map((v) => v.key), quorum: genesis.quorum }));
  for (const i of start) startProc(net, i);
  return net;
}

export function startProc(net: GovNet, i: number): PeerProc {
  const p = spawnPeerProc(`peer${i}`, net.dirs[i]!, net.urls[i]!, 'node/peer/main.ts', ['--config', net.configs[i]!], { CAIRN_STATUS_INTERVAL_MS: '1000' });
  net.procs[i] = p;
  net.last[i] = null;
  return p;
}

export async function stopProc(net: GovNet, i: number): Promise<number | null> {
  const p = net.procs[i];
  if (!p) return null;
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
  const code = await p.exited;
  clearTimeout(timer);
  net.procs[i] = null;
  return code;
}

export async function closeGovNet(net: GovNet | undefined): Promise<void> {
  await stopAllPeerProcs();
  if (net) await rm(net.root, { recursive: true, force: true });
}

/** Every running process's state: status summary, warnings and last log lines. */
export function describeNet(net: GovNet): string {
  return net.procs
    .map((p, i) => {
      if (!p) return `peer${i}: not running`;
      const s = net.last[i] ?? null;
      const sum = s === null ? 'no status yet' : `h=${s.height} size=${s.treeSize} final=${s.finalSize} connected=${s.peers.filter((x) => x.connected).length} quorum=${s.quorum.reachable}/${s.quorum.needed} gov=${JSON.stringify(s.governance ?? null)} problem=${s.problem}`;
      const warns = [...p.warnings].map(([k, v]) => `${k} x${v.count}`).slice(0, 8).join('; ');
      return `peer${i} (exit ${p.exitCode === undefined ? 'running' : p.exitCode}): ${sum}\n    warnings: ${warns}\n${p.lines.slice(-6).map((l) => `    | ${l.slice(0, 300)}`).join('\n')}`;
    })
    .join('\n');
}

/** Polls /v1/status of the processes `idx` every 300 ms until `cond` holds for each; fails after maxMs with every state. */
export async function waitStatus(net: GovNet, idx: number[], what: string, cond: (s: PeerStatus, i: number) => boolean, maxMs = 45_000): Promise<PeerStatus[]> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const got = await Promise.all(
      idx.map(async (i) => {
        try {
          const s = await getJson<PeerStatus>(net.urls[i]!, '/v1/status', 3_000);
          net.last[i] = s;
          return s;
        } catch {
          return null;
        }
      }),
    );
    if (got.every((s, k) => s !== null && cond(s, idx[k]!))) return got as PeerStatus[];
    if (Date.now() > deadline) throw new Error(`timed out after ${maxMs} ms waiting for ${what}\n${describeNet(net)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

let entrySeq = 0;
/** `n` ordinary entries signed by the genesis clients in turn (ids `<tag>-<seq>`, unique per test process). */
export function signedEntries(net: GovNet, n: number, tag: string): AuditEntry[] {
  return Array.from({ length: n }, () => {
    const i = entrySeq++;
    return signEntry(
      { v: 1, id: `${tag}-${i}`, time: new Date().toISOString(), actor: { id: `u${i % 7}@example.com`, type: 'user' }, action: 'db.query', resource: { type: 'db.table', id: `t${i % 5}` }, outcome: 'success' },
      net.clients[i % 2]!.signer,
    );
  });
}

/** Waits until the processes `idx` are connected to each other with a quorum (`others` connections each). */
export async function waitUp(net: GovNet, idx: number[], others = idx.length - 1, maxMs = 60_000): Promise<void> {
  await waitStatus(net, idx, `${idx.length} peer processes connected with a quorum`, (s) => s.peers.filter((p) => p.connected).length >= others && s.problem === null, maxMs);
}

/** Runs the CLI in-process in the work directory; throws with its output unless it exits 0. */
export async function cairn(net: GovNet, args: string[]): Promise<string> {
  const r = await cli(args, { cwd: net.work });
  if (r.code !== 0) throw new Error(`cairn ${args.join(' ')} -> exit ${r.code}\n${r.stderr}\n${r.stdout}\n${describeNet(net)}`);
  return r.stdout;
}

/** Runs the CLI in-process in the work directory and returns the exit code and output. */
export async function cairnRaw(net: GovNet, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return cli(args, { cwd: net.work });
}

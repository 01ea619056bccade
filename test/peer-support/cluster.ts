// In-process peer clusters for the peer acceptance tests: real libp2p on 127.0.0.1, real
// LevelDB in temp dirs. Every wait has a deadline derived from progress and prints each peer's
// status when it fails.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signEntry } from '../../src/entry/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { startPeer, type Peer, type PeerStatus } from '../../node/peer/peer.js';
import type { Genesis, BuildGenesisInput } from '../../node/peer/genesis.js';
import { makeClients, makeGenesis, makeOrgs, type ClientFixture, type OrgFixture } from './fixtures.js';

export interface Cluster {
  genesis: Genesis;
  orgs: OrgFixture[];
  clients: ClientFixture[];
  dirs: string[];
  peers: (Peer | null)[];
  /** warn/error log lines of each peer (index = peer). */
  logs: { level: string; msg: string; obj: Record<string, unknown> }[][];
  start(i: number): Promise<Peer>;
  stop(i: number): Promise<void>;
  close(): Promise<void>;
}

export async function makeCluster(
  n: number,
  opts: { clients?: number; limits?: BuildGenesisInput['limits']; label?: string; extraClients?: (orgs: OrgFixture[]) => ClientFixture[] } = {},
): Promise<Cluster> {
  const orgs = await makeOrgs(n, opts.label ?? 'org');
  // Extra clients come first: makeGenesis vouches client i by organization i mod n.
  const clients = [...(opts.extraClients?.(orgs) ?? []), ...makeClients(opts.clients ?? 4)];
  const genesis = makeGenesis(orgs, clients, { limits: { timeouts: { proposeMs: 1500, prevoteMs: 500, precommitMs: 500, deltaMs: 250 }, blockIntervalMs: 20, ...(opts.limits ?? {}) } });
  const dirs: string[] = [];
  for (let i = 0; i < n; i++) dirs.push(await mkdtemp(join(tmpdir(), `cairn-peer${i}-`)));
  const peers: (Peer | null)[] = new Array(n).fill(null);
  const logs: Cluster['logs'] = orgs.map(() => []);
  const collector = (i: number) => {
    const rec = (level: string) => (obj: Record<string, unknown>, msg: string) => {
      if (logs[i]!.length < 10_000) logs[i]!.push({ level, msg, obj });
    };
    return { debug: process.env.CAIRN_TEST_LOG === 'debug' ? (o: Record<string, unknown>, m: string) => console.log(Date.now() % 1000000, `peer${i}`, m, JSON.stringify(o)) : () => {}, info: process.env.CAIRN_TEST_LOG ? (o: Record<string, unknown>, m: string) => console.log(Date.now() % 1000000, `peer${i}`, m, JSON.stringify(o)) : () => {}, warn: rec('warn'), error: rec('error') };
  };
  const c: Cluster = {
    genesis,
    orgs,
    clients,
    dirs,
    peers,
    logs,
    async start(i) {
      const o = orgs[i]!;
      const p = await startPeer({ genesis, signingSeed: o.seed, p2pKey: o.p2pKey, dataDir: dirs[i]!, listen: [`/ip4/127.0.0.1/tcp/${o.port}`], logger: collector(i) });
      peers[i] = p;
      return p;
    },
    async stop(i) {
      const p = peers[i];
      peers[i] = null;
      await p?.stop();
    },
    async close() {
      await Promise.all(peers.map((p, i) => (p ? c.stop(i) : undefined)));
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    },
  };
  return c;
}

let entrySeq = 0;
/** Signed entries from the given clients, round-robin, with unique ids. */
export function makeEntries(clients: ClientFixture[], count: number, prefix = 'e'): AuditEntry[] {
  const out: AuditEntry[] = [];
  const run = `${process.pid}-${Date.now()}-${entrySeq++}`;
  const time = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    const c = clients[i % clients.length]!;
    out.push(
      signEntry(
        {
          v: 1,
          id: `${prefix}-${run}-${i}`,
          time,
          actor: { id: `user-${i % 17}`, type: 'user' },
          action: 'db.query',
          resource: { type: 'table', id: `t${i % 5}` },
          outcome: 'success',
          data: { n: i, note: 'cairn acceptance test' },
        },
        c.signer,
      ),
    );
  }
  return out;
}

export function describeStatus(s: PeerStatus | null, i: number): string {
  if (s === null) return `peer${i}: stopped`;
  return (
    `peer${i} ${s.validator?.name ?? 'observer'}: h=${s.height} size=${s.treeSize} final=${s.finalSize} mempool=${s.mempool.entries} ` +
    `consensus(h=${s.consensus.height} r=${s.consensus.round} ${s.consensus.step} running=${s.consensus.running} q=${s.consensus.queueDepth}) ` +
    `peers=[${s.peers.map((p) => `${p.name}:${p.connected ? 'up' : 'down'}@${p.height ?? '?'}`).join(' ')}] problem=${s.problem ?? '-'} ` +
    `sync(${s.sync.running ? 'running' : 'idle'} blocks=${s.sync.blocksFetched}) rejected=${JSON.stringify(s.consensus.rejected)}`
  );
}

export function clusterStatus(c: Cluster): string {
  return c.peers.map((p, i) => describeStatus(p ? p.status() : null, i)).join('\n');
}

/**
 * Waits until `cond` holds. Fails when `progress` (a number that should grow while things move)
 * has not changed for `stallMs`, or after `maxMs`; the error carries every peer's status.
 */
export async function waitFor(
  c: Cluster,
  what: string,
  cond: () => boolean | Promise<boolean>,
  progress: () => number,
  { stallMs = 15_000, maxMs = 240_000, pollMs = 50 }: { stallMs?: number; maxMs?: number; pollMs?: number } = {},
): Promise<void> {
  const start = Date.now();
  let last = progress();
  let lastChange = Date.now();
  for (;;) {
    if (await cond()) return;
    const p = progress();
    if (p !== last) {
      last = p;
      lastChange = Date.now();
    }
    const now = Date.now();
    if (now - lastChange > stallMs || now - start > maxMs) {
      throw new Error(`timed out waiting for ${what} (no progress for ${now - lastChange} ms, ${now - start} ms total)\n${clusterStatus(c)}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Sum of tree sizes and final sizes of the running peers: grows while the cluster makes progress. */
export function clusterProgress(c: Cluster): number {
  let s = 0;
  for (const p of c.peers) if (p) {
    const st = p.status();
    // Rounds count as progress too: a height that is still being agreed on is not a stall.
    s += st.treeSize + st.finalSize + st.height + st.mempool.entries + st.consensus.round + st.consensus.decided;
  }
  return s;
}

export async function waitConnected(c: Cluster, idx: number[], want: number): Promise<void> {
  await waitFor(
    c,
    `peers ${idx.join(',')} connected to ${want} others`,
    () => idx.every((i) => (c.peers[i]?.internals.net.connectedPeers().length ?? 0) >= want),
    () => idx.reduce((s, i) => s + (c.peers[i]?.internals.net.connectedPeers().length ?? 0), 0),
    { stallMs: 20_000, maxMs: 30_000 },
  );
}

/** A cluster of n peers, every one started and connected to every other. */
export async function startedCluster(n: number, opts: Parameters<typeof makeCluster>[1] = {}): Promise<Cluster> {
  const c = await makeCluster(n, opts);
  const all = c.orgs.map((_, i) => i);
  await Promise.all(all.map((i) => c.start(i)));
  await waitConnected(c, all, n - 1);
  return c;
}

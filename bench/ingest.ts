// Ingestion benchmark: how many entries per second ONE peer admits (schema, canonical form,
// authorization, signature, mempool) when clients submit over HTTP as fast as it answers, with
// signatures verified in-thread (verifyWorkers 0) and in 1 and 2 worker threads.
//
//   npm run bench:ingest -- [--workers 0,1,2] [--seconds 15] [--batch 100] [--concurrency 8] [--entry-bytes 300] [--out FILE]
//
// One organization (quorum 1): a real peer process (node/peer/main.ts) on 127.0.0.1 that also
// decides, stores and checkpoints what it admits, so admission is measured together with the
// work that follows it on the same cores (the honest figure for "a single peer's ingestion");
// the finalized rate is reported beside it. A fresh peer and data directory per worker count;
// entries signed before any timing. Closed loop: `concurrency`
// requests of `batch` entries in flight; a `busy` answer (mempool full) waits 20 ms and is sent
// again, so the peer is never idle and never overrun. "verified" counts entries whose signature
// the peer checked: admitted plus refused as bad_signature (none here: every entry is valid).
// The load generator runs in this process on the same machine: its CPU is reported too.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { nodeSigner } from '../src/crypto/node.js';
import { entryLeaf, signEntry, type UnsignedEntry } from '../src/entry/index.js';
import { fromHex } from '../src/encoding/bytes.js';
import { startPeerProcess, stopPeerProcess, killAllPeers, writeNetwork, type PeerProcess } from './network.js';
import { BenchHttp } from './http.js';
import { cpuSeconds, threadCpuSeconds } from './procstat.js';
import { codeRoot, recordedPath } from './paths.js';
import { argsOrExit, readArgs } from './args.js';
import { benchLogger, sleep } from './settle.js';
import { round } from './stats.js';

interface Options {
  workers: number[];
  seconds: number;
  batch: number;
  concurrency: number;
  entryBytes: number;
  out: string | null;
}

const USAGE = 'usage: bench:ingest [--workers 0,1,2] [--seconds 15] [--batch 100] [--concurrency 8] [--entry-bytes 300] [--out FILE]';
/** Most entries signed up front (bounds the bench's memory: ~0.5 KB each). */
const ENTRIES_MAX = 400_000;
/** Wait for a started peer to answer /v1/status. */
const START_WAIT_MS = 60_000;

function parseArgs(argv: string[]): Options {
  const o: Options = { workers: [0, 1, 2], seconds: 15, batch: 100, concurrency: 8, entryBytes: 300, out: null };
  readArgs(argv, USAGE, ({ name: a, value: v, int, list, unknown }) => {
    if (a === '--workers') o.workers = list(v(), 0, 16);
    else if (a === '--seconds') o.seconds = int(v(), 1, 600);
    else if (a === '--batch') o.batch = int(v(), 1, 1000);
    else if (a === '--concurrency') o.concurrency = int(v(), 1, 64);
    else if (a === '--entry-bytes') o.entryBytes = int(v(), 200, 16_000);
    else if (a === '--out') o.out = v();
    else unknown();
  });
  return o;
}

const log = benchLogger('ingest');

/** JSON bodies of `count` valid entries of about `bytes` leaf bytes each, signed by the bench clients. */
function signBodies(count: number, bytes: number, seedsHex: string[]): string[] {
  const signers = seedsHex.map((h) => nodeSigner(fromHex(h)!));
  const time = new Date().toISOString();
  const make = (i: number, pad: string): UnsignedEntry => ({
    v: 1,
    id: `ingest-${String(i).padStart(8, '0')}`,
    time,
    actor: { id: `user-${String(i % 997).padStart(3, '0')}@example.com`, type: 'user' },
    action: 'db.query',
    resource: { type: 'db.table', id: 'payments' },
    outcome: 'success',
    data: { pad },
  });
  const base = entryLeaf(signEntry(make(0, ''), signers[0]!)).length;
  const pad = 'x'.repeat(Math.max(0, bytes - base));
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(JSON.stringify(signEntry(make(i, pad), signers[i % signers.length]!)));
  return out;
}

interface RunResult {
  verifyWorkers: number;
  seconds: number;
  admitted: number;
  verified: number;
  refused: Record<string, number>;
  admittedPerSec: number;
  verifiedPerSec: number;
  finalizedPerSec: number;
  busyRetries: number;
  peerCpuSeconds: number;
  peerCpuMsPerAdmitted: number;
  peerThreadCpuSeconds: Record<string, number>;
  benchCpuSeconds: number;
  verifierLog: string | null;
  /** The peer's last log lines when nothing was finalized (a stalled peer is not an ingestion figure). */
  peerLogTail: string[];
}

async function finalSize(http: BenchHttp, url: string): Promise<number | null> {
  try {
    const r = await http.json<{ finalSize: number }>(`${url}/v1/status`, 5_000);
    return r.status === 200 && r.value !== null ? r.value.finalSize : null;
  } catch {
    return null;
  }
}

async function runOnce(o: Options, workers: number, root: string): Promise<RunResult> {
  const dir = join(root, `w${workers}`);
  await mkdir(dir, { recursive: true });
  const net = await writeNetwork(dir, { peers: 1, clients: 8 });
  // Each network has its own client keys: the entries are signed again (before any timing).
  const bodies = signBodies(Math.min(ENTRIES_MAX, 8_000 * o.seconds), o.entryBytes, net.clients.map((c) => c.seedHex));
  const spec = net.peers[0]!;
  const http = new BenchHttp(o.concurrency + 2);
  const peer: PeerProcess = startPeerProcess(spec, { env: { CAIRN_VERIFY_WORKERS: String(workers), CAIRN_LOG_LEVEL: 'info' } });
  try {
    const up = Date.now() + START_WAIT_MS;
    while ((await finalSize(http, spec.url)) === null) {
      if (!peer.alive || Date.now() > up) throw new Error(`peer did not start: ${peer.lines.slice(-5).join(' | ')}`);
      await sleep(200);
    }
    // Warm-up (not timed): the first batch starts the worker threads' and the JIT's work.
    await http.request(`${spec.url}/v1/entries`, { method: 'POST', body: `[${bodies.slice(0, o.batch).join(',')}]`, timeoutMs: 30_000 });
    await sleep(1_000);
    const threads0 = await threadCpuSeconds(peer.pid);
    const cpu0 = await cpuSeconds(peer.pid);
    const bench0 = process.cpuUsage();
    const final0 = (await finalSize(http, spec.url)) ?? 0;
    let next = o.batch;
    let admitted = 0;
    let busyRetries = 0;
    const refused: Record<string, number> = {};
    const t0 = performance.now();
    const end = t0 + o.seconds * 1000;
    const lane = async (): Promise<void> => {
      while (performance.now() < end && next < bodies.length) {
        const from = next;
        const to = Math.min(bodies.length, from + o.batch);
        next = to;
        const body = `[${bodies.slice(from, to).join(',')}]`;
        for (;;) {
          const res = await http.request(`${spec.url}/v1/entries`, { method: 'POST', body, timeoutMs: 30_000 });
          const j = JSON.parse(res.body.toString('utf8')) as { results?: { status?: string; error?: { code?: string } }[]; error?: { code?: string } };
          if (j.error?.code === 'busy' && performance.now() < end) {
            busyRetries++;
            await sleep(20);
            continue;
          }
          for (const r of j.results ?? []) {
            if (r.status === 'accepted') admitted++;
            else {
              const c = r.error?.code ?? r.status ?? 'unknown';
              refused[c] = (refused[c] ?? 0) + 1;
            }
          }
          if (j.results === undefined) refused[j.error?.code ?? `http_${res.status}`] = (refused[j.error?.code ?? `http_${res.status}`] ?? 0) + (to - from);
          break;
        }
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, lane));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (await cpuSeconds(peer.pid)) - cpu0;
    const threads = await threadCpuSeconds(peer.pid);
    const final1 = (await finalSize(http, spec.url)) ?? final0;
    const b = process.cpuUsage(bench0);
    const verified = admitted + (refused.bad_signature ?? 0);
    if (next >= bodies.length) log(`  note: all ${bodies.length} pre-signed entries were sent before ${o.seconds} s`);
    return {
      verifyWorkers: workers,
      seconds: round(seconds, 2),
      admitted,
      verified,
      refused,
      admittedPerSec: round(admitted / seconds),
      verifiedPerSec: round(verified / seconds),
      finalizedPerSec: round((final1 - final0) / seconds),
      busyRetries,
      peerCpuSeconds: round(cpu, 2),
      peerCpuMsPerAdmitted: admitted > 0 ? round((cpu * 1000) / admitted, 3) : 0,
      peerThreadCpuSeconds: Object.fromEntries(Object.entries(threads).map(([k, v]) => [k, round(v - (threads0[k] ?? 0), 2)])),
      benchCpuSeconds: round((b.user + b.system) / 1e6, 2),
      verifierLog: peer.lines.find((l) => l.includes('ed25519 verifier')) ?? null,
      peerLogTail: final1 === final0 ? peer.lines.slice(-5) : [],
    };
  } finally {
    await stopPeerProcess(peer);
  }
}

async function main(): Promise<void> {
  const o = argsOrExit('bench:ingest', () => parseArgs(process.argv.slice(2)));
  const startedAt = new Date().toISOString();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      killAllPeers();
      process.exit(130);
    });
  }
  const root = await mkdtemp(join(tmpdir(), 'cairn-bench-ingest-'));
  const runs: RunResult[] = [];
  try {
    for (const w of o.workers) {
      const r = await runOnce(o, w, root);
      runs.push(r);
      log(`verifyWorkers ${w}: admitted ${r.admittedPerSec}/s, verified ${r.verifiedPerSec}/s, finalized ${r.finalizedPerSec}/s; peer CPU ${r.peerCpuMsPerAdmitted} ms/entry; refused ${JSON.stringify(r.refused)}`);
    }
  } finally {
    killAllPeers();
    await rm(root, { recursive: true, force: true });
  }
  const result = {
    bench: 'ingest',
    startedAt,
    options: o,
    machine: { cpus: cpus().length, loadavgAtEnd: loadavg().map((x) => round(x, 2)) },
    runs,
  };
  const out = o.out ?? join(codeRoot(), 'bench', 'results', `ingest-${startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(out, JSON.stringify(result, null, 2) + '\n');
  log(`result: ${recordedPath(out)}`);
}

main().catch((e: unknown) => {
  killAllPeers();
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

// Idle latency: one entry at a time on an otherwise idle network. Each entry is submitted to a
// peer (round-robin), then awaited with the long-poll the peer offers (GET /v1/entries/{hash}
// ?wait=final), which answers as soon as a quorum-signed checkpoint covers the entry; the
// inclusion proof in the answer is verified against that checkpoint with the light verifier
// before the entry counts as final. The next entry is submitted only after that. Unlike the load
// generators (which poll GET /checkpoint every pollMs and so add about pollMs / 2 on average),
// this measures the submit-to-final floor without a polling delay.
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { nodeSigner, nodeVerifier } from '../src/crypto/node.js';
import { fromBase64, fromHex } from '../src/encoding/bytes.js';
import { entryLeaf, signEntry } from '../src/entry/index.js';
import type { UnsignedEntry } from '../src/entry/types.js';
import { verifyInclusion, type TrustRoot } from '../src/verifier/index.js';
import type { BenchHttp } from './http.js';
import { round, summarize, type LatencySummary } from './stats.js';

export interface IdleLatencyReport {
  /** Entries measured (each waited to final before the next was submitted). */
  entries: number;
  /** Submit to verified final answer of the long-poll, milliseconds. */
  latencyMs: LatencySummary & { mean: number };
  /** How finality was observed. */
  method: string;
}

/** Most entries one idle-latency run measures. */
export const IDLE_ENTRIES_MAX = 1_000;

export async function measureIdleLatency(
  http: BenchHttp,
  o: { urls: string[]; trust: TrustRoot; clientSeedHex: string; count: number; entryBytes: number; timeoutMs?: number },
): Promise<IdleLatencyReport> {
  const count = Math.min(IDLE_ENTRIES_MAX, Math.max(1, o.count));
  const timeoutMs = o.timeoutMs ?? 10_000;
  const signer = nodeSigner(fromHex(o.clientSeedHex)!);
  const run = `idle-${Date.now()}`;
  const make = (i: number, pad: string): UnsignedEntry => ({
    v: 1,
    id: `${run}-${String(i).padStart(6, '0')}`,
    time: new Date().toISOString(),
    actor: { id: 'user-idle@example.com', type: 'user' },
    action: 'db.query',
    resource: { type: 'db.table', id: 'payments' },
    outcome: 'success',
    source: { ip: '192.0.2.7' },
    data: { pad },
  });
  const base = entryLeaf(signEntry(make(0, ''), signer)).length;
  const pad = 'x'.repeat(Math.max(0, o.entryBytes - base));
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const e = signEntry(make(i, pad), signer);
    const leaf = entryLeaf(e);
    const hash = createHash('sha256').update(Uint8Array.of(0)).update(leaf).digest('hex');
    const url = o.urls[i % o.urls.length]!;
    const t0 = performance.now();
    const post = await http.request(`${url}/v1/entries`, { method: 'POST', body: `[${JSON.stringify(e)}]`, timeoutMs });
    if (post.status !== 200 && post.status !== 202) throw new Error(`idle latency: submit answered HTTP ${post.status}: ${post.body.toString('utf8').slice(0, 200)}`);
    const r = await http.json<{ status?: string; index?: number; proof?: string[]; checkpoint?: string }>(`${url}/v1/entries/${hash}?wait=final&timeout=${Math.ceil(timeoutMs / 1000)}s`, timeoutMs + 5_000);
    const t1 = performance.now();
    const v = r.value;
    if (r.status !== 200 || v === null || v.status !== 'final' || typeof v.index !== 'number' || !Array.isArray(v.proof) || typeof v.checkpoint !== 'string') {
      throw new Error(`idle latency: entry ${i} not final on ${url} within ${timeoutMs} ms (HTTP ${r.status} ${v?.status ?? ''})`);
    }
    const proof = v.proof.map((b) => fromBase64(b));
    if (proof.some((b) => b === null)) throw new Error('idle latency: proof hash is not base64');
    const ok = verifyInclusion(o.trust, { entryLeaf: leaf, index: v.index, proof: proof as Uint8Array[], checkpoint: v.checkpoint }, { verifier: nodeVerifier });
    if (!ok.ok) throw new Error(`idle latency: entry ${i}: ${ok.code}: ${ok.message}`);
    samples.push(t1 - t0);
  }
  const s = summarize(samples);
  const mean = samples.reduce((a, x) => a + x, 0) / samples.length;
  const r1 = (x: number) => round(x, 1);
  return {
    entries: count,
    latencyMs: { count: s.count, p50: r1(s.p50), p90: r1(s.p90), p99: r1(s.p99), max: r1(s.max), mean: r1(mean) },
    method: 'one entry at a time; final = long-poll GET /v1/entries/{hash}?wait=final answered and its inclusion proof verified against the quorum checkpoint (no polling delay; the load generators poll GET /checkpoint every 20 ms, adding ~10 ms on average)',
  };
}

/** Standalone: `npx tsx bench/idle-latency.ts [entries]` on its own 4-peer network (temp dir). */
async function main(): Promise<void> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const { join } = await import('node:path');
  const { parseTrustFile } = await import('../src/verifier/index.js');
  const { BenchHttp } = await import('./http.js');
  const { killAllPeers, startPeerProcess, stopAllPeers, writeNetwork } = await import('./network.js');
  const { waitConnected } = await import('./settle.js');
  const count = Number(process.argv[2] ?? 100);
  const dir = await mkdtemp(join(os.tmpdir(), 'cairn-idle-'));
  process.once('exit', killAllPeers);
  const http = new BenchHttp(8);
  try {
    const net = await writeNetwork(dir, { peers: 4, clients: 4 });
    const trust = parseTrustFile(net.trustJson);
    if (!trust.ok) throw new Error(`trust file: ${trust.message}`);
    const procs = net.peers.map((spec) => startPeerProcess(spec));
    await waitConnected(http, procs, 60_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const loadStart = os.loadavg()[0]!;
    const rep = await measureIdleLatency(http, { urls: net.peers.map((p) => p.url), trust: trust.trust, clientSeedHex: net.clients[0]!.seedHex, count, entryBytes: 300 });
    console.log(JSON.stringify({ ...rep, loadAverage: { start: round(loadStart, 2), end: round(os.loadavg()[0]!, 2) } }, null, 2));
  } finally {
    await stopAllPeers(5_000);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: Error) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
  });
}

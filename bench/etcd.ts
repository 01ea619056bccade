// The reference point of the cost bench: a local 4-member etcd cluster (Raft, crash-fault
// tolerant, no signatures, no Merkle log) on 127.0.0.1 under the same load shape as Cairn —
// open-loop 50 ms ticks spread over every member, batches of 100 puts of `valueBytes` each (one
// txn per batch through etcd's v3 JSON gateway, POST /v3/kv/txn), the same rising ladder and
// keep-up rule (everything committed, p99 ≤ 3 s, no growing backlog) — so the ratio is measured in one run. Runs only
// when an `etcd` binary is on PATH (Debian: etcd-server); otherwise it reports itself skipped.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { freePort } from './network.js';
import { sleep } from './settle.js';
import { climbLadder, KEEP_UP_P99_MS } from './step.js';
import { latencyTrend, percentile, round } from './stats.js';

interface EtcdStep {
  offeredRate: number;
  committedPerSec: number;
  p50Ms: number;
  p99Ms: number;
  keepsUp: boolean;
  why: string;
}

export type EtcdPhaseResult =
  | { skipped: true; reason: string }
  | {
      skipped: false;
      version: string;
      members: number;
      valueBytes: number;
      batch: number;
      maxPutsPerSec: number;
      steps: EtcdStep[];
    };

const MEMBERS = 4;
/** Puts per txn (etcd's default --max-txn-ops is 128). */
const BATCH = 100;
const TICK_MS = 50;
/** Txns in flight at once; a tick that would exceed it drops its batches (the step fails). */
const IN_FLIGHT_MAX = 256;
const DRAIN_MS = 10_000;
const START_RATE = 3_000;
/** Up-steps of the ladder (the shared ×1.6 ladder of bench/step.ts). */
const LADDER_UP_MAX = 7;
const READY_TIMEOUT_MS = 30_000;

function etcdVersion(): string | null {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined || r.status !== 0) return null;
  return /etcd Version: (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
}

async function waitHealthy(urls: string[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const ok = await Promise.all(
      urls.map((u) =>
        fetch(`${u}/health`, { signal: AbortSignal.timeout(2_000) })
          .then(async (r) => r.status === 200 && ((await r.json()) as { health?: string }).health === 'true')
          .catch(() => false),
      ),
    );
    if (ok.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`etcd cluster not healthy after ${READY_TIMEOUT_MS} ms`);
    await sleep(250);
  }
}

/** One open-loop step: `rate` puts/s for `durationMs`, then waits (bounded) for every answer. */
async function step(urls: string[], id: string, rate: number, durationMs: number, value: string): Promise<EtcdStep> {
  const latencies: number[] = [];
  const submits: number[] = [];
  let inFlight = 0;
  let dropped = 0;
  let failed = 0;
  let committed = 0;
  let lastDoneMs = 0;
  let owed = 0;
  let seq = 0;
  const t0 = performance.now();
  const send = (url: string) => {
    const ops = [];
    for (let i = 0; i < BATCH; i++) ops.push({ requestPut: { key: Buffer.from(`${id}/${seq++}`).toString('base64'), value } });
    const sentAt = performance.now();
    inFlight++;
    fetch(`${url}/v3/kv/txn`, { method: 'POST', body: JSON.stringify({ success: ops }), signal: AbortSignal.timeout(durationMs + DRAIN_MS) })
      .then(async (r) => {
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(String(r.status));
        committed += BATCH;
        latencies.push(performance.now() - sentAt);
        submits.push(sentAt - t0);
        lastDoneMs = performance.now() - t0;
      })
      .catch(() => failed++)
      .finally(() => inFlight--);
  };
  let tick = 0;
  for (; (tick + 1) * TICK_MS <= durationMs; tick++) {
    const wait = t0 + tick * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
    owed += (rate * TICK_MS) / 1000 / BATCH;
    for (; owed >= 1; owed--) {
      if (inFlight >= IN_FLIGHT_MAX) dropped++;
      else send(urls[(tick + Math.floor(owed)) % urls.length]!);
    }
  }
  const drainEnd = performance.now() + DRAIN_MS;
  while (inFlight > 0 && performance.now() < drainEnd) await sleep(20);
  const trend = latencyTrend(submits, latencies, durationMs);
  const sorted = [...latencies].sort((a, b) => a - b);
  const p99 = percentile(sorted, 99);
  const window = Math.max(durationMs, lastDoneMs) / 1000;
  const committedPerSec = committed / window;
  const why = dropped > 0 ? `${dropped} batches dropped (${IN_FLIGHT_MAX} txns in flight)` : failed > 0 ? `${failed} txns failed` : inFlight > 0 ? `${inFlight} txns unanswered after the drain` : p99 > KEEP_UP_P99_MS ? `p99 ${round(p99)} ms > ${KEEP_UP_P99_MS} ms` : !(trend.lastQuarterP50 <= 1.5 * trend.firstQuarterP50 + 300) ? `backlog grows (p50 ${round(trend.firstQuarterP50)} ms -> ${round(trend.lastQuarterP50)} ms)` : '';
  return { offeredRate: round(rate), committedPerSec: round(committedPerSec), p50Ms: round(percentile(sorted, 50)), p99Ms: round(p99), keepsUp: why === '', why };
}

export async function runEtcdPhase(o: { valueBytes: number; stepS: number; log: (m: string) => void }): Promise<EtcdPhaseResult> {
  const version = etcdVersion();
  if (version === null) {
    o.log('etcd not installed, skipped');
    return { skipped: true, reason: 'etcd not installed, skipped' };
  }
  const dir = await mkdtemp(join(os.tmpdir(), 'cairn-etcd-'));
  const procs: ChildProcess[] = [];
  const killAll = () => {
    for (const p of procs) {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killAll);
  try {
    const ports = [];
    for (let i = 0; i < MEMBERS; i++) ports.push({ client: await freePort(), peer: await freePort() });
    const cluster = ports.map((p, i) => `m${i}=http://127.0.0.1:${p.peer}`).join(',');
    const lines: string[] = [];
    for (const [i, p] of ports.entries()) {
      const args = [
        '--name', `m${i}`,
        '--data-dir', join(dir, `m${i}`),
        '--listen-client-urls', `http://127.0.0.1:${p.client}`,
        '--advertise-client-urls', `http://127.0.0.1:${p.client}`,
        '--listen-peer-urls', `http://127.0.0.1:${p.peer}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peer}`,
        '--initial-cluster', cluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', 'cairn-bench',
        '--logger', 'zap',
        '--log-level', 'error',
      ];
      const proc = spawn('etcd', args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      proc.stderr!.on('data', (d: Buffer) => {
        lines.push(d.toString('utf8').slice(0, 500));
        if (lines.length > 50) lines.shift();
      });
      procs.push(proc);
    }
    const urls = ports.map((p) => `http://127.0.0.1:${p.client}`);
    await waitHealthy(urls).catch((e: Error) => {
      throw new Error(`${e.message}\n${lines.join('')}`);
    });
    o.log(`etcd ${version}: ${MEMBERS} members up`);
    const value = Buffer.alloc(o.valueBytes, 'x').toString('base64');
    await step(urls, 'warmup', 1_000, 2_000, value);
    const { steps } = await climbLadder({ start: START_RATE, upMax: LADDER_UP_MAX, floor: 0 }, async (id, rate) => {
      const s = await step(urls, id, rate, o.stepS * 1000, value);
      o.log(`etcd: offered ${s.offeredRate} puts/s -> ${s.committedPerSec}/s, p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms${s.keepsUp ? '' : ` — does not keep up: ${s.why}`}`);
      return s;
    });
    // The most committed per second among the steps that kept up.
    const maxPutsPerSec = Math.max(0, ...steps.filter((s) => s.keepsUp).map((s) => s.committedPerSec));
    return { skipped: false, version, members: MEMBERS, valueBytes: o.valueBytes, batch: BATCH, maxPutsPerSec, steps };
  } finally {
    killAll();
    process.off('exit', killAll);
    await sleep(300);
    await rm(dir, { recursive: true, force: true });
  }
}

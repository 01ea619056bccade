// `npm run bench:agent`: the agent's sustained throughput against a real network, next to the
// network's own maximum finalized rate measured in the SAME run (same machine load, same peers).
//
// 4 peer processes (quorum 3) on 127.0.0.1, then two phases:
//   1. network: the maximum finalized rate as `npm run bench` defines it — load-generator
//      processes (bench/loadgen.ts) submit pre-signed entries of the agent's entry size straight
//      to the peers, round-robin, open-loop, in 8 s steps rising by 30 % from --start-rate until a
//      step does not keep up (something not final after the drain, rejections or drops, p99 over
//      3 s, or a growing backlog); the maximum is the highest step that kept up. An open-loop load
//      far above it is no measure: the mempools fill, blocks grow to maxBlockEntries, and on a
//      busy machine their validation outlasts the consensus timeouts, so the network finalizes
//      less, not more;
//   2. agent: one `cairn agent run` process, offered --rate events/s (default: 1.5 × the network's
//      maximum, at least 1,000) for --duration s by this process (100 events per request); its
//      sustained rate is what became final from the end of --warmup to the end of the load, by
//      its own `final` counter (confirmed by a peer, removed from the spool) and by the log's
//      final tree size (`GET /v1/status` of a peer every 500 ms). Also its intake rate, its CPU
//      per accepted event (from /proc), entries sent per event and the drain after the load.
// Between the steps the network settles (empty mempools, everything final).
//
//   npx tsx bench/agent.ts [--rate R] [--duration 25] [--warmup 5] [--start-rate 300]
//                          [--loadgens 2] [--profile <dir>] [--out <file>]
// --profile writes the agent's V8 CPU profile (node --cpu-prof) into <dir> and prints its top.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeSigner } from '../src/crypto/node.js';
import { fromHex } from '../src/encoding/bytes.js';
import { entryLeaf, signEntry } from '../src/entry/index.js';
import { eventToEntry } from '../node/agent/event.js';
import { LoadgenPool } from './loadgens.js';
import { freePort, killAllPeers, startPeerProcess, stopAllPeers, writeNetwork } from './network.js';
import { codeRoot, nodeEntryArgs, recordedPath } from './paths.js';
import { summarizeProfile } from './profile.js';
import type { MergedResult } from './loadgens.js';
import { latencyTrend, summarize } from './stats.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string' },
    'start-rate': { type: 'string', default: '300' },
    duration: { type: 'string', default: '25' },
    warmup: { type: 'string', default: '5' },
    loadgens: { type: 'string', default: '2' },
    profile: { type: 'string' },
    out: { type: 'string' },
  },
});
const START_RATE = Number(args['start-rate']);
const DURATION_S = Number(args.duration);
const WARMUP_S = Number(args.warmup);
const LOADGENS = Number(args.loadgens);
const BATCH = 100;
/** Network steps: length, growth per step, most steps. */
const STEP_MS = 8_000;
const STEP_FACTOR = 1.3;
const STEPS_MAX = 9;
/** Longest wait for the agent's spool to drain after its load. */
const DRAIN_MAX_MS = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
const log = (m: string) => process.stderr.write(`[bench:agent ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

/** One bench event; `k` varies actor and resource like an application would. */
function benchEvent(id: string, k: number): Record<string, unknown> {
  return { id, actor: { id: `user-${k % 50}`, type: 'user' }, action: 'db.query', resource: { type: 'db.table', id: `t${k % 9}` }, outcome: 'success', data: { note: 'x'.repeat(120) } };
}

/** Canonical bytes of the entry the agent makes of a bench event (the load generators pad to it). */
function agentEntryBytes(): number {
  const r = eventToEntry(benchEvent('bench-00000-00', 0), Date.now());
  if (!r.ok) throw new Error(`bench event invalid: ${r.message}`);
  return entryLeaf(signEntry(r.entry, nodeSigner(new Uint8Array(32).fill(7)))).length;
}

async function getJson<T>(url: string): Promise<T | null> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return r.status === 200 ? ((await r.json()) as T) : null;
  } catch {
    return null;
  }
}

interface PeerStatusDoc {
  finalSize: number;
  treeSize: number;
  mempool: { entries: number };
  peers: { connected: boolean }[];
}
interface AgentStatusDoc {
  spool: { events: number };
  counters: { accepted: number; final: number; full: number; requestFailures: number; entryErrors: number; entriesSent: number; retimed: number; conflicts: number };
  inflight: number;
}

async function cpuMs(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
}

/** Samples a peer's final tree size every 500 ms (the log's own finalized count). */
class FinalSampler {
  readonly samples: { t: number; size: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly url: string) {}
  start(): void {
    this.timer = setInterval(() => {
      void getJson<PeerStatusDoc>(this.url + '/v1/status').then((s) => {
        if (s !== null) this.samples.push({ t: Date.now(), size: s.finalSize });
      });
    }, 500);
  }
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }
  /** Entries finalized per second between two times (first and last sample inside them). */
  rate(from: number, to: number): number {
    const w = this.samples.filter((s) => s.t >= from && s.t <= to);
    if (w.length < 2) return 0;
    const a = w[0]!;
    const z = w[w.length - 1]!;
    return ((z.size - a.size) * 1000) / (z.t - a.t);
  }
}

/** Why a network step did not keep up (the rules of `npm run bench`), or '' when it did. */
function whyNotKeptUp(r: MergedResult): string {
  const errors = Object.entries(r.codes).filter(([, n]) => n > 0);
  const lat = summarize(r.latencyMs);
  const trend = latencyTrend(r.submitMs, r.latencyMs, STEP_MS);
  if (r.dropped > 0) return `${r.dropped} dropped`;
  if (errors.length > 0) return `rejections ${JSON.stringify(Object.fromEntries(errors))}`;
  if (r.sent < r.offered) return `only ${r.sent} of ${r.offered} sent`;
  if (r.finalAccepted < r.accepted) return `${r.accepted - r.finalAccepted} not final after the drain`;
  if (!(trend.lastQuarterP50 <= 1.5 * trend.firstQuarterP50 + 300)) return `backlog grows (p50 ${Math.round(trend.firstQuarterP50)} -> ${Math.round(trend.lastQuarterP50)} ms)`;
  if (!(lat.p99 <= 3000)) return `p99 ${Math.round(lat.p99)} ms`;
  return '';
}

/** Bounded wait: every peer answers and sees the others; then empty mempools and everything final. */
async function settle(urls: string[], timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ss = await Promise.all(urls.map((u) => getJson<PeerStatusDoc>(u + '/v1/status')));
    const ok = ss.every((s) => s !== null && s.peers.filter((p) => p.connected).length >= urls.length - 1 && s.mempool.entries === 0 && s.finalSize === s.treeSize && s.treeSize === ss[0]!.treeSize);
    if (ok) return;
    if (Date.now() > end) throw new Error(`network not settled (${what}) within ${timeoutMs} ms: ${JSON.stringify(ss)}`);
    await sleep(250);
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-bench-agent-'));
  let pool: LoadgenPool | null = null;
  let agentPid = 0;
  process.on('SIGINT', () => {
    pool?.kill();
    killAllPeers();
    if (agentPid !== 0) process.kill(-agentPid, 'SIGKILL');
    process.exit(130);
  });
  try {
    const entryBytes = agentEntryBytes();
    const net = await writeNetwork(dir, { peers: 4, clients: 1 + LOADGENS });
    const procs = net.peers.map((p) => startPeerProcess(p));
    const urls = net.peers.map((p) => p.url);
    await settle(urls, 90_000, 'startup').catch((e: Error) => {
      throw new Error(`${e.message}\n${procs.map((p) => p.lines.slice(-5).join('\n')).join('\n')}`);
    });
    const sampler = new FinalSampler(urls[0]!);
    sampler.start();

    // Phase 1: the network's maximum finalized rate (rising steps, as `npm run bench`).
    const loadNetwork = loadavg()[0]!;
    pool = await LoadgenPool.start(LOADGENS, { trustJson: net.trustJson, entryBytes, auth: null }, net.clients.slice(1).map((c) => c.seedHex));
    const steps: { offered: number; finalizedPerSec: number; keptUp: boolean; why: string }[] = [];
    let best = 0;
    let rate = START_RATE;
    for (let k = 0; k < STEPS_MAX; k++) {
      let t = 0;
      const r = await pool.runPhase({ id: `net${k}`, rate, durationMs: STEP_MS, urls, tickMs: 50, pollMs: 20, drainMs: 15_000, stallMs: 6_000, proofSample: 5 }, () => void (t = Date.now() + 200));
      const why = whyNotKeptUp(r);
      const perSec = sampler.rate(t, t + STEP_MS);
      steps.push({ offered: rate, finalizedPerSec: Math.round(perSec), keptUp: why === '', why });
      log(`network step ${k}: offered ${rate}/s, log grew ${Math.round(perSec)}/s, ${why === '' ? 'keeps up' : `does NOT keep up: ${why}`}`);
      await settle(urls, 90_000, `after network step ${k}`);
      if (why === '') {
        const first = best === 0;
        best = rate;
        // Going down after a first step that did not keep up: the first that does is the maximum.
        if (!first || steps.length === 1) rate = Math.round(rate * STEP_FACTOR);
        else break;
      } else if (best === 0 && rate / 2 >= 50) {
        rate = Math.round(rate / 2);
      } else {
        break;
      }
    }
    await pool.close();
    pool = null;
    const networkPerSec = best;
    const RATE = args.rate !== undefined ? Number(args.rate) : Math.max(1000, Math.round(1.5 * best));

    // Phase 2: the same load through one agent process.
    const loadAgent = loadavg()[0]!;
    log(`agent: offered ${RATE}/s for ${DURATION_S} s`);
    await mkdir(join(dir, 'agent'), { recursive: true });
    const keyPath = join(dir, 'agent', 'client.key');
    await writeFile(keyPath, net.clients[0]!.seedHex + '\n', { mode: 0o600 });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const profDir = args.profile === undefined ? null : resolve(args.profile);
    if (profDir !== null) await mkdir(profDir, { recursive: true });
    // Default profile names: one file per thread (tsx's module loader runs in a worker of its own).
    const prof = profDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
    const agent = spawn(process.execPath, [...prof, ...nodeEntryArgs('node/cli/main'), 'agent', 'run', '--key', keyPath, '--spool', join(dir, 'agent', 'spool'), '--listen', `127.0.0.1:${port}`, '--peer', urls.join(',')], {
      cwd: codeRoot(),
      detached: true,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    agentPid = agent.pid!;
    const agentExited = new Promise<void>((r) => agent.once('exit', () => r()));
    for (let end = Date.now() + 60_000; (await getJson<AgentStatusDoc>(url + '/v1/status')) === null; ) {
      if (Date.now() > end) throw new Error('agent did not start');
      await sleep(200);
    }
    // Open-loop load: batches at fixed times whatever the answers (a 503 spool_full is counted).
    let posted = 0;
    let acknowledged = 0;
    let refused = 0;
    const inflight = new Set<Promise<void>>();
    const samples: { t: number; final: number; accepted: number; cpu: number }[] = [];
    const t0 = Date.now();
    const agentSampler = setInterval(() => {
      void (async () => {
        const s = await getJson<AgentStatusDoc>(url + '/v1/status');
        if (s !== null) samples.push({ t: Date.now(), final: s.counters.final, accepted: s.counters.accepted, cpu: await cpuMs(agentPid) });
      })();
    }, 1000);
    for (let b = 0; ; b++) {
      const due = t0 + ((b * BATCH) / RATE) * 1000;
      if (due > t0 + DURATION_S * 1000) break;
      if (due > Date.now()) await sleep(due - Date.now());
      const body = JSON.stringify(Array.from({ length: BATCH }, (_, k) => benchEvent(`bench-${String(b).padStart(5, '0')}-${String(k).padStart(2, '0')}`, k)));
      posted += BATCH;
      const p = fetch(url + '/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(30_000) }).then(
        async (r) => {
          await r.arrayBuffer();
          if (r.status === 200) acknowledged += BATCH;
          else refused += BATCH;
        },
        () => void (refused += BATCH),
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await Promise.all(inflight);
    const loadEnd = Date.now();
    let drained = true;
    for (let end = Date.now() + DRAIN_MAX_MS; ; ) {
      const s = await getJson<AgentStatusDoc>(url + '/v1/status');
      if (s !== null && s.spool.events === 0) break;
      if (Date.now() > end) {
        drained = false;
        log(`agent did not drain in ${DRAIN_MAX_MS} ms`);
        break;
      }
      await sleep(250);
    }
    const drainEnd = Date.now();
    clearInterval(agentSampler);
    sampler.stop();
    const last = (await getJson<AgentStatusDoc>(url + '/v1/status'))!;
    const inWindow = samples.filter((s) => s.t >= t0 + WARMUP_S * 1000 && s.t <= loadEnd);
    const a = inWindow[0]!;
    const z = inWindow[inWindow.length - 1]!;
    const agentFinalPerSec = ((z.final - a.final) * 1000) / (z.t - a.t);
    const acceptedPerSec = ((z.accepted - a.accepted) * 1000) / (z.t - a.t);
    const agentCpuShare = (z.cpu - a.cpu) / (z.t - a.t);
    const agentLogPerSec = sampler.rate(t0 + WARMUP_S * 1000, loadEnd);
    const result = {
      bench: 'agent',
      startedAt: started.toISOString(),
      machine: `${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, Node ${process.version}`,
      loadAverage: { network: round(loadNetwork, 2), agent: round(loadAgent, 2), end: round(loadavg()[0]!, 2) },
      offeredPerSec: RATE,
      durationSec: DURATION_S,
      warmupSec: WARMUP_S,
      entryBytes,
      network: { maxFinalizedPerSec: networkPerSec, loadgens: LOADGENS, stepSec: STEP_MS / 1000, steps },
      agent: {
        finalizedPerSec: Math.round(agentFinalPerSec),
        logFinalizedPerSec: Math.round(agentLogPerSec),
        posted,
        acknowledged,
        refused,
        acceptedPerSec: Math.round(acceptedPerSec),
        cpuPerAcceptedEventMs: round((agentCpuShare * 1000) / Math.max(1, acceptedPerSec), 3),
        cpuShareOfOneCore: round(agentCpuShare, 3),
        drained,
        drainSec: round((drainEnd - loadEnd) / 1000, 1),
        entriesSentPerEvent: round(last.counters.entriesSent / Math.max(1, last.counters.accepted), 2),
        counters: last.counters,
      },
      /** The acceptance figure: the agent's sustained rate over the network's maximum (>= 1 meets it). */
      agentOverNetwork: round(agentFinalPerSec / Math.max(1, networkPerSec), 3),
    };
    console.log(JSON.stringify(result, null, 2));
    log(`network ${result.network.maxFinalizedPerSec}/s, agent ${result.agent.finalizedPerSec}/s confirmed (${result.agent.logFinalizedPerSec}/s log growth): ratio ${result.agentOverNetwork}`);
    if (args.out !== undefined) await writeFile(args.out, JSON.stringify({ ...result, file: recordedPath(args.out) }, null, 2) + '\n');
    // A clean stop writes the agent's CPU profile.
    process.kill(-agentPid, 'SIGTERM');
    await Promise.race([agentExited, sleep(15_000)]);
    agentPid = 0;
    if (profDir !== null) {
      for (const f of (await readdir(profDir)).filter((n) => n.endsWith('.cpuprofile'))) {
        const p = await summarizeProfile(join(profDir, f), 25);
        log(`profile ${f}: ${round(p.totalMs)} ms, idle ${round(p.idlePct, 1)} %`);
        for (const r of p.functions) log(`  ${r.selfPct.toFixed(1).padStart(5)} %  ${r.name}  ${r.where}`);
        for (const r of p.categories) log(`  [${r.selfPct.toFixed(1).padStart(5)} %] ${r.name}`);
      }
    }
  } finally {
    pool?.kill();
    if (agentPid !== 0) {
      try {
        process.kill(-agentPid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await stopAllPeers();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

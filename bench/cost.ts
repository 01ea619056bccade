// How cost grows with the number of organizations and the entry size (`npm run bench:cost`):
// for each n in --orgs and each size in --entry-bytes, a fresh network of n peer processes on
// 127.0.0.1 and a short ladder of open-loop steps to the highest rate that still keeps up (the
// same keep-up rule as `npm run bench`), and at that step: CPU per finalized entry per peer
// (/proc/<pid>/stat of every peer ÷ entries ÷ n), bytes on the wire per entry per peer (the
// peers' cairn_net_bytes_received_total ÷ entries ÷ n) and write system calls per entry per peer
// (/proc/<pid>/io syscw: sockets, LevelDB and logs together). `--rate R` runs one step at R
// instead of the ladder: the same offered rate for every n, to compare per-peer cost directly.
// After the ladder, one more step at an equal offered rate for every n (`--equal-rate R`, default
// 60/s, which every n keeps up with): at its own maximum a larger n decides smaller blocks, which
// inflates its per-entry cost. Then a few steps steered to an equal block size for every n
// (`--equal-block B`, default 40 entries per block; bench/cost-equal-block.ts): votes and checkpoint
// signatures are per block, so only at one block size does per-peer cost per entry show what n adds.
// Then, when an `etcd` binary is on PATH, the same load shape against a 4-member etcd
// (bench/etcd.ts). Bounded: ~10 minutes on 2 cores for the default 3 × 2 configurations.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseMetrics } from './counters.js';
import { blockMiss, costAtBlockSize, equalBlockSearch, type AtBlockSize, type EqualBlockResult } from './cost-equal-block.js';
import { formatCostTable, rowSteps } from './cost-table.js';
import { runEtcdPhase, type EtcdPhaseResult } from './etcd.js';
import { BenchHttp } from './http.js';
import { LoadgenPool } from './loadgens.js';
import { killAllPeers, startPeerProcess, stopAllPeers, writeNetwork, BENCH_PEERS_MAX, type PeerProcess } from './network.js';
import { codeRoot, recordedPath } from './paths.js';
import { cpuSeconds } from './procstat.js';
import { summarizeProfile } from './profile.js';
import { machine } from './run.js';
import { benchLogger, exitOnSignal, settle, sleep, waitConnected } from './settle.js';
import { climbLadder, stepReport, type StepReport } from './step.js';
import { round } from './stats.js';
import { argsOrExit, readArgs } from './args.js';

const USAGE = `usage: bench:cost [--orgs 4,7,10] [--entry-bytes 300,1024] [--step-s 6] [--rate R] [--equal-rate R|0] [--equal-block B|0] [--profile] [--etcd auto|off] [--out FILE]`;

export interface CostOptions {
  orgs: number[];
  entryBytes: number[];
  /** Length of one ladder step. */
  stepS: number;
  /** One step at this offered rate per configuration instead of the ladder. */
  rate: number | null;
  /** One more step per configuration at this offered rate, equal for every n (0: none). */
  equalRate: number;
  /** Entries per block the equal-block-size steps aim at, the same for every n (0: none). */
  equalBlock: number;
  /** V8 CPU profile of the first peer of each configuration (summarised into the result). */
  profile: boolean;
  etcd: 'auto' | 'off';
  out: string | null;
}

/** Up-steps of the ladder (×LADDER_FACTOR each) before it stops anyway. */
const LADDER_UP_MAX = 5;
/** Offered rate of the equal-rate step: well under what n = 10 keeps up with on 2 cores. */
const EQUAL_RATE_DEFAULT = 60;
/** Entries per block of the equal-block-size step: a block size every default n reaches under its own maximum. */
const EQUAL_BLOCK_DEFAULT = 40;
/** Lowest offered rate the ladder goes down to (entries/s). */
const RATE_FLOOR = 25;
/** First offered rate for 4 organizations and 300-byte entries; scaled by 4/n and by size. */
const START_RATE_4_ORGS = 400;
/** Load generators and client keys (as the default bench). */
const LOADGENS = 2;
const CLIENTS = 256;

const log = benchLogger('bench:cost');

export function parseCostArgs(argv: string[]): CostOptions {
  const o: CostOptions = { orgs: [4, 7, 10], entryBytes: [300, 1024], stepS: 6, rate: null, equalRate: EQUAL_RATE_DEFAULT, equalBlock: EQUAL_BLOCK_DEFAULT, profile: false, etcd: 'auto', out: null };
  readArgs(argv, USAGE, ({ name: a, value: v, int, list, oneOf, refuse, unknown }) => {
    if (a === '--orgs') o.orgs = list(v(), 1, BENCH_PEERS_MAX);
    else if (a === '--entry-bytes') o.entryBytes = list(v(), 200, 16_384);
    else if (a === '--step-s') o.stepS = int(v(), 2, 60);
    else if (a === '--rate') o.rate = int(v(), 10, 100_000);
    else if (a === '--equal-rate') {
      const r = int(v(), 0, 100_000);
      if (r !== 0 && r < 10) refuse('0 (none) or at least 10');
      o.equalRate = r;
    } else if (a === '--equal-block') {
      const b = int(v(), 0, 100_000);
      if (b !== 0 && b < 2) refuse('0 (none) or at least 2');
      o.equalBlock = b;
    } else if (a === '--profile') o.profile = true;
    else if (a === '--etcd') o.etcd = oneOf(v(), ['auto', 'off'] as const);
    else if (a === '--out') o.out = v();
    else unknown();
  });
  return o;
}

/** What the peers used during one step, read from /proc and their /metrics. */
interface Usage {
  cpuS: number;
  syscw: number;
  wireReceived: number;
  wireSent: number;
  /** Height of the first peer (heights decided during a step: per-block costs). */
  height: number;
}

async function syscw(pid: number): Promise<number> {
  try {
    const m = /^syscw:\s+(\d+)$/m.exec(await readFile(`/proc/${pid}/io`, 'utf8'));
    return m === null ? NaN : Number(m[1]);
  } catch {
    return NaN;
  }
}

async function usage(http: BenchHttp, procs: PeerProcess[]): Promise<Usage> {
  const u: Usage = { cpuS: 0, syscw: 0, wireReceived: 0, wireSent: 0, height: 0 };
  for (const p of procs) {
    u.cpuS += await cpuSeconds(p.pid);
    u.syscw += await syscw(p.pid);
    const r = await http.request(`${p.spec.url}/metrics`, { timeoutMs: 10_000 });
    for (const [k, x] of parseMetrics(r.status === 200 ? r.body.toString('utf8') : '')) {
      if (k.startsWith('cairn_net_bytes_received_total')) u.wireReceived += x;
      else if (k.startsWith('cairn_net_bytes_sent_total')) u.wireSent += x;
      else if (k === 'cairn_height' && p === procs[0]) u.height = x;
    }
  }
  return u;
}

export interface CostStep {
  offeredRate: number;
  finalizedPerSec: number;
  final: number;
  keepsUp: boolean;
  why: string;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerEntryPerPeer: number;
  wireBytesPerEntryPerPeer: number;
  writeSyscallsPerEntryPerPeer: number;
  /** Entries per decided block during the step (per-block costs are spread over these). */
  entriesPerBlock: number;
}

export interface CostRow {
  orgs: number;
  entryBytes: number;
  /** The step the row reports: the highest that kept up (or, with --rate, the only one). */
  at: CostStep | null;
  steps: CostStep[];
  /** The step at the equal offered rate (--equal-rate), the same for every n; null when turned off. */
  equal: CostStep | null;
  /**
   * Steps steered to --equal-block entries per block (rate within [ladder floor, this row's highest
   * rate that kept up]); `step` is the one closest to the target. Null when turned off.
   */
  equalBlock?: (EqualBlockResult<CostStep> & { skipped?: string }) | null;
  /** Costs at exactly the equal-block target, interpolated through the steps on either side (costAtBlockSize); null: no answer. */
  atBlockSize?: AtBlockSize | null;
  loadAverage: { start: number; end: number };
  profile?: unknown;
}

function costStep(rep: StepReport, n: number, d: Usage): CostStep {
  const per = (x: number, k = 1) => (rep.final > 0 ? round((x * k) / rep.final / n, 3) : NaN);
  return {
    offeredRate: rep.offeredRate,
    finalizedPerSec: rep.finalizedPerSec,
    final: rep.final,
    keepsUp: rep.keepsUp,
    why: rep.why,
    p50Ms: rep.latencyMs.p50,
    p99Ms: rep.latencyMs.p99,
    cpuMsPerEntryPerPeer: per(d.cpuS, 1000),
    wireBytesPerEntryPerPeer: round(per(d.wireReceived)),
    writeSyscallsPerEntryPerPeer: per(d.syscw),
    entriesPerBlock: d.height > 0 ? round(rep.final / d.height, 1) : NaN,
  };
}

async function measureConfig(o: CostOptions, n: number, entryBytes: number, http: BenchHttp): Promise<CostRow> {
  const loadStart = round(os.loadavg()[0]!, 2);
  const dir = await mkdtemp(join(os.tmpdir(), 'cairn-cost-'));
  const profDir = join(dir, 'profiles');
  let pool: LoadgenPool | null = null;
  try {
    const net = await writeNetwork(dir, { peers: n, clients: CLIENTS });
    if (o.profile) await mkdir(profDir, { recursive: true });
    const procs = net.peers.map((spec, i) => startPeerProcess(spec, { env: { CAIRN_SEARCH_INDEXES: 'on' }, ...(o.profile && i === 0 ? { cpuProfDir: profDir } : {}) }));
    await waitConnected(http, procs, 90_000);
    pool = await LoadgenPool.start(LOADGENS, { trustJson: net.trustJson, entryBytes, auth: null }, net.clients.map((c) => c.seedHex));
    const urls = net.peers.map((p) => p.url);
    const steps: CostStep[] = [];
    const run = async (id: string, rate: number, durationMs: number): Promise<CostStep> => {
      await settle(http, urls, 30_000);
      const u0 = await usage(http, procs);
      const r = await pool!.runPhase({ id, rate, durationMs, urls, tickMs: 50, pollMs: 20, drainMs: 10_000, stallMs: 5_000, proofSample: 5 });
      const u1 = await usage(http, procs);
      const d: Usage = { cpuS: u1.cpuS - u0.cpuS, syscw: u1.syscw - u0.syscw, wireReceived: u1.wireReceived - u0.wireReceived, wireSent: u1.wireSent - u0.wireSent, height: u1.height - u0.height };
      const s = costStep(stepReport(r, rate, durationMs, null), n, d);
      log(`n=${n} ${entryBytes} B ${id}: offered ${round(rate)}/s -> ${s.finalizedPerSec}/s, p99 ${s.p99Ms} ms, ${s.cpuMsPerEntryPerPeer} ms CPU, ${s.wireBytesPerEntryPerPeer} B wire, ${s.writeSyscallsPerEntryPerPeer} writes per entry per peer, ${s.entriesPerBlock} entries/block${s.keepsUp ? '' : ` — does not keep up: ${s.why}`}`);
      return s;
    };
    await run('warmup', Math.max(RATE_FLOOR, 50), 2_000);
    const stepMs = o.stepS * 1000;
    let at: CostStep | null = null;
    if (o.rate !== null) {
      at = await run('fixed', o.rate, stepMs);
      steps.push(at);
    } else {
      const l = await climbLadder({ start: (START_RATE_4_ORGS * 4) / n / Math.sqrt(entryBytes / 300), upMax: LADDER_UP_MAX, floor: RATE_FLOOR }, (id, rate) => run(id, rate, stepMs));
      at = l.best;
      steps.push(...l.steps);
    }
    const equal = o.equalRate > 0 ? await run('equal', o.equalRate, stepMs) : null;
    let equalBlock: CostRow['equalBlock'] = null;
    if (o.equalBlock > 0) {
      // The step already run (ladder or equal rate) closest to the target seeds the first guess;
      // no step kept up: nothing to bound the rate by.
      const seen = [...steps, ...(equal === null ? [] : [equal])].filter((s) => s.keepsUp && blockMiss(s, o.equalBlock) < Infinity);
      const hint = seen.reduce<CostStep | null>((h, s) => (h === null || blockMiss(s, o.equalBlock) < blockMiss(h, o.equalBlock) ? s : h), null);
      if (at === null || !at.keepsUp || hint === null) equalBlock = { target: o.equalBlock, step: null, steps: [], skipped: 'no step kept up' };
      else equalBlock = await equalBlockSearch({ target: o.equalBlock, max: at.offeredRate, floor: RATE_FLOOR, hint }, (id, rate) => run(id, rate, stepMs));
      const b = equalBlock.step;
      if (b !== null) log(`n=${n} ${entryBytes} B equal block ~${o.equalBlock}: kept offered ${round(b.offeredRate)}/s, ${b.entriesPerBlock} entries/block (${equalBlock.steps.length} steps)`);
    }
    let profile: unknown;
    await pool.close();
    pool = null;
    await stopAllPeers();
    if (o.profile) {
      const { readdir } = await import('node:fs/promises');
      const f = (await readdir(profDir)).find((x) => x.endsWith('.cpuprofile'));
      if (f !== undefined) profile = await summarizeProfile(join(profDir, f), 25);
    }
    const atBlockSize = equalBlock === null ? undefined : costAtBlockSize(rowSteps({ steps, equal, equalBlock }), o.equalBlock);
    return { orgs: n, entryBytes, at, steps, equal, equalBlock, ...(atBlockSize === undefined ? {} : { atBlockSize }), loadAverage: { start: loadStart, end: round(os.loadavg()[0]!, 2) }, ...(profile === undefined ? {} : { profile }) };
  } finally {
    pool?.kill();
    killAllPeers();
    await sleep(200);
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runCost(o: CostOptions): Promise<Record<string, unknown>> {
  const startedAt = new Date();
  const http = new BenchHttp(16);
  const onSignal = exitOnSignal(log, killAllPeers);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', killAllPeers);
  const rows: CostRow[] = [];
  for (const n of o.orgs) {
    for (const b of o.entryBytes) {
      try {
        rows.push(await measureConfig(o, n, b, http));
      } catch (e) {
        // The ports of a network are picked free but bound later by the peers: on a busy
        // machine another process can take one first. One retry with fresh ports.
        if (!/exited during startup|not connected after/.test((e as Error).message)) throw e;
        log(`n=${n} ${b} B: network did not start (${(e as Error).message.split('\n').slice(0, 2).join(' ')}); one retry with fresh ports`);
        rows.push(await measureConfig(o, n, b, http));
      }
    }
  }
  const etcd: EtcdPhaseResult = o.etcd === 'off' ? { skipped: true, reason: 'etcd phase turned off (--etcd off)' } : await runEtcdPhase({ valueBytes: o.entryBytes.includes(300) ? 300 : o.entryBytes[0]!, stepS: o.stepS, log });
  return { kind: 'cost', startedAt: startedAt.toISOString(), elapsedS: round((Date.now() - startedAt.getTime()) / 1000, 1), machine: machine(), options: { ...o }, rows, etcd };
}

async function main(): Promise<void> {
  const o = argsOrExit('bench:cost', () => parseCostArgs(process.argv.slice(2)));
  const result = await runCost(o);
  const out = o.out ?? join(codeRoot(), 'bench', 'results', `cost-${(result.startedAt as string).replace(/[:.]/g, '-')}${o.rate !== null ? '-fixed' : ''}.json`);
  await mkdir(join(out, '..'), { recursive: true });
  await writeFile(out, JSON.stringify({ ...result, options: { ...o, out: recordedPath(out) } }, null, 2) + '\n');
  process.stdout.write(formatCostTable(result as unknown as Parameters<typeof formatCostTable>[0]) + '\n');
  process.stdout.write(`JSON: ${out}\n`);
  process.exit(0);
}

const invokedDirectly = process.argv[1]?.endsWith('/bench/cost.ts') === true || process.argv[1]?.endsWith('/bench/cost.js') === true;
if (invokedDirectly) {
  main().catch((e: Error) => {
    process.stderr.write(`bench:cost: failed: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}

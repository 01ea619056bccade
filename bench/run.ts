// `npm run bench` (compiled: node dist/bench/run.js; from source: npx tsx bench/run.ts).
//
// Starts a network of N real peer processes on 127.0.0.1 (bench/network.ts) and separate
// load-generator processes (bench/loadgen.ts), then measures, from what the load generators saw
// finalized (verified checkpoints + entry bundles + sampled inclusion proofs):
//   - max sustained throughput (open-loop steps rising until the backlog grows, then a long step);
//   - submit -> final latency at 25 / 50 / 75 % of that maximum;
//   - the verification bound (node:crypto verifications/s on one core × cores ÷ peers);
//   - CPU seconds and disk bytes per finalized entry; peak RSS per peer over the whole run and
//     during each step (the max sustained one is the figure for the memory target);
//   - auditor speed (light verifier) and `cairn audit` over the whole log;
//   - catch-up rate of a peer restarted ≥ 100,000 entries behind;
//   - rule evaluation and replay speed with the example rules, against their targets
//     (bench/alerts.ts; after the network is stopped; `--no-alerts` skips it, `--alerts-only`,
//     i.e. `npm run bench:alerts`, runs only it, against the fastest recorded full run).
// `--search-indexes off` starts the peers without search indexes (docs/search.md): run it back to
// back with a normal run to measure what writing the indexes costs the finalized throughput.
// `--timeline DIR`: the peers record their pipeline timeline in DIR (docs/timeline.md), and the
// run ends with its report (where an idle entry's latency goes; a height's steps under load).
// Prints a table and writes JSON under bench/results/. Every wait is bounded; every child is
// killed (process groups) on exit, error and SIGINT/SIGTERM.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import { join, relative } from 'node:path';
import { parseTrustFile } from '../src/verifier/index.js';
import { ALERTS_FULL, ALERTS_SMOKE, bestFullRun, runAlertsPhase } from './alerts.js';
import { auditorSpeed, fetchProofSamples, runCairnAudit, verifyRatePerCore, type AuditorSpeed, type AuditRun } from './auditor.js';
import { BenchCredentials } from './auth.js';
import { describeCounters, diffSnapshots, snapshotPeers } from './counters.js';
import { BenchHttp } from './http.js';
import { LoadgenPool } from './loadgens.js';
import { formatTimelineReport, readTimelineDir } from './timeline.js';
import { timelineReport, type TimelineReport } from './timeline-report.js';
import { killAllPeers, startPeerProcess, stopAllPeers, stopPeerProcess, writeNetwork, type BenchNetworkSpec, type PeerProcess } from './network.js';
import { codeRoot, recordedPath } from './paths.js';
import { PeerPeakRss } from './peak-rss.js';
import { parseBenchArgs, USAGE, type BenchOptions } from './run-options.js';
import { argsOrExit } from './args.js';
import { cpuSeconds, diskBytes, peakRssBytes, threadCpuSeconds } from './procstat.js';
import { summarizeProfile } from './profile.js';
import type { LoadgenPhase } from './protocol.js';
import { round } from './stats.js';
import { formatTable } from './table.js';
import { measureIdleLatency } from './idle-latency.js';
import { STATUS_POLL_QUIET_MS } from '../node/peer/sync.js';
import { exitOnSignal, settle, status, waitConnected } from './settle.js';
import { stepReport, type StepReport } from './step.js';

/** Lowest offered rate the ramp goes down to (entries/s). */
const RATE_FLOOR = 25;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export function machine() {
  // CAIRN_BENCH_COMMIT names the code when it runs from an export without .git (e.g. a clean copy of HEAD).
  let commit = process.env.CAIRN_BENCH_COMMIT ?? 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: codeRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // The bench runs the working tree: say so when it differs from the commit.
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: codeRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (dirty.length > 0) commit += '+uncommitted';
  } catch {
    // not a git checkout
  }
  return { cpuModel: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memoryGiB: round(os.totalmem() / 2 ** 30, 1), node: process.version, platform: `${os.platform()} ${os.release()}`, commit };
}

export async function runBench(o: BenchOptions): Promise<Record<string, unknown>> {
  const startedAt = new Date();
  const loadStart = round(os.loadavg()[0]!, 2);
  const S = o.smoke;
  const http = new BenchHttp(16);
  const benchDir = await mkdtemp(join(os.tmpdir(), 'cairn-bench-'));
  const profDir = join(benchDir, 'profiles');
  let pool: LoadgenPool | null = null;
  const procs: PeerProcess[] = [];
  const cleanup = () => {
    pool?.kill();
    killAllPeers();
  };
  process.once('exit', cleanup);
  const onSignal = exitOnSignal(log, cleanup);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // 1. The verification bound, measured before anything else runs on this machine.
    const verifyPerCore = verifyRatePerCore(o.entryBytes, S ? 300 : 1500);
    const cores = os.cpus().length;
    const bound = (verifyPerCore * cores) / o.orgs;
    log(`node:crypto Ed25519 verify: ${round(verifyPerCore)}/s per core; bound ${round(verifyPerCore)} × ${cores} cores ÷ ${o.orgs} peers = ${round(bound)} entries/s`);

    // 2. The network.
    if (o.metaAudit && o.auth === 'none') throw new Error(`--meta-audit needs --auth signature|token\n${USAGE}`);
    const net: BenchNetworkSpec = await writeNetwork(benchDir, { peers: o.orgs, clients: o.clients, auth: o.auth, metaAudit: o.metaAudit });
    const creds = net.auth === null ? null : new BenchCredentials(net.auth.config, (u, opts) => http.raw(u, opts));
    http.credentials = creds;
    const trust = parseTrustFile(net.trustJson);
    if (!trust.ok) throw new Error(`trust file: ${trust.message}`);
    if (o.profile) await mkdir(profDir, { recursive: true });
    // The peer config switch (CAIRN_SEARCH_INDEXES overrides `searchIndexes` of the config file).
    const peerEnv: Record<string, string> = { CAIRN_SEARCH_INDEXES: o.searchIndexes ? 'on' : 'off' };
    if (o.timeline !== null) {
      await mkdir(o.timeline, { recursive: true });
      peerEnv.CAIRN_TIMELINE_DIR = o.timeline;
    }
    for (const [i, spec] of net.peers.entries()) procs.push(startPeerProcess(spec, { env: peerEnv, ...(o.profile && i === 0 ? { cpuProfDir: profDir } : {}) }));
    await waitConnected(http, procs, 60_000);
    log(`${o.orgs} peers up and connected (${benchDir})`);
    const pids = () => procs.map((p) => p.pid);
    // Per-step peaks reset VmHWM: this keeps the whole-run peak across the resets.
    const rssPeak = new PeerPeakRss();
    // Fixed cost: CPU the idle network uses (timers, gossip heartbeats, status polls). The window
    // spans two of the idle status poll's periods (STATUS_POLL_QUIET_MS), so a poll that falls
    // in it or just outside it does not swing the figure.
    await sleep(S ? 500 : 2000);
    const idleRss = await rssPeak.start(pids());
    const idle0 = await Promise.all(procs.map((p) => cpuSeconds(p.pid)));
    const idleMs = S ? 1000 : 2 * STATUS_POLL_QUIET_MS;
    await sleep(idleMs);
    const idle1 = await Promise.all(procs.map((p) => cpuSeconds(p.pid)));
    const idlePeakRssMiB = await rssPeak.end(idleRss);
    const idleCpuPct = idle1.map((x, i) => round(((x - idle0[i]!) / (idleMs / 1000)) * 100, 1));
    // Idle latency: one entry at a time, each awaited to final, before any load (bench/idle-latency.ts).
    const idleLatency = await measureIdleLatency(http, { urls: net.peers.map((p) => p.url), trust: trust.trust, clientSeedHex: net.clients[0]!.seedHex, count: S ? 20 : 100, entryBytes: o.entryBytes });
    log(`idle latency (one entry at a time, ${idleLatency.entries} entries): p50 ${idleLatency.latencyMs.p50} / p90 ${idleLatency.latencyMs.p90} / p99 ${idleLatency.latencyMs.p99} / max ${idleLatency.latencyMs.max} ms`);
    pool = await LoadgenPool.start(o.loadgens, { trustJson: net.trustJson, entryBytes: o.entryBytes, auth: net.auth?.config ?? null }, net.clients.map((c) => c.seedHex));
    const allUrls = net.peers.map((p) => p.url);
    const phase = (id: string, rate: number, durationMs: number, urls = allUrls): LoadgenPhase => ({
      id,
      rate,
      durationMs,
      urls,
      tickMs: 50,
      pollMs: 20,
      drainMs: S ? 15_000 : 20_000,
      stallMs: S ? 8_000 : 6_000,
      proofSample: S ? 10 : 50,
    });
    const run = async (id: string, rate: number, durationMs: number, urls = allUrls): Promise<StepReport> => {
      // Each phase starts on a settled network: a backlog left by an overloaded step would
      // otherwise be charged to the next one's latency.
      await settle(http, urls, S ? 20_000 : 60_000);
      const before = await snapshotPeers(http, urls);
      // The peak of this step alone (load and drain), not of the overloaded steps before it.
      const rssWindow = await rssPeak.start(pids());
      const r = await pool!.runPhase(phase(id, rate, durationMs, urls));
      const peakRssMiB = await rssPeak.end(rssWindow);
      const counters = diffSnapshots(before, await snapshotPeers(http, urls));
      const rep: StepReport = { ...stepReport(r, rate, durationMs, counters), peakRssMiB };
      log(`${id}: offered ${round(rate)}/s -> finalized ${rep.finalizedPerSec}/s, p50 ${rep.latencyMs.p50} ms, p99 ${rep.latencyMs.p99} ms, ${rep.keepsUp ? 'keeps up' : `does NOT keep up: ${rep.why}`}; peak RSS ${peakRssMiB.map((x) => x ?? 'n/a').join(' / ')} MiB`);
      const reads = Object.keys(rep.readStatus).length > 0 ? `; reads not 200 ${JSON.stringify(rep.readStatus)}` : '';
      const authed = rep.auth.signed + rep.auth.bearer > 0 ? `; authenticated requests ${JSON.stringify(rep.auth)}` : '';
      log(`${id}: counters: ${describeCounters(counters)}; submit statuses ${JSON.stringify(rep.httpStatus)}${reads}${authed}`);
      return rep;
    };

    // 3. Warm-up (JIT, first checkpoints), then rising open-loop steps.
    await run('warmup', S ? 100 : Math.max(RATE_FLOOR, o.startRate / 2), S ? 1000 : 3000);
    const steps: StepReport[] = [];
    const stepMs = S ? 1500 : 8000;
    let rate = S ? 200 : o.startRate;
    let best: number | null = null;
    let failedAt: number | null = null;
    // Smoke: no ramp (it only checks that every part works); the sustained step runs at 200/s.
    const F = o.fixedRate !== null;
    const ramp = S || F ? 0 : 12;
    for (let k = 0; k < ramp; k++) {
      const rep = await run(`step${k}`, rate, stepMs);
      steps.push(rep);
      if (rep.keepsUp) {
        best = rate;
        rate = rate * 1.4;
      } else if (best === null && rate / 2 >= RATE_FLOOR && k < ramp - 1) {
        // Even the first step was too much: go down instead of up.
        failedAt = rate;
        rate = rate / 2;
      } else {
        failedAt = rate;
        break;
      }
    }
    if (!S && best !== null && failedAt !== null) {
      const mid = (best + failedAt) / 2;
      const rep = await run('step-mid', mid, stepMs);
      steps.push(rep);
      if (rep.keepsUp) best = mid;
    }
    if (best === null) best = F ? o.fixedRate! : S ? 200 : RATE_FLOOR;

    // 4. The sustained step (>= 30 s by default) at the highest rate that kept up; one retry lower.
    const durationMs = (S ? 3 : o.durationS) * 1000;
    const cpu0 = await Promise.all(procs.map((p) => cpuSeconds(p.pid)));
    const threads0 = await Promise.all(procs.map((p) => threadCpuSeconds(p.pid)));
    const lg0 = await pool.cpuSeconds();
    let sustained = await run('sustained', best, durationMs);
    let cpu1 = await Promise.all(procs.map((p) => cpuSeconds(p.pid)));
    let threads1 = await Promise.all(procs.map((p) => threadCpuSeconds(p.pid)));
    let lg1 = await pool.cpuSeconds();
    let cpuBase = cpu0;
    let threadsBase = threads0;
    let lgBase = lg0;
    if (!sustained.keepsUp && !S && !F) {
      cpuBase = cpu1;
      threadsBase = threads1;
      lgBase = lg1;
      sustained = await run('sustained-retry', best * 0.75, durationMs);
      cpu1 = await Promise.all(procs.map((p) => cpuSeconds(p.pid)));
      threads1 = await Promise.all(procs.map((p) => threadCpuSeconds(p.pid)));
      lg1 = await pool.cpuSeconds();
    }
    // Per finalized entry, summed over the peers: which threads the CPU went to.
    const threadMsPerEntry: Record<string, number> = {};
    for (let i = 0; i < procs.length; i++) {
      for (const [name, secs] of Object.entries(threads1[i]!)) {
        const d = secs - (threadsBase[i]![name] ?? 0);
        if (sustained.final > 0) threadMsPerEntry[name] = (threadMsPerEntry[name] ?? 0) + (d / sustained.final) * 1000;
      }
    }
    for (const k of Object.keys(threadMsPerEntry)) threadMsPerEntry[k] = round(threadMsPerEntry[k]!, 3);
    const maxThroughput = sustained.finalizedPerSec;
    const peerCpuS = cpu1.reduce((a, x, i) => a + (x - cpuBase[i]!), 0);
    const cpuPerEntryMs = sustained.final > 0 ? (peerCpuS / sustained.final) * 1000 : NaN;
    const loadgenCpuPerEntryMs = sustained.final > 0 ? ((lg1 - lgBase) / sustained.final) * 1000 : NaN;

    // 5. Latency at 25 / 50 / 75 % of the maximum.
    const latMs = S ? 1000 : 15_000;
    const latency: Record<string, StepReport> = {};
    for (const pct of F ? [] : [25, 50, 75]) latency[`${pct}%`] = await run(`latency${pct}`, (maxThroughput * pct) / 100, latMs);

    // 6. Resources: peak RSS per peer over the run so far (before the catch-up restarts one), disk per entry.
    const rss = await rssPeak.wholeRun(pids());

    // 7. Catch-up: stop the last peer, push entries to the others, restart it, time to the head.
    let catchup: Record<string, unknown> = { skipped: true };
    const target = S ? 300 : o.catchupEntries;
    if (target > 0 && o.orgs >= 4 && !F) {
      const victim = procs[procs.length - 1]!;
      const before = (await status(http, victim.spec.url))?.treeSize ?? 0;
      await stopPeerProcess(victim);
      log(`catch-up: ${victim.spec.name} stopped at tree size ${before}; pushing ${target} entries to the others`);
      const others = allUrls.slice(0, -1);
      // Pushed at the highest finalized rate seen in any step (latency does not matter here,
      // only building the backlog), bounded in time
      // (catchupMaxS): on a slow or busy machine fewer than `target` entries get behind, and the
      // result says so.
      const bestSeen = Math.max(maxThroughput, ...steps.map((x) => x.finalizedPerSec));
      const pushRate = Math.max(50, bestSeen);
      const pushMs = Math.min(Math.ceil((target / pushRate) * 1000), (S ? 5 : o.catchupMaxS) * 1000);
      const push = await run('catchup-push', pushRate, pushMs, others);
      const heads = await Promise.all(others.map((u) => status(http, u)));
      const head = Math.max(...heads.map((s) => s?.treeSize ?? 0));
      const restarted = startPeerProcess(victim.spec, { env: peerEnv });
      procs[procs.length - 1] = restarted;
      const t0 = performance.now();
      let size = before;
      let lastChange = t0;
      let reached = false;
      let firstProgressAt = NaN;
      const deadline = t0 + (S ? 60_000 : 300_000);
      while (performance.now() < deadline) {
        const s = await status(http, restarted.spec.url);
        if (s !== null && s.treeSize !== size) {
          if (Number.isNaN(firstProgressAt) && s.treeSize > before) firstProgressAt = performance.now();
          size = s.treeSize;
          lastChange = performance.now();
        }
        if (size >= head) {
          reached = true;
          break;
        }
        if (!restarted.alive) throw new Error(`restarted peer exited:\n${restarted.lines.slice(-20).join('\n')}`);
        if (performance.now() - lastChange > 60_000) break;
        await sleep(100);
      }
      const seconds = (performance.now() - t0) / 1000;
      const syncSeconds = (performance.now() - firstProgressAt) / 1000;
      // The restarted process's whole life so far: start-up and catching up.
      const restartedPeakRss = await peakRssBytes(restarted.pid);
      catchup = {
        entriesBehind: head - before,
        target,
        belowTarget: head - before < target,
        pushFinalized: push.final,
        pushFinalizedPerSec: push.finalizedPerSec,
        reachedHead: reached,
        seconds: round(seconds, 2),
        entriesPerSec: round((size - before) / seconds),
        // Without the process start (module loading, LevelDB open, p2p connect).
        secondsFromFirstProgress: round(syncSeconds, 2),
        entriesPerSecFromFirstProgress: round((size - before) / syncSeconds),
        restartedPeakRssMiB: round(restartedPeakRss / 2 ** 20, 1),
      };
      log(`catch-up: ${JSON.stringify(catchup)}`);
      await waitConnected(http, procs, 60_000);
    }

    // 8. Auditor speed (light verifier) and `cairn audit` over the whole log.
    const head0 = await status(http, allUrls[0]!);
    const treeSize = head0?.finalSize ?? 0;
    const samples = await fetchProofSamples(http, allUrls[0]!, treeSize, S ? 8 : 32);
    const auditor: AuditorSpeed = auditorSpeed(trust.trust, samples, S ? 200 : 1000);
    log(`auditor: ${JSON.stringify(auditor)}`);
    const auditEnv = creds !== null && net.auth !== null ? await creds.cliEnv(net.auth.keyPath, allUrls[0]!) : {};
    const audit: AuditRun = await runCairnAudit(allUrls[0]!, net.trustPath, S ? 60_000 : 300_000, auditEnv);
    log(`cairn audit: ${audit.ok ? 'OK' : 'FAILED'} ${audit.entries} entries in ${round(audit.seconds, 2)} s (${round(audit.entriesPerSec)}/s)`);

    // Evidence that the switch took effect: with indexes a search answers 200, without them 503 index_incomplete.
    const probe = await http.json<{ error?: { code?: string } }>(`${allUrls[0]!}/v1/search?limit=1`).catch((e: Error) => ({ status: 0, value: { error: { code: e.message } } }));
    const searchIndexes = { on: o.searchIndexes, searchStatus: probe.status, searchError: probe.value?.error?.code ?? null };
    log(`search indexes ${o.searchIndexes ? 'on' : 'off'}: GET /v1/search answered ${probe.status}${searchIndexes.searchError !== null ? ` ${searchIndexes.searchError}` : ''}`);

    const disk = await Promise.all(procs.map((p) => diskBytes(p.spec.dataDir)));
    const finalSizes = await Promise.all(procs.map((p) => status(http, p.spec.url)));
    await pool.close();
    pool = null;
    // A clean stop lets V8 write the CPU profile (it can take a while for a long run).
    await stopAllPeers(o.profile ? 120_000 : 15_000);
    let profile: unknown = null;
    if (o.profile) {
      // The main thread's profile is the largest file (a loader thread may write a small one too).
      const files = [];
      for (const f of (await readdir(profDir)).filter((x) => x.endsWith('.cpuprofile'))) files.push({ f, size: (await stat(join(profDir, f))).size });
      files.sort((a, b) => b.size - a.size);
      if (files[0] !== undefined) {
        const file = join(profDir, files[0].f);
        // Recorded relative to the bench's temp dir (kept with --keep; the log names it).
        profile = { file: relative(benchDir, file), ...(await summarizeProfile(file, 25)) };
        log(`profile of ${net.peers[0]!.name}: ${file}`);
      }
    }

    // The peers have stopped, so their timelines are complete (the recorder writes the rest at exit).
    let timelineSummary: TimelineReport | null = null;
    if (o.timeline !== null) {
      const d = await readTimelineDir(o.timeline);
      timelineSummary = timelineReport(d.lines);
      log(`timeline of ${d.files.length} peer processes (${o.timeline}):\n${formatTimelineReport(timelineSummary)}`);
    }

    // 9. Rule evaluation speed, on a machine the network no longer loads. Compared with this run's
    // max sustained rate; a fixed-rate run has no max, so it skips the phase.
    const alerts = o.alerts && !F ? await runAlertsPhase(S ? ALERTS_SMOKE : ALERTS_FULL, { entriesPerSec: maxThroughput, from: 'this run' }, log) : { skipped: true };

    const result = {
      kind: S ? 'smoke' : o.fixedRate !== null ? 'fixed-rate' : 'full',
      startedAt: startedAt.toISOString(),
      elapsedS: round((Date.now() - startedAt.getTime()) / 1000, 1),
      machine: machine(),
      // The machine may be shared: 1-minute load averages when the run started and ended.
      loadAverage: { start: loadStart, end: round(os.loadavg()[0]!, 2) },
      // A result is committed: the timeline directory only as recordedPath gives it, never a machine's own path.
      options: { ...o, timeline: o.timeline === null ? null : recordedPath(o.timeline) },
      network: { peers: o.orgs, quorum: net.genesis.quorum, clients: o.clients, loadgens: o.loadgens, limits: net.genesis.limits, auth: o.auth, metaAudit: o.metaAudit, searchIndexes },
      verificationBound: { verifyPerSecPerCore: round(verifyPerCore), cores, peers: o.orgs, entriesPerSec: round(bound) },
      maxThroughput: { entriesPerSec: maxThroughput, offeredRate: sustained.offeredRate, durationS: durationMs / 1000, ratioToBound: round(maxThroughput / bound, 3), step: sustained },
      steps,
      latency,
      idleLatency,
      timeline: timelineSummary,
      resources: {
        cpuMsPerEntry: round(cpuPerEntryMs, 3),
        idleCpuPctPerPeer: idleCpuPct,
        cpuMsPerEntryByThread: threadMsPerEntry,
        loadgenCpuMsPerEntry: round(loadgenCpuPerEntryMs, 3),
        // Whole run before the catch-up: start-up, warm-up, every ladder step (the overloaded ones
        // too), the sustained and latency steps.
        peakRssMiB: rss,
        // During the step reported as the max sustained throughput only (what the memory target is about).
        peakRssMaxSustainedMiB: sustained.peakRssMiB ?? null,
        peakRssMaxSustainedStep: { id: sustained.id, offeredRate: sustained.offeredRate },
        idlePeakRssMiB,
        diskBytesPerEntry: disk.map((b, i) => round(b / Math.max(1, finalSizes[i]?.treeSize ?? 1))),
        diskBytes: disk,
        treeSize: finalSizes.map((s) => s?.treeSize ?? null),
      },
      catchup,
      auditor: { ...auditor, cairnAudit: { ok: audit.ok, entries: audit.entries, seconds: round(audit.seconds, 2), entriesPerSec: round(audit.entriesPerSec), ...(audit.ok ? {} : { output: audit.output }) } },
      alerts,
      profile,
    };
    return result;
  } finally {
    process.removeListener('exit', cleanup);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    cleanup();
    http.close();
    if (!o.keep) await rm(benchDir, { recursive: true, force: true }).catch(() => undefined);
    else log(`kept ${benchDir}`);
  }
}

/** `--alerts-only`: the alerts phase alone, against the fastest full run recorded under bench/results/. */
export async function runAlertsOnly(o: BenchOptions): Promise<Record<string, unknown>> {
  const startedAt = new Date();
  const loadStart = round(os.loadavg()[0]!, 2);
  const ref = await bestFullRun();
  if (ref === null) log('alerts: no full run recorded under bench/results/: evaluation speed has no target to compare with');
  const alerts = await runAlertsPhase(o.smoke ? ALERTS_SMOKE : ALERTS_FULL, ref && { entriesPerSec: ref.entriesPerSec, from: ref.file }, log);
  return {
    kind: 'alerts',
    startedAt: startedAt.toISOString(),
    elapsedS: round((Date.now() - startedAt.getTime()) / 1000, 1),
    machine: machine(),
    loadAverage: { start: loadStart, end: round(os.loadavg()[0]!, 2) },
    options: { ...o },
    alerts,
  };
}

/** The result with `options.out` set to where it is written, as recordedPath records it. */
export function recordOutput(result: Record<string, unknown>, out: string): Record<string, unknown> {
  const options = (result.options ?? {}) as Record<string, unknown>;
  return { ...result, options: { ...options, out: recordedPath(out) } };
}

async function main(): Promise<void> {
  const o = argsOrExit('bench', () => parseBenchArgs(process.argv.slice(2)));
  const result = o.alertsOnly ? await runAlertsOnly(o) : await runBench(o);
  const stamp = (result.startedAt as string).replace(/[:.]/g, '-');
  const out = o.out ?? join(codeRoot(), 'bench', 'results', `${stamp}${o.alertsOnly ? '-alerts' : ''}${o.smoke ? '-smoke' : o.fixedRate !== null ? '-fixed' : ''}${o.searchIndexes ? '' : '-no-search-indexes'}.json`);
  await mkdir(join(out, '..'), { recursive: true });
  await writeFile(out, JSON.stringify(recordOutput(result, out), null, 2) + '\n');
  process.stdout.write(formatTable(result) + '\n');
  process.stdout.write(`JSON: ${out}\n`);
  process.exit(0);
}

const invokedDirectly = process.argv[1]?.endsWith('/bench/run.ts') === true || process.argv[1]?.endsWith('/bench/run.js') === true;
if (invokedDirectly) {
  main().catch((e: Error) => {
    process.stderr.write(`bench: failed: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}

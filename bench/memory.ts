// Memory benchmark: a peer's peak resident set under the same load at two log sizes, so "memory
// flat in log size" is measured, not assumed.
//
//   npm run bench:memory -- [--sizes 100000,1000000] [--rate 600] [--duration 30] [--smoke]
//                           [--block-entries 2000] [--reuse DIR] [--keep] [--out FILE]
//
// For each size, a log is built directly through the production code (catchup-build.ts: signed
// entries, real commit certificates, the ledger's own apply path) — deciding 1,000,000 entries by
// consensus would take far too long — and copied into all four organizations' data directories.
// The four peers then run as real processes (node/peer/main.ts) on 127.0.0.1 on that log, the
// load generators offer `--rate` entries/s for `--duration` s, and each peer's VmHWM (peak RSS
// since its start) is read at the end. Same genesis, same load, only the log size differs.
// --smoke: sizes 2,000 and 20,000, 5 s of load (checks that every part works). --reuse DIR: the
// built logs of an earlier --keep run (building 1,000,000 entries takes a few minutes).
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCatchupLog } from './catchup-build.js';
import { BenchHttp } from './http.js';
import { LoadgenPool } from './loadgens.js';
import { codeRoot, recordedPath } from './paths.js';
import { peakRssBytes } from './procstat.js';
import { status } from './settle.js';
import { summarize, round } from './stats.js';
import { killAllPeers, startPeerProcess, stopAllPeers, writeNetwork, type BenchNetworkSpec, type PeerProcess } from './network.js';
import { argsOrExit, readArgs } from './args.js';

interface Options {
  sizes: number[];
  rate: number;
  durationS: number;
  blockEntries: number;
  smoke: boolean;
  keep: boolean;
  reuse: string | null;
  out: string | null;
}

const USAGE = 'usage: bench:memory [--sizes N,M] [--rate R] [--duration S] [--smoke] [--block-entries B] [--reuse DIR] [--keep] [--out FILE]';
/** Largest log built (entries are signed and applied in this process: about 3 minutes per million). */
const SIZE_MAX = 2_000_000;
const MiB = 1024 * 1024;

function parseArgs(argv: string[]): Options {
  const o: Options = { sizes: [100_000, 1_000_000], rate: 600, durationS: 30, blockEntries: 2000, smoke: false, keep: false, reuse: null, out: null };
  let sizesGiven = false;
  readArgs(argv, USAGE, ({ name: a, value: v, int, list, refuse, unknown }) => {
    if (a === '--sizes') {
      o.sizes = list(v(), 1000, SIZE_MAX);
      if (o.sizes.length !== 2) refuse('two sizes');
      sizesGiven = true;
    } else if (a === '--rate') o.rate = int(v(), 10, 10_000);
    else if (a === '--duration') o.durationS = int(v(), 1, 600);
    else if (a === '--block-entries') o.blockEntries = int(v(), 1, 100_000);
    else if (a === '--smoke') o.smoke = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--reuse') o.reuse = v();
    else if (a === '--out') o.out = v();
    else unknown();
  });
  if (o.smoke) {
    if (!sizesGiven) o.sizes = [2_000, 20_000];
    o.durationS = Math.min(o.durationS, 5);
    o.rate = Math.min(o.rate, 200);
  }
  return o;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
function log(m: string): void {
  process.stderr.write(`[memory ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
}

/**
 * Resident memory of `pid` split as /proc/<pid>/status does: RssAnon (the process's own memory:
 * heap, Buffers, native allocations) and RssFile (file pages mapped in, mostly LevelDB's
 * memory-mapped table files: clean page cache the kernel may drop, counted in VmHWM too).
 */
function rssSplit(pid: number): { anon: number; file: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return { anon: NaN, file: NaN };
  }
}

/** MALLOC_ARENA_MAX as the peer process got it (null when unset). */
function peerArenaMax(pid: number): string | null {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return env.find((e) => e.startsWith('MALLOC_ARENA_MAX='))?.slice('MALLOC_ARENA_MAX='.length) ?? null;
  } catch {
    return null;
  }
}

/** Starts the four peers on copies of `store` and waits until they are connected and final at its head. */
async function startOn(net: BenchNetworkSpec, store: string, size: number, http: BenchHttp): Promise<PeerProcess[]> {
  for (const p of net.peers) {
    await rm(p.dataDir, { recursive: true, force: true });
    await cp(store, p.dataDir, { recursive: true });
  }
  const procs = net.peers.map((p) => startPeerProcess(p));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ss = await Promise.all(net.peers.map((p) => status(http, p.url)));
    if (ss.every((s) => s !== null && s.finalSize >= size && s.peers.filter((x) => x.connected).length >= net.peers.length - 1)) return procs;
    for (const p of procs) if (!p.alive) throw new Error(`peer ${p.spec.name} exited:\n${p.lines.slice(-20).join('\n')}`);
    if (Date.now() > deadline) throw new Error(`peers not up, connected and final after 120 s: ${JSON.stringify(ss.map((s) => s && { treeSize: s.treeSize, finalSize: s.finalSize }))}`);
    await sleep(250);
  }
}

async function main(): Promise<void> {
  const o = argsOrExit('bench:memory', () => parseArgs(process.argv.slice(2)));
  const t0 = Date.now();
  const dir = o.reuse ?? (await mkdtemp(join(tmpdir(), 'cairn-memory-')));
  const http = new BenchHttp();
  let pool: LoadgenPool | null = null;
  const onSignal = () => {
    killAllPeers();
    pool?.kill();
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    // 1. One network (genesis, keys, configs) and one built log per size, in organization 0's layout.
    const specPath = join(dir, 'memory-net.json');
    let net: BenchNetworkSpec;
    const stores = o.sizes.map((s) => join(dir, `log-${s}`));
    if (o.reuse !== null) {
      net = (JSON.parse(await readFile(specPath, 'utf8')) as { net: BenchNetworkSpec }).net;
      for (const s of stores) await stat(s);
      log(`reusing ${dir}`);
    } else {
      net = await writeNetwork(dir, { peers: 4, clients: 64 });
      for (const [k, size] of o.sizes.entries()) {
        log(`building a log of ${size} entries, ${o.blockEntries} per block`);
        const b = await buildCatchupLog({ ...net, peers: [{ ...net.peers[0]!, dataDir: stores[k]! }, ...net.peers.slice(1)] }, size, o.blockEntries, log);
        log(`built ${size} entries: signed in ${round(b.signMs / 1000, 1)} s, applied in ${round(b.buildMs / 1000, 1)} s`);
      }
      await writeFile(specPath, JSON.stringify({ net: { ...net, genesis: undefined } }));
    }
    const buildS = (Date.now() - t0) / 1000;

    // 2. Per size: the four peers on that log, the same load, peak RSS.
    const phases = [];
    for (const [k, size] of o.sizes.entries()) {
      const procs = await startOn(net, stores[k]!, size, http);
      log(`${size}: 4 peers up, final at ${size}`);
      pool = await LoadgenPool.start(2, { trustJson: net.trustJson, entryBytes: 300, auth: null }, net.clients.map((c) => c.seedHex));
      const load0 = loadavg()[0]!;
      const arenaMax = peerArenaMax(procs[0]!.pid);
      const rssAtStart = await Promise.all(procs.map((p) => peakRssBytes(p.pid)));
      const durationMs = o.durationS * 1000;
      // VmHWM has no anon/file split: sample both every 200 ms and keep each one's maximum.
      const maxAnon = procs.map(() => 0);
      const maxFile = procs.map(() => 0);
      const sample = () =>
        procs.forEach((p, i) => {
          const m = rssSplit(p.pid);
          maxAnon[i] = Math.max(maxAnon[i]!, m.anon || 0);
          maxFile[i] = Math.max(maxFile[i]!, m.file || 0);
        });
      sample();
      const sampler = setInterval(sample, 200);
      const r = await pool.runPhase({ id: `log-${size}`, rate: o.rate, durationMs, urls: net.peers.map((p) => p.url), tickMs: 50, pollMs: 20, drainMs: 20_000, stallMs: 20_000, proofSample: 10 });
      clearInterval(sampler);
      sample();
      const peak = await Promise.all(procs.map((p) => peakRssBytes(p.pid)));
      const load1 = loadavg()[0]!;
      await pool.close();
      pool = null;
      await stopAllPeers();
      const window = Math.max(r.sendMs, r.lastFinalMs) / 1000;
      const lat = summarize([...r.latencyMs].sort((a, b) => a - b));
      const phase = {
        logEntries: size,
        offeredPerSec: o.rate,
        finalizedPerSec: round(window > 0 ? r.finalAccepted / window : 0),
        sent: r.sent,
        dropped: r.dropped,
        accepted: r.accepted,
        final: r.finalAccepted,
        rejected: Object.fromEntries(Object.entries(r.codes).filter(([, n]) => n > 0)),
        latencyMs: { p50: lat.p50, p99: lat.p99 },
        peakRssMiB: peak.map((b) => round(b / MiB, 1)),
        peakRssBeforeLoadMiB: rssAtStart.map((b) => round(b / MiB, 1)),
        maxRssAnonMiB: maxAnon.map((b) => round(b / MiB, 1)),
        maxRssFileMiB: maxFile.map((b) => round(b / MiB, 1)),
        loadAverage: { start: round(load0, 2), end: round(load1, 2) },
        peerMallocArenaMax: arenaMax,
      };
      log(`${size}: offered ${o.rate}/s -> finalized ${phase.finalizedPerSec}/s (p50 ${lat.p50} ms), peak RSS ${phase.peakRssMiB.join(' / ')} MiB (before the load ${phase.peakRssBeforeLoadMiB.join(' / ')}; anon ${phase.maxRssAnonMiB.join(' / ')}, file ${phase.maxRssFileMiB.join(' / ')}), load average ${phase.loadAverage.start} -> ${phase.loadAverage.end}`);
      phases.push(phase);
    }

    // 3. Flat in log size: the largest peer's peak at the big log against the small one's.
    const maxOf = (p: { peakRssMiB: number[] }) => Math.max(...p.peakRssMiB);
    const ratio = round(maxOf(phases[1]!) / maxOf(phases[0]!), 3);
    const anonOf = (p: { maxRssAnonMiB: number[] }) => Math.max(...p.maxRssAnonMiB);
    const anonRatio = round(anonOf(phases[1]!) / anonOf(phases[0]!), 3);
    const result = {
      kind: o.smoke ? 'memory-smoke' : 'memory',
      at: new Date(t0).toISOString(),
      wallS: round((Date.now() - t0) / 1000, 1),
      buildS: round(buildS, 1),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '', node: process.version },
      phases,
      peakRssMaxMiB: phases.map(maxOf),
      bigOverSmall: ratio,
      rssAnonMaxMiB: phases.map(anonOf),
      anonBigOverSmall: anonRatio,
      targets: { peakRssMiB: 200, flatWithin: 0.1 },
    };
    const out = o.out ?? join(codeRoot(), 'bench', 'results', `${new Date(t0).toISOString().replace(/[:.]/g, '-')}-memory${o.smoke ? '-smoke' : ''}.json`);
    await writeFile(out, JSON.stringify(result, null, 2) + '\n');
    log(`peak RSS (largest peer) ${result.peakRssMaxMiB.join(' MiB at ')} MiB; ${o.sizes[1]} / ${o.sizes[0]} entries = ${ratio}; anon ${result.rssAnonMaxMiB.join(' MiB at ')} MiB = ${anonRatio} (target ≤ 200 MiB, within ±10 %)`);
    log(`JSON: ${recordedPath(out)}`);
  } finally {
    killAllPeers();
    pool?.kill();
    if (!o.keep && o.reuse === null) await rm(dir, { recursive: true, force: true });
    else log(`kept ${dir} (--reuse it)`);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench:memory: ${e.stack ?? e.message}\n`);
  process.exit(1);
});

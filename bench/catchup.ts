// Catch-up benchmark: how fast a peer that is N entries behind reaches the head, alone.
//
//   npm run bench:catchup -- [--entries 100000] [--block-entries 104] [--profile] [--keep] [--reuse DIR] [--out FILE]
//
// The network benchmark (`npm run bench`) measures catch-up too, but only after ~2 minutes of
// pushing entries through consensus. Here the log is built directly through the production code
// (catchup-build.ts: signed entries, real commit certificates, the ledger's own apply path) into
// organization 0's store and copied to organizations 1 and 2; those three run as real peer
// processes (node/peer/main.ts) on 127.0.0.1, and organization 3 starts as a peer process with an
// empty data directory. Timed from its spawn to its tree reaching the head (the same measure as
// the network benchmark's catch-up phase), and to its first final checkpoint covering the head.
//
// --block-entries: entries per block; the default is what the network benchmark's long step
// decided per height (104). --profile writes a V8 CPU profile of the catching-up peer and prints
// where its CPU went. --reuse DIR skips building (a directory kept by an earlier --keep run).
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { startPeerProcess, stopPeerProcess, killAllPeers, writeNetwork, type BenchNetworkSpec, type PeerProcess } from './network.js';
import { BenchHttp } from './http.js';
import { cpuSeconds } from './procstat.js';
import { summarizeProfile } from './profile.js';
import { buildCatchupLog } from './catchup-build.js';
import { argsOrExit, readArgs } from './args.js';

interface Options {
  entries: number;
  blockEntries: number;
  profile: boolean;
  keep: boolean;
  reuse: string | null;
  out: string | null;
}

const USAGE = 'usage: bench:catchup [--entries N] [--block-entries B] [--profile] [--keep] [--reuse DIR] [--out FILE]';
/** Whole run bound (build + start + catch-up): the catch-up wait gives up after this. */
const CATCHUP_WAIT_MAX_MS = 150_000;

function parseArgs(argv: string[]): Options {
  const o: Options = { entries: 100_000, blockEntries: 104, profile: false, keep: false, reuse: null, out: null };
  readArgs(argv, USAGE, ({ name: a, value: v, int, unknown }) => {
    if (a === '--entries') o.entries = int(v(), 1, 1_000_000);
    else if (a === '--block-entries') o.blockEntries = int(v(), 1, 2_000);
    else if (a === '--profile') o.profile = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--reuse') o.reuse = v();
    else if (a === '--out') o.out = v();
    else unknown();
  });
  return o;
}

const log = (m: string) => process.stdout.write(`[catchup ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;

interface StatusJson {
  height: number;
  treeSize: number;
  finalSize: number;
  peers: { connected: boolean }[];
}

async function status(http: BenchHttp, url: string): Promise<StatusJson | null> {
  try {
    const r = await http.json<StatusJson>(`${url}/v1/status`, 5_000);
    return r.status === 200 ? r.value : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const o = argsOrExit('bench:catchup', () => parseArgs(process.argv.slice(2)));
  const startedAt = new Date().toISOString();
  const dir = o.reuse ?? (await mkdtemp(join(tmpdir(), 'cairn-bench-catchup-')));
  const http = new BenchHttp(8);
  const procs: PeerProcess[] = [];
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      killAllPeers();
      process.exit(130);
    });
  }
  try {
    // 1. The network files and the source log.
    const specPath = join(dir, 'catchup-net.json');
    let net: BenchNetworkSpec;
    let built: { entries: number; heights: number; leafBytes: number; signMs: number; buildMs: number };
    if (o.reuse !== null) {
      ({ net, built } = JSON.parse(await readFile(specPath, 'utf8')) as { net: BenchNetworkSpec; built: typeof built });
      log(`reusing ${dir}: ${built.entries} entries in ${built.heights} heights`);
    } else {
      net = await writeNetwork(dir, { peers: 4, clients: 64 });
      log(`building a log of ${o.entries} entries, ${o.blockEntries} per block, in ${net.peers[0]!.name}'s store`);
      built = await buildCatchupLog(net, o.entries, o.blockEntries, log);
      // Organizations 1 and 2 hold the same log (each peer keeps its own copy).
      for (const p of net.peers.slice(1, 3)) {
        await rm(p.dataDir, { recursive: true, force: true });
        await cp(net.peers[0]!.dataDir, p.dataDir, { recursive: true });
      }
      await writeFile(specPath, JSON.stringify({ net: { ...net, genesis: undefined }, built }));
      log(`built: ${built.entries} entries (${built.leafBytes} bytes each) in ${built.heights} heights; signed in ${round(built.signMs / 1000, 1)} s, applied in ${round(built.buildMs / 1000, 1)} s`);
    }
    const lagging = net.peers[3]!;
    await rm(lagging.dataDir, { recursive: true, force: true });
    await mkdir(lagging.dataDir, { recursive: true });

    // 2. Three source peers (q = 3 of 4) with the log, connected to each other.
    const sources = net.peers.slice(0, 3);
    for (const s of sources) procs.push(startPeerProcess(s));
    const deadline = Date.now() + 90_000;
    for (;;) {
      const ss = await Promise.all(sources.map((s) => status(http, s.url)));
      // Final too (they sign the head they started with): the steady state a peer catches up from.
      if (ss.every((s) => s !== null && s.finalSize >= built.entries && s.peers.filter((p) => p.connected).length >= 2)) break;
      for (const p of procs) if (!p.alive) throw new Error(`source ${p.spec.name} exited:\n${p.lines.slice(-20).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`sources not up, connected and final after 90 s: ${JSON.stringify(ss.map((s) => s && { treeSize: s.treeSize, finalSize: s.finalSize, connected: s.peers.filter((p) => p.connected).length }))}`);
      await sleep(200);
    }
    const head = built.entries;
    log(`3 source peers up, tree size ${head} final on each`);

    // 3. The lagging peer: timed from its spawn.
    const load0 = loadavg();
    const profDir = join(dir, 'profiles');
    if (o.profile) {
      await rm(profDir, { recursive: true, force: true });
      await mkdir(profDir, { recursive: true });
    }
    const t0 = performance.now();
    const peer = startPeerProcess(lagging, { env: { CAIRN_LOG_LEVEL: 'info' }, ...(o.profile ? { cpuProfDir: profDir } : {}) });
    procs.push(peer);
    const sourceCpu0 = await Promise.all(procs.slice(0, 3).map((p) => cpuSeconds(p.pid)));
    let firstProgress = NaN;
    let reachedAt = NaN;
    let finalAt = NaN;
    let size = 0;
    while (performance.now() - t0 < CATCHUP_WAIT_MAX_MS) {
      const s = await status(http, lagging.url);
      if (s !== null) {
        if (Number.isNaN(firstProgress) && s.treeSize > 0) firstProgress = performance.now();
        size = s.treeSize;
        if (Number.isNaN(reachedAt) && s.treeSize >= head) reachedAt = performance.now();
        if (s.finalSize >= head) {
          finalAt = performance.now();
          break;
        }
      }
      if (!peer.alive) throw new Error(`lagging peer exited:\n${peer.lines.slice(-20).join('\n')}`);
      // As often as the network benchmark polls: each poll costs the peer an HTTP status answer.
      await sleep(100);
    }
    const peerCpuS = await cpuSeconds(peer.pid);
    const sourceCpuS = (await Promise.all(procs.slice(0, 3).map((p) => cpuSeconds(p.pid)))).reduce((a, x, i) => a + x - sourceCpu0[i]!, 0);
    const load1 = loadavg();
    const caughtUpLine = peer.lines.find((l) => l.includes('"caught up"'));
    const syncPhase = caughtUpLine === undefined ? null : (JSON.parse(caughtUpLine) as { ms?: number; entriesPerSec?: number; blocks?: number });
    const s = (t: number) => (t - t0) / 1000;
    const result = {
      kind: 'catchup',
      startedAt,
      machine: { cpus: cpus().length, loadAverageBefore: load0.map((x) => round(x, 2)), loadAverageAfter: load1.map((x) => round(x, 2)) },
      options: { entries: o.entries, blockEntries: o.blockEntries, profile: o.profile },
      log: built,
      reachedHead: !Number.isNaN(reachedAt),
      treeSize: size,
      secondsToHead: round(s(reachedAt), 2),
      entriesPerSec: round(head / s(reachedAt)),
      secondsFromFirstProgress: round((reachedAt - firstProgress) / 1000, 2),
      entriesPerSecFromFirstProgress: round(head / ((reachedAt - firstProgress) / 1000)),
      secondsToFinal: round(s(finalAt), 2),
      syncPhase: syncPhase === null ? null : { ms: syncPhase.ms, entriesPerSec: syncPhase.entriesPerSec, blocks: syncPhase.blocks },
      cpu: { laggingPeerS: round(peerCpuS, 2), laggingPeerUsPerEntry: round((peerCpuS / head) * 1e6, 1), sourcesS: round(sourceCpuS, 2) },
      profile: null as unknown,
    };
    // 4. Clean stops (the profile is written at exit).
    await Promise.all(procs.map((p) => stopPeerProcess(p, o.profile ? 60_000 : 15_000)));
    if (o.profile) {
      // One profile per thread; under tsx the module loader's thread writes a large one too. The
      // peer's is the one with the most time outside module loading.
      let main: { f: string; sum: Awaited<ReturnType<typeof summarizeProfile>>; work: number } | undefined;
      for (const f of (await readdir(profDir)).filter((x) => x.endsWith('.cpuprofile'))) {
        const sum = await summarizeProfile(join(profDir, f), 25);
        const work = sum.categories.filter((c) => c.name !== 'module loading / startup').reduce((a, c) => a + c.selfMs, 0);
        if (main === undefined || work > main.work) main = { f, sum, work };
      }
      if (main !== undefined) {
        const sum = main.sum;
        result.profile = { file: main.f, totalMs: sum.totalMs, idlePct: sum.idlePct, categories: sum.categories, functions: sum.functions };
        log(`profile of the lagging peer (whole process life, ${sum.totalMs} ms, idle ${sum.idlePct} %):`);
        for (const r of sum.categories) log(`  ${String(r.selfPct).padStart(5)} %  ${String(r.selfMs).padStart(6)} ms  ${r.name}`);
        for (const r of sum.functions) log(`  ${String(r.selfPct).padStart(5)} %  ${String(r.selfMs).padStart(6)} ms  ${r.name}  ${r.where}`);
      }
    }
    log(
      `CATCH-UP ${head} entries: head in ${result.secondsToHead} s from spawn = ${result.entriesPerSec}/s ` +
        `(${result.entriesPerSecFromFirstProgress}/s from first progress; final after ${result.secondsToFinal} s); ` +
        `lagging peer CPU ${result.cpu.laggingPeerS} s (${result.cpu.laggingPeerUsPerEntry} µs/entry), sources ${result.cpu.sourcesS} s; ` +
        `load average ${load0[0]!.toFixed(1)} -> ${load1[0]!.toFixed(1)}`,
    );
    if (o.out !== null) await writeFile(o.out, JSON.stringify(result, null, 2) + '\n');
    else process.stdout.write(JSON.stringify(result) + '\n');
    if (!result.reachedHead) process.exitCode = 1;
  } finally {
    killAllPeers();
    if (!o.keep && o.reuse === null) await rm(dir, { recursive: true, force: true });
    else log(`kept ${dir} (rerun with --reuse ${dir})`);
  }
}

main().catch((e: unknown) => {
  killAllPeers();
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

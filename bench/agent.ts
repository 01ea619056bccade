// `npm run bench:agent`: the agent's sustained throughput against a real network. 4 peer processes
// (quorum 3) and one `cairn agent run` process on 127.0.0.1; a load generator posts events to the
// agent at an offered rate above what the network finalizes, and the agent's own counters give
// the rate at which its events became final (confirmed by a peer's known-final answer) during the
// load, after a warm-up. Also reported: the agent's intake rate, its CPU per accepted event (from
// /proc: what one agent process could carry per core) and the drain. The network's own maximum is
// what `npm run bench` measures; compare runs made under the same machine load.
//
//   npx tsx bench/agent.ts [--rate 900] [--duration 30] [--warmup 5] [--out <file>]
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { codeRoot, nodeEntryArgs, recordedPath } from './paths.js';
import { freePort, killAllPeers, startPeerProcess, stopAllPeers, writeNetwork } from './network.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '900' },
    duration: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});
const RATE = Number(args.rate);
const DURATION_S = Number(args.duration);
const WARMUP_S = Number(args.warmup);
const BATCH = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface AgentStatusDoc {
  spool: { events: number };
  counters: { accepted: number; final: number; full: number; requestFailures: number; entryErrors: number; entriesSent: number; retimed: number; conflicts: number };
  inflight: number;
}

async function status(url: string): Promise<AgentStatusDoc | null> {
  try {
    const r = await fetch(url + '/v1/status', { signal: AbortSignal.timeout(3_000) });
    return r.status === 200 ? ((await r.json()) as AgentStatusDoc) : null;
  } catch {
    return null;
  }
}

async function cpuMs(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
}

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg()[0]!;
  const dir = await mkdtemp(join(tmpdir(), 'cairn-bench-agent-'));
  process.on('SIGINT', () => (killAllPeers(), process.exit(130)));
  let agentPid = 0;
  try {
    const net = await writeNetwork(dir, { peers: 4, clients: 1 });
    const procs = net.peers.map((p) => startPeerProcess(p));
    for (const p of net.peers) {
      const end = Date.now() + 90_000;
      for (;;) {
        const ok = await fetch(p.url + '/healthz', { signal: AbortSignal.timeout(2_000) }).then((r) => r.status === 200, () => false);
        if (ok) break;
        if (Date.now() > end) throw new Error(`peer ${p.name} not healthy:\n${procs.find((x) => x.spec === p)?.lines.slice(-10).join('\n')}`);
        await sleep(250);
      }
    }
    await mkdir(join(dir, 'agent'), { recursive: true });
    const keyPath = join(dir, 'agent', 'client.key');
    await writeFile(keyPath, net.clients[0]!.seedHex + '\n', { mode: 0o600 });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const agent = spawn(process.execPath, [...nodeEntryArgs('node/cli/main'), 'agent', 'run', '--key', keyPath, '--spool', join(dir, 'agent', 'spool'), '--listen', `127.0.0.1:${port}`, '--peer', net.peers.map((p) => p.url).join(',')], {
      cwd: codeRoot(),
      detached: true,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    agentPid = agent.pid!;
    for (let end = Date.now() + 60_000; (await status(url)) === null; ) {
      if (Date.now() > end) throw new Error('agent did not start');
      await sleep(200);
    }

    // Open-loop load: batches at fixed times whatever the answers (a 503 spool_full is counted).
    let posted = 0;
    let acknowledged = 0;
    let refused = 0;
    const inflight = new Set<Promise<void>>();
    const t0 = Date.now();
    const samples: { t: number; final: number; accepted: number; cpu: number }[] = [];
    const sampler = setInterval(() => {
      void (async () => {
        const s = await status(url);
        if (s !== null) samples.push({ t: Date.now(), final: s.counters.final, accepted: s.counters.accepted, cpu: await cpuMs(agentPid) });
      })();
    }, 1000);
    for (let b = 0; ; b++) {
      const due = t0 + ((b * BATCH) / RATE) * 1000;
      if (due > t0 + DURATION_S * 1000) break;
      if (due > Date.now()) await sleep(due - Date.now());
      const body = JSON.stringify(Array.from({ length: BATCH }, (_, k) => ({ id: `bench-${b}-${k}`, actor: { id: `user-${k % 50}`, type: 'user' }, action: 'db.query', resource: { type: 'db.table', id: `t${k % 9}` }, outcome: 'success', data: { note: 'x'.repeat(120) } })));
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
    // Drain what the spool still holds.
    for (let end = Date.now() + 300_000; ; ) {
      const s = await status(url);
      if (s !== null && s.spool.events === 0) break;
      if (Date.now() > end) throw new Error('agent did not drain in 300 s');
      await sleep(250);
    }
    const drainEnd = Date.now();
    clearInterval(sampler);
    const final = (await status(url))!;
    // Sustained rate: finalized events per second from the end of the warm-up to the end of the load.
    const inWindow = samples.filter((s) => s.t >= t0 + WARMUP_S * 1000 && s.t <= loadEnd);
    const a = inWindow[0]!;
    const z = inWindow[inWindow.length - 1]!;
    const finalizedPerSec = ((z.final - a.final) * 1000) / (z.t - a.t);
    const acceptedPerSec = ((z.accepted - a.accepted) * 1000) / (z.t - a.t);
    const agentCpuShare = (z.cpu - a.cpu) / (z.t - a.t);
    const result = {
      bench: 'agent',
      startedAt: started.toISOString(),
      machine: `${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, Node ${process.version}`,
      loadAverage: { start: load0, end: loadavg()[0]! },
      offeredPerSec: RATE,
      durationSec: DURATION_S,
      posted,
      acknowledged,
      refused,
      acceptedPerSec: Math.round(acceptedPerSec),
      finalizedPerSec: Math.round(finalizedPerSec),
      agentCpuPerAcceptedEventMs: Math.round((agentCpuShare * 1000 * 1000) / Math.max(1, acceptedPerSec)) / 1000,
      agentCpuShareOfOneCore: Math.round(agentCpuShare * 1000) / 1000,
      drainSec: Math.round((drainEnd - loadEnd) / 100) / 10,
      agentCounters: final.counters,
    };
    console.log(JSON.stringify(result, null, 2));
    if (args.out !== undefined) {
      await writeFile(args.out, JSON.stringify({ ...result, file: recordedPath(args.out) }, null, 2) + '\n');
    }
  } finally {
    if (agentPid !== 0) {
      try {
        process.kill(-agentPid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    await stopAllPeers();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

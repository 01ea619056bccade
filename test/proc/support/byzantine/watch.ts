// Observes honest peer processes during an attack: samples each one's /v1/status (height, final
// size, consensus WAL usage when the runner reports it), VmRSS and data-directory size, and checks
// progress per time window. Every sample failure is kept: an unresponsive peer is a finding.
import { dirBytes, getJson, rssBytes, type PeerProc } from '../peer-procs.js';

export interface Sample {
  t: number;
  ok: boolean;
  error?: string;
  height?: number;
  finalSize?: number;
  treeSize?: number;
  round?: number;
  queueDepth?: number;
  mempool?: number;
  /** Consensus WAL usage, when the runner status exposes it (walBytes / walRecords). */
  walBytes?: number;
  walRecords?: number;
  /** The runner stopped consensus for good (fail-stop), when the status reports it. */
  halted?: boolean;
  haltCode?: string;
  rss: number | null;
}

export interface Watch {
  samples: Sample[][];
  dataBytes: { t: number; bytes: number }[][];
  last: (Record<string, unknown> | null)[];
  stop(): Promise<void>;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** One status sample of a peer (never throws: failures become ok=false samples). */
export async function sampleOnce(p: PeerProc): Promise<{ sample: Sample; status: Record<string, unknown> | null }> {
  const t = Date.now();
  const rss = p.proc.pid === undefined ? null : await rssBytes(p.proc.pid);
  try {
    const s = await getJson(p.url, '/v1/status', 3_000);
    const c = (s.consensus ?? {}) as Record<string, unknown>;
    const sample: Sample = { t, ok: true, rss, height: num(s.height), finalSize: num(s.finalSize), treeSize: num(s.treeSize), round: num(c.round), queueDepth: num(c.queueDepth) };
    const mem = s.mempool as { entries?: unknown } | undefined;
    const mp = num(mem?.entries);
    if (mp !== undefined) sample.mempool = mp;
    const wb = num(c.walBytes);
    const wr = num(c.walRecords);
    if (wb !== undefined) sample.walBytes = wb;
    if (wr !== undefined) sample.walRecords = wr;
    if (c.halted === true) {
      sample.halted = true;
      sample.haltCode = String(c.haltCode);
    }
    return { sample, status: s };
  } catch (e) {
    return { sample: { t, ok: false, error: (e as Error).message.slice(0, 200), rss }, status: null };
  }
}

/** Samples every peer every `everyMs` (data dirs every 4th time) until stop(). */
export function watch(peers: PeerProc[], everyMs = 500): Watch {
  const w: Watch = { samples: peers.map(() => []), dataBytes: peers.map(() => []), last: peers.map(() => null), stop: async () => undefined };
  let stopped = false;
  const loop = (async () => {
    for (let k = 0; !stopped; k++) {
      const started = Date.now();
      await Promise.all(
        peers.map(async (p, i) => {
          const { sample, status } = await sampleOnce(p);
          w.samples[i]!.push(sample);
          if (status !== null) w.last[i] = status;
          if (k % 4 === 0) w.dataBytes[i]!.push({ t: Date.now(), bytes: await dirBytes(p.dataDir) });
        }),
      );
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();
  w.stop = async () => {
    stopped = true;
    await loop;
  };
  return w;
}

export interface WindowResult {
  from: number;
  to: number;
  okSamples: number;
  failedSamples: number;
  newFinalCheckpoints: number;
  heightsAdvanced: number;
}

/**
 * Per window [from, from + windowMs): how many times the sampled final size grew (each growth is at
 * least one new final checkpoint) and how far the height moved, relative to the last good sample
 * before the window.
 */
export function windows(samples: Sample[], start: number, end: number, windowMs: number): WindowResult[] {
  const out: WindowResult[] = [];
  for (let from = start; from + windowMs <= end + 1; from += windowMs) {
    const to = from + windowMs;
    const before = samples.filter((s) => s.ok && s.t < from).at(-1);
    const inside = samples.filter((s) => s.t >= from && s.t < to);
    const good = inside.filter((s) => s.ok);
    let prevFinal = before?.finalSize ?? good[0]?.finalSize ?? 0;
    let grew = 0;
    for (const s of good) {
      if ((s.finalSize ?? 0) > prevFinal) grew++;
      prevFinal = Math.max(prevFinal, s.finalSize ?? 0);
    }
    const h0 = before?.height ?? good[0]?.height ?? 0;
    const h1 = good.at(-1)?.height ?? h0;
    out.push({ from, to, okSamples: good.length, failedSamples: inside.length - good.length, newFinalCheckpoints: grew, heightsAdvanced: h1 - h0 });
  }
  return out;
}

/** `+Ns h/r` of the first good sample in each stepMs slot from `start` (a compact progress trace). */
export function timeline(samples: Sample[], start: number, stepMs: number): string {
  const out: string[] = [];
  for (const s of samples) {
    if (!s.ok || s.t < start) continue;
    const slot = Math.floor((s.t - start) / stepMs);
    if (out[slot] === undefined) out[slot] = `+${slot * (stepMs / 1000)}s ${s.height}/${s.round}`;
  }
  return out.filter((x) => x !== undefined).join(' ');
}

const MiB = 1024 * 1024;
export const mib = (b: number | null | undefined): string => (b === null || b === undefined ? '?' : `${(b / MiB).toFixed(1)} MiB`);

/** One line per peer: its latest status, RSS, WAL and data size, and its last log lines. */
export function describePeers(peers: PeerProc[], w: Watch | null, logLines = 8): string {
  return peers
    .map((p, i) => {
      const s = w?.samples[i]?.at(-1);
      const st = w?.last[i] as Record<string, unknown> | null | undefined;
      const c = (st?.consensus ?? {}) as Record<string, unknown>;
      const conn = Array.isArray(st?.peers) ? (st!.peers as { name: string; connected: boolean; height: number | null }[]).map((x) => `${x.name}:${x.connected ? 'up' : 'down'}@${x.height ?? '?'}`).join(' ') : '?';
      const data = w?.dataBytes[i]?.at(-1)?.bytes;
      return (
        `${p.name} (pid ${p.proc.pid}, exit ${p.exitCode === undefined ? 'running' : p.exitCode}): ` +
        (s === undefined ? 'no sample' : s.ok ? `h=${s.height} final=${s.finalSize} tree=${s.treeSize} round=${s.round} queue=${s.queueDepth} mempool=${s.mempool}` : `status failed: ${s.error}`) +
        ` rss=${mib(s?.rss)} wal=${mib(s?.walBytes)}/${s?.walRecords ?? '?'} rec data=${mib(data)} step=${String(c.step)} running=${String(c.running)}${c.halted === true ? ` HALTED(${String(c.haltCode)})` : ''} ` +
        `rejected=${JSON.stringify(c.rejected ?? {})} evidence=${String(st?.evidence)} peers=[${conn}] problem=${String(st?.problem ?? '-')}\n` +
        [...p.warnings].map(([k, v]) => `    ${v.count} x ${k}: ${v.example}\n`).join('') +
        p.lines.slice(-logLines).map((l) => `    | ${l}`).join('\n')
      );
    })
    .join('\n');
}

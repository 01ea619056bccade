// Timing and the acceptance summary of `npm run bench:search` (bench/search.ts).
//
// Each query is timed in wall-clock milliseconds (what a caller waits for at the peer) and in
// process CPU milliseconds (process.cpuUsage: the main thread and LevelDB's worker threads). On a
// shared machine the wall time includes waiting for a core; the CPU time does not, so comparing
// the two tells how much of a slow figure was the machine rather than the code.

/** Deterministic PRNG (xorshift32), so runs are comparable. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  int(n: number): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s % n;
  }
}

/** Nearest-rank percentile of an ascending array: the smallest value ≥ p % of the samples. */
export function pct(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

const r1 = (x: number): number => Math.round(x * 10) / 10;

export interface QueryStats {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Median and 99th percentile of the process CPU time per query (all threads). */
  cpuP50Ms: number;
  cpuP99Ms: number;
  meanResults: number;
  runs: number;
}

export interface Measured {
  stats: QueryStats;
  /** Wall times of every measured run, ascending (for pooled percentiles). */
  times: number[];
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Runs `warmup` unmeasured queries, then `n` measured ones, each made by `make` from `rng`. */
export async function measure(n: number, rng: Rng, make: (rng: Rng) => () => Promise<number>, warmup = Math.min(10, n)): Promise<Measured> {
  for (let i = 0; i < warmup; i++) await make(rng)();
  const times: number[] = [];
  const cpus: number[] = [];
  let results = 0;
  for (let i = 0; i < n; i++) {
    const q = make(rng);
    const c = cpuMs();
    const t = performance.now();
    results += await q();
    times.push(performance.now() - t);
    cpus.push(cpuMs() - c);
  }
  times.sort((a, b) => a - b);
  cpus.sort((a, b) => a - b);
  const stats = { p50Ms: r1(pct(times, 50)), p99Ms: r1(pct(times, 99)), maxMs: r1(times[times.length - 1]!), cpuP50Ms: r1(pct(cpus, 50)), cpuP99Ms: r1(pct(cpus, 99)), meanResults: r1(results / n), runs: n };
  return { stats, times };
}

/** The bench's latency targets (search acceptance). */
export const TARGETS = { selectiveP50Ms: 20, selectiveP99Ms: 100, historyMs: 100 } as const;

export interface Acceptance {
  pass: number;
  note: string;
  selective: {
    /** Query kinds whose pages hold at most 100 results. */
    kinds: string[];
    runs: number;
    /** Pooled over every measured run of those kinds. */
    p50Ms: number;
    p99Ms: number;
    /** The worst kind's p50 and p99 (each kind has its own mix of work). */
    worstKindP50Ms: number;
    worstKindP99Ms: number;
    targetP50Ms: number;
    targetP99Ms: number;
    metPooled: boolean;
    metEveryKind: boolean;
  };
  history: { kind: string; runs: number; p50Ms: number; p99Ms: number; maxMs: number; cpuP50Ms: number; targetMs: number; metP50: boolean; metMax: boolean } | null;
}

/**
 * The figures the acceptance names, from one pass: selective queries (every kind of at most 100
 * results per page) pooled and per kind, and the page of all 1,000 versions of a resource.
 */
export function acceptance(pass: number, measured: Record<string, Measured>, historyKind: string): Acceptance {
  const kinds = Object.keys(measured).filter((k) => k !== historyKind && measured[k]!.stats.meanResults <= 100);
  const pooled = kinds.flatMap((k) => measured[k]!.times).sort((a, b) => a - b);
  const p50 = pooled.length === 0 ? NaN : r1(pct(pooled, 50));
  const p99 = pooled.length === 0 ? NaN : r1(pct(pooled, 99));
  const worstP50 = Math.max(...kinds.map((k) => measured[k]!.stats.p50Ms));
  const worstP99 = Math.max(...kinds.map((k) => measured[k]!.stats.p99Ms));
  const h = measured[historyKind]?.stats;
  return {
    pass,
    note: 'wall-clock time of the engine per page at the peer (no HTTP); p99 is nearest-rank',
    selective: {
      kinds,
      runs: pooled.length,
      p50Ms: p50,
      p99Ms: p99,
      worstKindP50Ms: worstP50,
      worstKindP99Ms: worstP99,
      targetP50Ms: TARGETS.selectiveP50Ms,
      targetP99Ms: TARGETS.selectiveP99Ms,
      metPooled: p50 <= TARGETS.selectiveP50Ms && p99 <= TARGETS.selectiveP99Ms,
      metEveryKind: worstP50 <= TARGETS.selectiveP50Ms && worstP99 <= TARGETS.selectiveP99Ms,
    },
    history:
      h === undefined
        ? null
        : { kind: historyKind, runs: h.runs, p50Ms: h.p50Ms, p99Ms: h.p99Ms, maxMs: h.maxMs, cpuP50Ms: h.cpuP50Ms, targetMs: TARGETS.historyMs, metP50: h.p50Ms <= TARGETS.historyMs, metMax: h.maxMs <= TARGETS.historyMs },
  };
}

/** Human-readable lines of an acceptance summary. */
export function acceptanceLines(a: Acceptance): string[] {
  const ok = (b: boolean): string => (b ? 'met' : 'NOT met');
  const s = a.selective;
  const out = [
    `acceptance (pass ${a.pass}, ${a.note}):`,
    `  selective queries (≤ 100 results), ${s.kinds.length} kinds, ${s.runs} runs pooled: p50 ${s.p50Ms} ms (target ≤ ${s.targetP50Ms}), p99 ${s.p99Ms} ms (target ≤ ${s.targetP99Ms}): ${ok(s.metPooled)}`,
    `  worst single kind: p50 ${s.worstKindP50Ms} ms, p99 ${s.worstKindP99Ms} ms: ${ok(s.metEveryKind)} for every kind`,
  ];
  const h = a.history;
  if (h !== null) out.push(`  history of 1,000 versions (one page, ${h.runs} runs): p50 ${h.p50Ms} ms, p99 ${h.p99Ms} ms, max ${h.maxMs} ms, CPU p50 ${h.cpuP50Ms} ms (target ≤ ${h.targetMs}): ${ok(h.metP50)} at p50, ${ok(h.metMax)} at max`);
  return out;
}

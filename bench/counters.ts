// What the peers' own counters say happened during one bench step: a snapshot of every peer's
// GET /v1/status and GET /metrics before and after the step, and the differences. It answers
// "did a limit trigger?" (HTTP 429/503 answers, rejected entries by code, shed or failed gossip
// publishes, runner rejections such as BUFFER_FULL or STALE_HEIGHT, catch-up during the step)
// and "how did consensus behave?" (heights decided, rounds per height, entries per block).
// Fields a peer does not report (an older peer program) are simply absent from the result.
import { BenchHttp } from './http.js';

/** Largest /metrics text parsed. */
const METRICS_CHARS_MAX = 4 * 1024 * 1024;

/** One Prometheus sample: metric name with its labels (as written) -> value. */
export type MetricSamples = Map<string, number>;

export interface PeerSnapshot {
  url: string;
  status: Record<string, unknown> | null;
  metrics: MetricSamples;
}

/** Parses the Prometheus text exposition format (sample lines only; comments skipped). */
export function parseMetrics(text: string): MetricSamples {
  const out: MetricSamples = new Map();
  if (text.length > METRICS_CHARS_MAX) return out;
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    if (sp <= 0) continue;
    const v = Number(line.slice(sp + 1));
    if (Number.isFinite(v)) out.set(line.slice(0, sp), v);
  }
  return out;
}

export async function snapshotPeers(http: BenchHttp, urls: string[]): Promise<PeerSnapshot[]> {
  return Promise.all(
    urls.map(async (url) => {
      let status: Record<string, unknown> | null = null;
      let metrics: MetricSamples = new Map();
      try {
        const s = await http.json<Record<string, unknown>>(`${url}/v1/status`, 5_000);
        if (s.status === 200) status = s.value;
      } catch {
        // peer busy or down: counters of this peer are left out
      }
      try {
        const m = await http.request(`${url}/metrics`, { timeoutMs: 5_000 });
        if (m.status === 200) metrics = parseMetrics(m.body.toString('utf8'));
      } catch {
        // same
      }
      return { url, status, metrics };
    }),
  );
}

const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
const obj = (x: unknown): Record<string, unknown> => (x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {});

/** Differences of numeric fields of two records (one level deep, nested records flattened with '.'), non-zero only. */
function diffNumbers(a: Record<string, unknown>, b: Record<string, unknown>, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) {
    if (typeof v === 'number') {
      const d = v - num(a[k]);
      if (d !== 0) out[prefix + k] = d;
    } else if (v !== null && typeof v === 'object' && !Array.isArray(v) && prefix === '') {
      Object.assign(out, diffNumbers(obj(a[k]), v as Record<string, unknown>, `${k}.`));
    }
  }
  return out;
}

function addInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Sums, over the samples of `name`, the increase per value of `label` (counters only). */
function counterDeltaBy(a: MetricSamples, b: MetricSamples, name: string, keyOf: (labels: string) => string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of b) {
    if (!k.startsWith(`${name}{`) && k !== name) continue;
    const labels = k.slice(name.length);
    const key = keyOf(labels);
    if (key === null) continue;
    const d = v - (a.get(k) ?? 0);
    if (d !== 0) out[key] = (out[key] ?? 0) + d;
  }
  return out;
}

const label = (labels: string, l: string): string | null => {
  const m = new RegExp(`${l}="([^"]*)"`).exec(labels);
  return m === null ? null : m[1]!;
};

export interface StepCounters {
  /** Peers whose status or metrics could not be read before or after. */
  unreadable: number;
  /** Heights decided during the step (largest over the peers). */
  heightsDecided: number;
  /** Entries per decided block on average (first readable peer). */
  entriesPerBlock: number | null;
  /** Mean consensus rounds per decided height (1 = every height decided in round 0). */
  roundsPerHeight: number | null;
  /** Heights that needed more than one round (a timeout fired), summed over peers. */
  heightsWithExtraRounds: number;
  /** HTTP answers by route and status, summed over peers, only non-2xx. */
  httpNon2xx: Record<string, number>;
  /** Submitted entries rejected by the API, by code, summed over peers. */
  entriesRejected: Record<string, number>;
  /** Gossip publishes that failed (bulk shed / backpressure / urgent), by kind, summed. */
  publishFailures: Record<string, number>;
  /** Runner counters that moved (rejections by code, WAL skips, re-sends, evidence), summed. */
  runner: Record<string, number>;
  /** Catch-up (sync) counters that moved, summed: a peer falling behind during the step. */
  sync: Record<string, number>;
  /** Mempool entries per peer after the step, and the largest runner queue depth seen then. */
  mempoolAfter: number[];
  runnerQueueDepthAfter: number[];
  /** Peers that reported a halt. */
  halted: string[];
}

export function diffSnapshots(before: PeerSnapshot[], after: PeerSnapshot[]): StepCounters {
  const c: StepCounters = {
    unreadable: 0,
    heightsDecided: 0,
    entriesPerBlock: null,
    roundsPerHeight: null,
    heightsWithExtraRounds: 0,
    httpNon2xx: {},
    entriesRejected: {},
    publishFailures: {},
    runner: {},
    sync: {},
    mempoolAfter: [],
    runnerQueueDepthAfter: [],
    halted: [],
  };
  for (let i = 0; i < after.length; i++) {
    const a = before[i];
    const b = after[i]!;
    if (a === undefined || a.status === null || b.status === null || a.metrics.size === 0 || b.metrics.size === 0) {
      c.unreadable++;
      if (b.status !== null) c.mempoolAfter.push(num(obj(b.status.mempool).entries));
      continue;
    }
    const sa = a.status;
    const sb = b.status;
    c.heightsDecided = Math.max(c.heightsDecided, num(sb.height) - num(sa.height));
    const blocksD = (b.metrics.get('cairn_block_entries_count') ?? 0) - (a.metrics.get('cairn_block_entries_count') ?? 0);
    const entriesD = (b.metrics.get('cairn_block_entries_sum') ?? 0) - (a.metrics.get('cairn_block_entries_sum') ?? 0);
    if (c.entriesPerBlock === null && blocksD > 0) c.entriesPerBlock = Math.round((entriesD / blocksD) * 10) / 10;
    const roundsN = (b.metrics.get('cairn_block_rounds_count') ?? 0) - (a.metrics.get('cairn_block_rounds_count') ?? 0);
    const roundsS = (b.metrics.get('cairn_block_rounds_sum') ?? 0) - (a.metrics.get('cairn_block_rounds_sum') ?? 0);
    if (c.roundsPerHeight === null && roundsN > 0) c.roundsPerHeight = Math.round((roundsS / roundsN) * 1000) / 1000;
    const firstRound = (b.metrics.get('cairn_block_rounds_bucket{le="1"}') ?? 0) - (a.metrics.get('cairn_block_rounds_bucket{le="1"}') ?? 0);
    c.heightsWithExtraRounds += Math.max(0, roundsN - firstRound);
    addInto(
      c.httpNon2xx,
      counterDeltaBy(a.metrics, b.metrics, 'cairn_http_requests_total', (l) => {
        const st = label(l, 'status');
        return st === null || st.startsWith('2') ? null : `${label(l, 'route') ?? '?'} ${st}`;
      }),
    );
    addInto(c.entriesRejected, counterDeltaBy(a.metrics, b.metrics, 'cairn_entries_rejected_total', (l) => label(l, 'code')));
    addInto(c.publishFailures, diffNumbers(obj(sa.publishFailures), obj(sb.publishFailures)));
    const ra = obj(sa.consensus);
    const rb = obj(sb.consensus);
    addInto(c.runner, diffNumbers({ rejected: ra.rejected, walSkipped: ra.walSkipped, resent: ra.resent, evidence: ra.evidence }, { rejected: rb.rejected, walSkipped: rb.walSkipped, resent: rb.resent, evidence: rb.evidence }));
    const syncD = diffNumbers(obj(sa.sync), obj(sb.sync));
    delete syncD.lastRateEntriesPerSec;
    delete syncD.lastDurationMs;
    addInto(c.sync, syncD);
    // Extra network counters when the peer reports them (status.net).
    const na = obj(sa.net);
    const nb = obj(sb.net);
    for (const [k, v] of Object.entries(diffNumbers(na, nb))) {
      if (k === 'gossipQueuedBytesMax') continue;
      c.runner[`net.${k}`] = (c.runner[`net.${k}`] ?? 0) + v;
    }
    if (typeof nb.gossipQueuedBytesMax === 'number') c.runner['net.gossipQueuedBytesMax'] = Math.max(c.runner['net.gossipQueuedBytesMax'] ?? 0, nb.gossipQueuedBytesMax);
    c.mempoolAfter.push(num(obj(sb.mempool).entries));
    c.runnerQueueDepthAfter.push(num(rb.queueDepth));
    if (sb.halted !== null && sb.halted !== undefined) c.halted.push(`${b.url}: ${JSON.stringify(sb.halted)}`);
  }
  return c;
}

/** A one-line summary of what moved, for the log. */
export function describeCounters(c: StepCounters): string {
  const parts: string[] = [`${c.heightsDecided} heights`];
  if (c.entriesPerBlock !== null) parts.push(`${c.entriesPerBlock} entries/block`);
  if (c.roundsPerHeight !== null) parts.push(`${c.roundsPerHeight} rounds/height`);
  if (c.heightsWithExtraRounds > 0) parts.push(`${c.heightsWithExtraRounds} heights needed >1 round`);
  const nz = (name: string, r: Record<string, number>) => {
    if (Object.keys(r).length > 0) parts.push(`${name} ${JSON.stringify(r)}`);
  };
  nz('http non-2xx', c.httpNon2xx);
  nz('entries rejected', c.entriesRejected);
  nz('publish failures', c.publishFailures);
  nz('runner', c.runner);
  nz('sync', c.sync);
  parts.push(`mempool after ${JSON.stringify(c.mempoolAfter)}`);
  if (c.halted.length > 0) parts.push(`HALTED ${c.halted.join('; ')}`);
  if (c.unreadable > 0) parts.push(`${c.unreadable} peers unreadable`);
  return parts.join(', ');
}

// Small statistics helpers for the bench (pure).

/** Nearest-rank percentile (p in 0..100) of an unsorted sample; NaN for an empty sample. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): LatencySummary {
  const s = [...values].sort((a, b) => a - b);
  return { count: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s.length === 0 ? NaN : s[s.length - 1]! };
}

/**
 * Backlog trend: medians of the latency of entries submitted in the first and in the last
 * quarter of a step. Under a load the network keeps up with, they are about equal; when the
 * backlog grows, entries submitted later wait longer.
 */
export function latencyTrend(submitMs: readonly number[], latencyMs: readonly number[], durationMs: number): { firstQuarterP50: number; lastQuarterP50: number } {
  const first: number[] = [];
  const last: number[] = [];
  for (let i = 0; i < submitMs.length; i++) {
    if (submitMs[i]! < durationMs / 4) first.push(latencyMs[i]!);
    else if (submitMs[i]! >= (3 * durationMs) / 4) last.push(latencyMs[i]!);
  }
  return { firstQuarterP50: summarize(first).p50, lastQuarterP50: summarize(last).p50 };
}

export function round(x: number, digits = 0): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

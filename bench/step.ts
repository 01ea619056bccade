// One load step's report: what the load generators saw (finalized rate, latency, trend) and
// whether the network kept up with the offered rate; and the rising ladder of steps that finds the
// highest rate that still keeps up (bench:cost for Cairn and for etcd).
import type { StepCounters } from './counters.js';
import type { MergedResult } from './loadgens.js';
import { latencyTrend, round, summarize, type LatencySummary } from './stats.js';

/**
 * A step keeps up only if its p99 stays under this (besides no rejection, everything final and
 * no latency trend): an 8-second step can hide a slowly growing backlog that a 30-second one shows.
 */
export const KEEP_UP_P99_MS = 3000;

export interface StepReport {
  id: string;
  offeredRate: number;
  offered: number;
  accepted: number;
  final: number;
  finalizedPerSec: number;
  latencyMs: LatencySummary;
  firstQuarterP50Ms: number;
  lastQuarterP50Ms: number;
  drainMs: number;
  dropped: number;
  errors: Record<string, number>;
  keepsUp: boolean;
  why: string;
  proofsOk: number;
  proofsFailed: number;
  /** Submissions' HTTP statuses, as the load generators saw them. */
  httpStatus: Record<string, number>;
  /** Load generators' reads answered other than 200 (checkpoint polls, entry bundles, receipts). */
  readStatus: Record<string, number>;
  /** What the peers' own counters say happened during the step. */
  counters: StepCounters | null;
  /** Load generators' authenticated requests (bench --auth): signed, peer tokens fetched, bearer. */
  auth: { signed: number; tokenRequests: number; bearer: number };
  /**
   * Each peer's peak RSS (MiB) from the step's start to its end (drain included), in peer order;
   * null for a peer whose peak could not be reset at the start. Set where the bench owns the peer
   * processes (bench/run.ts), absent elsewhere.
   */
  peakRssMiB?: (number | null)[];
}

export function stepReport(r: MergedResult, rate: number, durationMs: number, counters: StepCounters | null): StepReport {
  const lat = summarize(r.latencyMs);
  const trend = latencyTrend(r.submitMs, r.latencyMs, durationMs);
  const errors = Object.fromEntries(Object.entries(r.codes).filter(([, n]) => n > 0));
  const window = Math.max(r.sendMs, r.lastFinalMs) / 1000;
  const finalizedPerSec = window > 0 ? r.finalAccepted / window : 0;
  let why = '';
  if (r.dropped > 0) why = `${r.dropped} entries dropped (too many requests in flight)`;
  else if (Object.keys(errors).length > 0) why = `rejections ${JSON.stringify(errors)}`;
  else if (r.sent < r.offered) why = `only ${r.sent} of ${r.offered} sent in time`;
  else if (r.finalAccepted < r.accepted) why = `${r.accepted - r.finalAccepted} accepted entries not final after the drain`;
  else if (!(trend.lastQuarterP50 <= 1.5 * trend.firstQuarterP50 + 300)) why = `backlog grows (p50 ${round(trend.firstQuarterP50)} ms -> ${round(trend.lastQuarterP50)} ms)`;
  else if (!(lat.p99 <= KEEP_UP_P99_MS)) why = `p99 ${round(lat.p99)} ms > ${KEEP_UP_P99_MS} ms`;
  if (r.proofsFailed > 0) why = `${why}${why ? '; ' : ''}${r.proofsFailed} inclusion proofs failed: ${r.proofProblems.join(' | ')}`;
  return {
    id: r.id,
    offeredRate: round(rate),
    offered: r.offered,
    accepted: r.accepted,
    final: r.finalAccepted,
    finalizedPerSec: round(finalizedPerSec),
    latencyMs: { count: lat.count, p50: round(lat.p50), p90: round(lat.p90), p99: round(lat.p99), max: round(lat.max) },
    firstQuarterP50Ms: round(trend.firstQuarterP50),
    lastQuarterP50Ms: round(trend.lastQuarterP50),
    drainMs: round(r.drainMs),
    dropped: r.dropped,
    errors,
    keepsUp: why === '',
    why,
    proofsOk: r.proofsOk,
    proofsFailed: r.proofsFailed,
    httpStatus: r.httpStatus,
    readStatus: r.readStatus,
    counters,
    auth: r.auth,
  };
}

/** Each up-step of the ladder offers this many times the last rate that kept up. */
export const LADDER_FACTOR = 1.6;
/** Halvings of the rate when even the first step does not keep up (a busy machine). */
export const LADDER_DOWN_MAX = 2;

export interface LadderStep {
  offeredRate: number;
  keepsUp: boolean;
}

/**
 * Runs steps from `start`: ×LADDER_FACTOR after each step that keeps up (at most `upMax`), ÷2 when
 * the first ones do not (at most LADDER_DOWN_MAX, never below `floor`), stops at the first failure
 * after a success, then one step halfway between the best and the failed rate. `best` is the
 * highest-rate step that kept up (null when none did).
 */
export async function climbLadder<S extends LadderStep>(
  o: { start: number; upMax: number; floor: number },
  run: (id: string, rate: number) => Promise<S>,
): Promise<{ best: S | null; steps: S[] }> {
  const steps: S[] = [];
  let best: S | null = null;
  let failedAt: number | null = null;
  let rate = o.start;
  for (let up = 0, down = 0; up < o.upMax; ) {
    const s = await run(`step${steps.length}`, rate);
    steps.push(s);
    if (s.keepsUp) {
      best = s;
      rate *= LADDER_FACTOR;
      up++;
    } else if (best === null && down < LADDER_DOWN_MAX && rate / 2 >= o.floor) {
      failedAt = rate;
      rate /= 2;
      down++;
    } else {
      failedAt = rate;
      break;
    }
  }
  if (best !== null && failedAt !== null && failedAt > best.offeredRate) {
    const s = await run('step-mid', (best.offeredRate + failedAt) / 2);
    steps.push(s);
    if (s.keepsUp) best = s;
  }
  return { best, steps };
}

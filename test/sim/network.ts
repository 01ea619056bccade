// In-memory network of the simulator (partial synchrony, Dwork–Lynch–Stockmeyer style as assumed
// by the Tendermint paper §2): before the global stabilization time (GST) messages may be dropped,
// delayed by a heavy-tailed latency, duplicated, reordered, and cut by scheduled symmetric or
// asymmetric partitions; from GST on nothing is dropped or cut and every latency is at most
// `latencyAfterGst.maxMs` (the paper's Δ). Each node also has a clock rate (skew): its timeouts
// are scaled by it, which is the only way local clocks matter to Tendermint.
//
// The network only decides WHEN (and whether, and how many times) a message arrives; the
// simulator's event queue carries it. All randomness comes from the Prng handed in.

import type { Prng } from './prng.js';

export interface LatencyRange {
  minMs: number;
  maxMs: number;
}

/**
 * A scheduled partition active in [startMs, endMs).
 * - symmetric: `groups` are islands; a message between nodes of different groups is lost
 *   (a node listed in no group can talk to everyone).
 * - asymmetric: messages from any node in `from` to any node in `to` are lost; the reverse
 *   direction works.
 */
export type Partition =
  | { kind: 'symmetric'; startMs: number; endMs: number; groups: number[][] }
  | { kind: 'asymmetric'; startMs: number; endMs: number; from: number[]; to: number[] };

/** What a message is, so an adversarial schedule can treat kinds differently (e.g. lose precommits). */
export type MessageKind = 'proposal' | 'prevote' | 'precommit' | 'status';

export interface KindFaults {
  /** Pre-GST loss probability for this kind (replaces dropRate). */
  dropRate?: number;
  /** Pre-GST probability of an extra delay in [0, extraDelayMaxMs] for this kind. */
  extraDelayProbability?: number;
  extraDelayMaxMs?: number;
}

export interface NetworkConfig {
  /** Number of network nodes (simulated processes; Twins make this larger than n). */
  nodes: number;
  /** Pre-GST latency: uniform in the range, plus a tail (below). */
  latency: LatencyRange;
  /** Probability that a pre-GST message takes a tail latency uniform in (latency.maxMs, tailMaxMs]. */
  tailProbability: number;
  tailMaxMs: number;
  /** Post-GST latency: uniform in the range; maxMs is the synchrony bound Δ. */
  latencyAfterGst: LatencyRange;
  /** Pre-GST probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice (independent latencies), before and after GST. */
  duplicateRate: number;
  /** Pre-GST probability that a message gets an extra delay in [0, reorderExtraMs] (overtaken by later ones). */
  reorderRate: number;
  reorderExtraMs: number;
  partitions: Partition[];
  /** Global stabilization time (virtual ms). */
  gstMs: number;
  /** Per-node timeout scale (clock skew), e.g. 0.8..1.25; length = nodes. */
  clockRates: number[];
  /** Optional per-kind pre-GST faults (an adversary that targets one message kind). */
  kinds?: Partial<Record<MessageKind, KindFaults>>;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  cut: number;
  duplicated: number;
}

export const NETWORK_NODES_MAX = 64;
export const LATENCY_MS_MAX = 60_000;

/** Throws a RangeError with code SIM_BAD_NETWORK when the config is inconsistent. */
export function validateNetworkConfig(cfg: NetworkConfig): void {
  const bad = (why: string): never => {
    throw new RangeError(`SIM_BAD_NETWORK: ${why}`);
  };
  if (!Number.isInteger(cfg.nodes) || cfg.nodes < 1 || cfg.nodes > NETWORK_NODES_MAX) {
    bad(`nodes must be in [1, NETWORK_NODES_MAX=${NETWORK_NODES_MAX}], got ${cfg.nodes}`);
  }
  for (const [name, r] of [
    ['latency', cfg.latency],
    ['latencyAfterGst', cfg.latencyAfterGst],
  ] as const) {
    if (!(r.minMs >= 0 && r.minMs <= r.maxMs && r.maxMs <= LATENCY_MS_MAX)) {
      bad(`${name} must satisfy 0 <= minMs <= maxMs <= LATENCY_MS_MAX=${LATENCY_MS_MAX}`);
    }
  }
  if (!(cfg.tailMaxMs >= cfg.latency.maxMs && cfg.tailMaxMs <= LATENCY_MS_MAX)) bad('tailMaxMs out of range');
  for (const [name, p] of [
    ['tailProbability', cfg.tailProbability],
    ['dropRate', cfg.dropRate],
    ['duplicateRate', cfg.duplicateRate],
    ['reorderRate', cfg.reorderRate],
  ] as const) {
    if (!(p >= 0 && p <= 1)) bad(`${name} must be a probability, got ${p}`);
  }
  if (cfg.clockRates.length !== cfg.nodes || cfg.clockRates.some((r) => !(r > 0 && r <= 10))) {
    bad('clockRates must have one rate in (0, 10] per node');
  }
  if (!(cfg.gstMs >= 0)) bad('gstMs must be >= 0');
}

export class Network {
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, cut: 0, duplicated: 0 };

  constructor(
    readonly cfg: NetworkConfig,
    private readonly prng: Prng,
  ) {
    validateNetworkConfig(cfg);
  }

  /** True when no active partition cuts the link from -> to at time atMs. */
  linkUp(from: number, to: number, atMs: number): boolean {
    if (from === to || atMs >= this.cfg.gstMs) return true;
    for (const p of this.cfg.partitions) {
      if (atMs < p.startMs || atMs >= p.endMs) continue;
      if (p.kind === 'symmetric') {
        // Nodes listed in no group are not cut off by this partition (e.g. a Byzantine bridge).
        const gf = p.groups.findIndex((g) => g.includes(from));
        const gt = p.groups.findIndex((g) => g.includes(to));
        if (gf >= 0 && gt >= 0 && gf !== gt) return false;
      } else if (p.from.includes(from) && p.to.includes(to)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Routes one message sent at `nowMs`: returns the delays (ms) after which copies arrive —
   * [] when lost, one entry normally, two when duplicated.
   */
  route(from: number, to: number, nowMs: number, kind: MessageKind): number[] {
    this.stats.sent++;
    if (from === to) return [0];
    if (!this.linkUp(from, to, nowMs)) {
      this.stats.cut++;
      return [];
    }
    const afterGst = nowMs >= this.cfg.gstMs;
    const k = this.cfg.kinds?.[kind];
    if (!afterGst && this.prng.chance(k?.dropRate ?? this.cfg.dropRate)) {
      this.stats.dropped++;
      return [];
    }
    const out = [this.delay(nowMs, afterGst, k)];
    if (this.prng.chance(this.cfg.duplicateRate)) {
      this.stats.duplicated++;
      out.push(this.delay(nowMs, afterGst, k));
    }
    this.stats.delivered += out.length;
    return out;
  }

  /** Timeout scale of a node (its clock rate). */
  clockRate(node: number): number {
    return this.cfg.clockRates[node] ?? 1;
  }

  private delay(nowMs: number, afterGst: boolean, k: KindFaults | undefined): number {
    const p = this.prng;
    if (afterGst) {
      const r = this.cfg.latencyAfterGst;
      return r.minMs + p.next() * (r.maxMs - r.minMs);
    }
    const r = this.cfg.latency;
    let d = p.chance(this.cfg.tailProbability)
      ? r.maxMs + p.next() * (this.cfg.tailMaxMs - r.maxMs)
      : r.minMs + p.next() * (r.maxMs - r.minMs);
    if (p.chance(this.cfg.reorderRate)) d += p.next() * this.cfg.reorderExtraMs;
    if (k?.extraDelayProbability !== undefined && p.chance(k.extraDelayProbability)) d += p.next() * (k.extraDelayMaxMs ?? 0);
    // A message sent just before GST must still arrive by GST + Δ (partial synchrony).
    const bound = this.cfg.gstMs + this.cfg.latencyAfterGst.maxMs - nowMs;
    return Math.min(d, Math.max(bound, this.cfg.latencyAfterGst.maxMs));
  }
}

/** Random scheduled partitions before GST: a mix of symmetric splits and one-way cuts. */
export function randomPartitions(prng: Prng, nodes: number, gstMs: number, count: number): Partition[] {
  const out: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const startMs = Math.floor(prng.next() * gstMs * 0.8);
    const endMs = Math.min(gstMs, startMs + Math.floor(gstMs * (0.05 + prng.next() * 0.4)));
    const order = prng.shuffled(Array.from({ length: nodes }, (_, k) => k));
    const cut = 1 + prng.int(Math.max(1, nodes - 1));
    const a = order.slice(0, cut);
    const b = order.slice(cut);
    if (prng.chance(0.6)) {
      out.push({ kind: 'symmetric', startMs, endMs, groups: [a, b] });
    } else {
      out.push({ kind: 'asymmetric', startMs, endMs, from: a, to: b });
    }
  }
  return out;
}

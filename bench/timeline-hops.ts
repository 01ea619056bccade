// Gossip hop latency from peer timelines: for each consensus message a process received, the time
// since its sender published it (consensus.send on the sender → consensus.receive on the
// receiver), and for entry batches, entries.publish → the first entries.receive on each other
// process. On one machine all processes share one clock, so these are one-way delays: the
// sender's gossip path, the wire, and the receiver's path up to the consensus intake (for
// entries, the mempool). The idle report adds these up against the per-step times.
import type { TimelineEvent } from './timeline-report.js';

/** Delays in milliseconds, in timeline order (timeline-report.ts summarizes them). */
export interface GossipHops {
  proposal: number[];
  prevote: number[];
  precommit: number[];
  /** entries.publish → the first entries.receive on each other process before the next publish. */
  entries: number[];
  /** Validator index of each process that could be told (see validatorsOfProcesses). */
  validators: Record<string, number>;
}

const TYPES = ['proposal', 'prevote', 'precommit'] as const;

/**
 * The validator index of each process: a process never receives its own consensus messages, so
 * its index is the one index (of those seen) it never received from. Ambiguous processes are left
 * out (e.g. a process that received from too few others).
 */
export function validatorsOfProcesses(evs: readonly TimelineEvent[]): Map<number, number> {
  const from = new Map<number, Set<number>>();
  const all = new Set<number>();
  for (const e of evs) {
    if (e.event !== 'consensus.receive') continue;
    const v = Number(e.kv['v']);
    if (!Number.isSafeInteger(v) || v < 0) continue;
    all.add(v);
    let s = from.get(e.pid);
    if (s === undefined) from.set(e.pid, (s = new Set()));
    s.add(v);
  }
  const out = new Map<number, number>();
  const taken = new Set<number>();
  for (const [pid, s] of from) {
    const missing = [...all].filter((v) => !s.has(v));
    if (missing.length === 1 && !taken.has(missing[0]!)) {
      out.set(pid, missing[0]!);
      taken.add(missing[0]!);
    }
  }
  return out;
}

/** Hop delays of the events `inRange` keeps (a receive counts when its time is in range). */
export function gossipHops(evs: readonly TimelineEvent[], inRange: (t: number) => boolean = () => true): GossipHops {
  const vOf = validatorsOfProcesses(evs);
  const pidOf = new Map<number, number>();
  for (const [pid, v] of vOf) pidOf.set(v, pid);
  // First send of each (process, type, height, round): a re-send (after a timeout) is the same message.
  const sent = new Map<string, number>();
  for (const e of evs) {
    if (e.event !== 'consensus.send') continue;
    const k = `${e.pid}/${e.kv['type']}/${e.kv['h']}/${e.kv['r']}`;
    if (!sent.has(k)) sent.set(k, e.t);
  }
  const delays: Record<(typeof TYPES)[number], number[]> = { proposal: [], prevote: [], precommit: [] };
  for (const e of evs) {
    if (e.event !== 'consensus.receive' || !inRange(e.t)) continue;
    const type = e.kv['type'] as (typeof TYPES)[number];
    if (!TYPES.includes(type)) continue;
    const sender = pidOf.get(Number(e.kv['v']));
    if (sender === undefined) continue;
    const t0 = sent.get(`${sender}/${type}/${e.kv['h']}/${e.kv['r']}`);
    if (t0 !== undefined && e.t >= t0) delays[type].push(e.t - t0);
  }
  // Entry batches: only unambiguous ones, i.e. no other publish before the receives.
  const entries: number[] = [];
  for (let i = 0; i < evs.length; i++) {
    const p = evs[i]!;
    if (p.event !== 'entries.publish' || !inRange(p.t)) continue;
    const got = new Set<number>();
    for (let j = i + 1; j < evs.length; j++) {
      const e = evs[j]!;
      if (e.event === 'entries.publish') break;
      if (e.event === 'entries.receive' && e.pid !== p.pid && !got.has(e.pid)) {
        got.add(e.pid);
        entries.push(e.t - p.t);
      }
    }
  }
  const validators: Record<string, number> = {};
  for (const [pid, v] of vOf) validators[String(pid)] = v;
  return { ...delays, entries, validators };
}

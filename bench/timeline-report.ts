// Analysis of peer timelines (the opt-in diagnostic a peer writes when CAIRN_TIMELINE_DIR is set;
// format in docs/timeline.md). Pure functions: lines in, a typed report out. Two views:
// - idle: one entry at a time; where the submit-to-final time goes (milestones from every process);
// - per height: under load, how long each consensus phase takes from the height's first start.
// Plus per-process durations of the synced writes (signer state, block batch) that sit on the path.
import { percentile } from './stats.js';
import { gossipHops } from './timeline-hops.js';

export interface TimelineEvent {
  /** Wall-clock milliseconds since the Unix epoch (fractional). */
  t: number;
  pid: number;
  event: string;
  kv: Record<string, string>;
}

export interface ParsedTimeline {
  /** Sorted by t (ties keep input order). */
  events: TimelineEvent[];
  /** Non-empty lines that do not match `<t> <pid> <event> [key=value ...]`. */
  malformed: number;
}

export interface Summary {
  count: number;
  p50: number | null;
  p90: number | null;
  max: number | null;
}

export interface StepSummary {
  from: string;
  to: string;
  ms: Summary;
}

/** Per-process durations of the synced writes, milliseconds. */
export interface WriteDurations {
  /** signer.persist → signer.persisted (the signer state's synced write before a vote or proposal). */
  signerPersist: Summary;
  /** block.decide → block.durable for the same height (applying a decided block until its batch is durable). */
  decideToDurable: Summary;
  /** store.write → store.written (the store's synced block batch write call). */
  storeWrite: Summary;
}

export const IDLE_MILESTONES = [
  'receive', 'proposal', 'prevote1', 'prevoteQ', 'precommit1', 'precommitQ',
  'decide1', 'decideQ', 'durableQ', 'signQ', 'final', 'http',
] as const;
export type IdleMilestone = (typeof IDLE_MILESTONES)[number];

export const HEIGHT_MILESTONES = ['proposal', 'prevoteQ', 'precommitQ', 'decide1', 'decideQ', 'durableQ'] as const;
export type HeightMilestone = (typeof HEIGHT_MILESTONES)[number];

export interface IdleEntry {
  pid: number;
  /** t of the http.submit. */
  submitT: number;
  /** The entry's height: of the first block.durable with n>0 on the submitting process in the window (else its first block.decide); null if none. */
  height: number | null;
  /** Milliseconds after the submit; null when the milestone was not seen in the window. */
  ms: Record<IdleMilestone, number | null>;
}

export interface TimelineReport {
  events: number;
  malformed: number;
  /** Events a peer dropped because its recorder's buffer was full or an append failed (timeline.dropped n=...): the report misses them. */
  dropped: number;
  pids: number[];
  quorum: number;
  idle: {
    entries: IdleEntry[];
    milestones: Record<IdleMilestone, Summary>;
    /** Consecutive milestones, from the submit (receive is left out of the chain: the proposer may not receive by gossip). */
    steps: StepSummary[];
    /** Writes that started inside an idle entry's window. */
    durations: WriteDurations;
    /** One-way gossip delays of what was received inside an idle entry's window (timeline-hops.ts). */
    hops: HopSummaries;
  };
  load: {
    /** Heights and writes counted start after this t (the last idle entry's http.final); null = the whole timeline. */
    afterT: number | null;
    heights: number;
    /** Milliseconds after the height's first height.start on any process. */
    milestones: Record<HeightMilestone, Summary>;
    steps: StepSummary[];
    durations: WriteDurations;
    /** consensus.receive type=proposal → the same process's consensus.send type=prevote for that height and round. */
    proposalToPrevote: Summary;
    hops: HopSummaries;
  };
}

/** Send → receive per consensus message type, and entry batch publish → first receive per process. */
export interface HopSummaries {
  proposal: Summary;
  prevote: Summary;
  precommit: Summary;
  entries: Summary;
}

function hopSummaries(evs: readonly TimelineEvent[], inRange: (t: number) => boolean): HopSummaries {
  const h = gossipHops(evs, inRange);
  return { proposal: summarizeMs(h.proposal), prevote: summarizeMs(h.prevote), precommit: summarizeMs(h.precommit), entries: summarizeMs(h.entries) };
}

export interface TimelineOptions {
  /** Votes (or processes) that make a quorum; default ⌊2n/3⌋+1 with n = distinct pids in the timeline. */
  quorum?: number;
}

const NUM = /^-?\d+(\.\d+)?$/;
const PID = /^\d+$/;
const EVENT = /^[A-Za-z][\w.-]*$/;

/** One line, or null when it does not have the shape (blank lines are null too). */
export function parseTimelineLine(line: string): TimelineEvent | null {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 3) return null;
  const [ts, ps, ev] = parts as [string, string, string];
  if (!NUM.test(ts) || !PID.test(ps) || !EVENT.test(ev)) return null;
  const kv: Record<string, string> = {};
  for (const p of parts.slice(3)) {
    const i = p.indexOf('=');
    if (i <= 0) return null;
    kv[p.slice(0, i)] = p.slice(i + 1);
  }
  return { t: Number(ts), pid: Number(ps), event: ev, kv };
}

/** Parses and merges lines of any number of processes into one timeline sorted by t. */
export function parseTimeline(lines: Iterable<string>): ParsedTimeline {
  const events: TimelineEvent[] = [];
  let malformed = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    const e = parseTimelineLine(line);
    if (e === null) malformed++;
    else events.push(e);
  }
  // Array.prototype.sort is stable: a process's lines with the same t stay in written order.
  events.sort((a, b) => a.t - b.t);
  return { events, malformed };
}

export function defaultQuorum(n: number): number {
  return Math.floor((2 * n) / 3) + 1;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export function summarizeMs(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, p50: null, p90: null, max: null };
  const s = [...values].sort((a, b) => a - b);
  return { count: s.length, p50: r3(percentile(s, 50)), p90: r3(percentile(s, 90)), max: r3(s[s.length - 1]!) };
}

function int(e: TimelineEvent, k: string): number | null {
  const v = e.kv[k];
  return v !== undefined && PID.test(v) ? Number(v) : null;
}

const isSend = (e: TimelineEvent, type: string): boolean => e.event === 'consensus.send' && e.kv['type'] === type;

/** t of the first event matching, or null. */
function first(evs: readonly TimelineEvent[], pred: (e: TimelineEvent) => boolean): number | null {
  for (const e of evs) if (pred(e)) return e.t;
  return null;
}

/** t of the q-th event matching from distinct processes (a restarted or repeating process counts once). */
function nth(evs: readonly TimelineEvent[], pred: (e: TimelineEvent) => boolean, q: number): number | null {
  const seen = new Set<number>();
  for (const e of evs) {
    if (!pred(e) || seen.has(e.pid)) continue;
    seen.add(e.pid);
    if (seen.size >= q) return e.t;
  }
  return null;
}

/**
 * t at which some single round first has q sends of this vote type from distinct processes: votes
 * of a round that did not decide (e.g. nil prevotes of round 0) must not add up with the next round's.
 */
function voteQuorum(evs: readonly TimelineEvent[], type: string, h: number | null, q: number): number | null {
  const byRound = new Map<string, Set<number>>();
  for (const e of evs) {
    if (!isSend(e, type) || (h !== null && int(e, 'h') !== h)) continue;
    const r = e.kv['r'] ?? '';
    const s = byRound.get(r) ?? new Set<number>();
    byRound.set(r, s);
    s.add(e.pid);
    if (s.size >= q) return e.t;
  }
  return null;
}

/** Pairs each start event with the same process's next end event (optionally matched on a key). */
function pairDurations(evs: readonly TimelineEvent[], start: string, end: string, inRange: (t: number) => boolean, key?: string): number[] {
  const open = new Map<string, number>();
  const out: number[] = [];
  for (const e of evs) {
    if (e.event !== start && e.event !== end) continue;
    const id = key === undefined ? `${e.pid}` : `${e.pid}/${e.kv[key] ?? ''}`;
    if (e.event === start) open.set(id, e.t);
    else {
      const t0 = open.get(id);
      if (t0 === undefined) continue;
      open.delete(id);
      if (inRange(t0)) out.push(e.t - t0);
    }
  }
  return out;
}

function writeDurations(evs: readonly TimelineEvent[], inRange: (t: number) => boolean): WriteDurations {
  return {
    signerPersist: summarizeMs(pairDurations(evs, 'signer.persist', 'signer.persisted', inRange)),
    decideToDurable: summarizeMs(pairDurations(evs, 'block.decide', 'block.durable', inRange, 'h')),
    storeWrite: summarizeMs(pairDurations(evs, 'store.write', 'store.written', inRange)),
  };
}

function milestoneSummaries<K extends string>(names: readonly K[], rows: readonly Record<K, number | null>[]): Record<K, Summary> {
  const out = {} as Record<K, Summary>;
  for (const k of names) out[k] = summarizeMs(rows.map((r) => r[k]).filter((v): v is number => v !== null));
  return out;
}

/** Durations between consecutive milestones of a chain (a pair counts only when both were seen). */
function chainSteps<K extends string>(start: string, chain: readonly K[], rows: readonly Record<K, number | null>[]): StepSummary[] {
  const steps: StepSummary[] = [];
  let prev: K | null = null;
  for (const k of chain) {
    const vals: number[] = [];
    for (const r of rows) {
      const a = prev === null ? 0 : r[prev];
      const b = r[k];
      if (a !== null && b !== null) vals.push(b - a);
    }
    steps.push({ from: prev ?? start, to: k, ms: summarizeMs(vals) });
    prev = k;
  }
  return steps;
}

interface Window {
  pid: number;
  start: number;
  end: number;
  /** Index range [i0, i1] of the window's events in the merged timeline. */
  i0: number;
  i1: number;
}

/**
 * Idle entries: an http.submit whose process answers http.final before any other http.submit
 * arrives anywhere (the idle phase submits one entry and waits for its final before the next).
 * Load generators submit concurrently and do not long-poll, so their submits never qualify, and
 * neither does an entry whose final never came.
 */
function idleWindows(evs: readonly TimelineEvent[]): Window[] {
  const out: Window[] = [];
  for (let i = 0; i < evs.length; i++) {
    const s = evs[i]!;
    if (s.event !== 'http.submit') continue;
    for (let j = i + 1; j < evs.length; j++) {
      const e = evs[j]!;
      if (e.event === 'http.submit') break;
      if (e.event === 'http.final' && e.pid === s.pid) {
        out.push({ pid: s.pid, start: s.t, end: e.t, i0: i, i1: j });
        break;
      }
    }
  }
  return out;
}

function idleEntry(evs: readonly TimelineEvent[], w: Window, q: number): IdleEntry {
  const win = evs.slice(w.i0, w.i1 + 1);
  const own = (e: TimelineEvent) => e.pid === w.pid;
  let height: number | null = null;
  for (const e of win) if (own(e) && e.event === 'block.durable' && (int(e, 'n') ?? 0) > 0) { height = int(e, 'h'); break; }
  if (height === null) for (const e of win) if (own(e) && e.event === 'block.decide') { height = int(e, 'h'); break; }
  // Consensus events of other heights (an empty height in between) are not this entry's.
  const atH = (e: TimelineEvent) => height === null || int(e, 'h') === height;
  const rel = (t: number | null) => (t === null ? null : r3(t - w.start));
  // The tree size that holds the entry: the one the submitter signs after applying its block.
  // Signatures and finality of an earlier size (the previous entry's, arriving late) do not count.
  let size: number | null = null;
  let applied = false;
  for (const e of win) {
    if (!own(e)) continue;
    if (e.event === 'block.durable' && height !== null && int(e, 'h') === height) applied = true;
    else if (applied && e.event === 'checkpoint.sign') {
      size = int(e, 'size');
      break;
    }
  }
  const covers = (e: TimelineEvent) => size === null || (int(e, 'size') ?? -1) >= size;
  const ms: Record<IdleMilestone, number | null> = {
    receive: rel(first(win, (e) => e.event === 'entries.receive')),
    proposal: rel(first(win, (e) => isSend(e, 'proposal') && atH(e))),
    prevote1: rel(first(win, (e) => isSend(e, 'prevote') && atH(e))),
    prevoteQ: rel(voteQuorum(win, 'prevote', height, q)),
    precommit1: rel(first(win, (e) => isSend(e, 'precommit') && atH(e))),
    precommitQ: rel(voteQuorum(win, 'precommit', height, q)),
    decide1: rel(first(win, (e) => e.event === 'block.decide' && atH(e))),
    decideQ: rel(nth(win, (e) => e.event === 'block.decide' && atH(e), q)),
    durableQ: rel(nth(win, (e) => e.event === 'block.durable' && atH(e), q)),
    signQ: rel(nth(win, (e) => e.event === 'checkpoint.sign' && covers(e), q)),
    final: rel(first(win, (e) => own(e) && e.event === 'checkpoint.final' && covers(e))),
    http: rel(w.end),
  };
  return { pid: w.pid, submitT: w.start, height, ms };
}

function heightRows(evs: readonly TimelineEvent[], q: number, afterT: number | null): Record<HeightMilestone, number | null>[] {
  const byH = new Map<number, TimelineEvent[]>();
  const t0 = new Map<number, number>();
  for (const e of evs) {
    const h = int(e, 'h');
    if (h === null) continue;
    if (e.event === 'height.start' && !t0.has(h)) t0.set(h, e.t);
    const list = byH.get(h) ?? [];
    byH.set(h, list);
    list.push(e);
  }
  const rows: Record<HeightMilestone, number | null>[] = [];
  for (const [h, start] of [...t0.entries()].sort((a, b) => a[0] - b[0])) {
    if (afterT !== null && start <= afterT) continue;
    const hs = (byH.get(h) ?? []).filter((e) => e.t >= start);
    const rel = (t: number | null) => (t === null ? null : r3(t - start));
    rows.push({
      proposal: rel(first(hs, (e) => isSend(e, 'proposal'))),
      prevoteQ: rel(voteQuorum(hs, 'prevote', h, q)),
      precommitQ: rel(voteQuorum(hs, 'precommit', h, q)),
      decide1: rel(first(hs, (e) => e.event === 'block.decide')),
      decideQ: rel(nth(hs, (e) => e.event === 'block.decide', q)),
      durableQ: rel(nth(hs, (e) => e.event === 'block.durable', q)),
    });
  }
  return rows;
}

/** consensus.receive type=proposal → the same process's next prevote send for that height and round. */
function proposalToPrevote(evs: readonly TimelineEvent[], inRange: (t: number) => boolean): number[] {
  const open = new Map<string, number>();
  const out: number[] = [];
  for (const e of evs) {
    const id = `${e.pid}/${e.kv['h'] ?? ''}/${e.kv['r'] ?? ''}`;
    if (e.event === 'consensus.receive' && e.kv['type'] === 'proposal') {
      if (!open.has(id)) open.set(id, e.t);
    } else if (isSend(e, 'prevote')) {
      const t0 = open.get(id);
      if (t0 === undefined) continue;
      open.delete(id);
      if (inRange(t0)) out.push(e.t - t0);
    }
  }
  return out;
}

/** The report over raw lines (any order, several processes) or an already parsed timeline. */
export function timelineReport(input: readonly string[] | ParsedTimeline, opts: TimelineOptions = {}): TimelineReport {
  const parsed = Array.isArray(input) ? parseTimeline(input as readonly string[]) : (input as ParsedTimeline);
  const evs = parsed.events;
  const pids = [...new Set(evs.map((e) => e.pid))].sort((a, b) => a - b);
  const q = opts.quorum ?? defaultQuorum(pids.length);
  if (!Number.isInteger(q) || q < 1) throw new Error(`timeline: quorum must be a positive integer, got ${q}`);

  const windows = idleWindows(evs);
  const entries = windows.map((w) => idleEntry(evs, w, q));
  const inIdle = (t: number) => windows.some((w) => t >= w.start && t <= w.end);
  const afterT = windows.length === 0 ? null : windows[windows.length - 1]!.end;
  const inLoad = (t: number) => afterT === null || t > afterT;
  const rows = heightRows(evs, q, afterT);

  return {
    events: evs.length,
    malformed: parsed.malformed,
    dropped: evs.reduce((a, e) => a + (e.event === 'timeline.dropped' ? (int(e, 'n') ?? 0) : 0), 0),
    pids,
    quorum: q,
    idle: {
      entries,
      milestones: milestoneSummaries(IDLE_MILESTONES, entries.map((e) => e.ms)),
      steps: chainSteps('submit', IDLE_MILESTONES.filter((k) => k !== 'receive'), entries.map((e) => e.ms)),
      durations: writeDurations(evs, inIdle),
      hops: hopSummaries(evs, inIdle),
    },
    load: {
      afterT,
      heights: rows.length,
      milestones: milestoneSummaries(HEIGHT_MILESTONES, rows),
      steps: chainSteps('start', HEIGHT_MILESTONES, rows),
      durations: writeDurations(evs, inLoad),
      proposalToPrevote: summarizeMs(proposalToPrevote(evs, inLoad)),
      hops: hopSummaries(evs, inLoad),
    },
  };
}

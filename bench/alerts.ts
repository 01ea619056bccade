// Rule evaluation speed, the alerts phase of `npm run bench` (alone: `npm run bench:alerts`).
//
// Synthetic final entries: a mix of logins, patient record reads, privilege changes and sensitive
// reads by 1,000 actors, one entry every 50 ms of entry time, starting on a Friday morning in
// Paris, evaluated with the example rules of docs/examples/rules.yaml on one core (this process).
// Two figures:
//   - evaluation: AlertEngine.evaluate alone, on entry objects built beforehand in chunks of 1,024
//     (building them is not timed). Leaf hashes come from a pool of 4,096 precomputed ones. This is the engine's share of the peer's evaluator, which also parses each
//     final entry and hashes its leaf (as the replay below does).
//   - replay: the code path of `cairn alerts replay` minus the network: entries serialized into
//     C2SP entry bundles of 256 (generating them is not timed), then, timed, each bundle decoded,
//     each entry JSON-parsed and its RFC 9162 leaf hash computed, evaluated, and each alert
//     serialized as the JSON line the command prints (not written anywhere); node/alerts/replay.ts
//     is the code the command runs.
// Each figure in wall-clock time (what the targets are about) and per CPU second of this process
// (the speed of the core it got, much less disturbed by other work on a shared machine).
// Both are bounded in count and in time: a run cut short by its time budget says so and fails.
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { AlertEngine } from '../src/alerts/engine.js';
import type { AuditEntry } from '../src/entry/types.js';
import { sha256 } from '../src/crypto/hash.js';
import { utf8 } from '../src/encoding/bytes.js';
import { decodeEntryBundle, encodeEntryBundle, TILE_WIDTH } from '../src/merkle/index.js';
import { loadRulesFile } from '../node/alerts/rules-file.js';
import { replayLeaves } from '../node/alerts/replay.js';
import { codeRoot } from './paths.js';
import { round } from './stats.js';

/** Evaluation must keep up with this many times the log's max sustained finalized rate. */
export const EVAL_TARGET_FACTOR = 5;
/** Replay target (entries/s) over REPLAY_ENTRIES entries. */
export const REPLAY_TARGET_PER_SEC = 20_000;
export const REPLAY_ENTRIES = 1_000_000;

export interface AlertsBenchOptions {
  /** Entries evaluated by the engine alone. */
  evalEntries: number;
  /** Entries replayed through bundles. */
  replayEntries: number;
  /** Wall-clock budget of each part (seconds); a part cut short reports completed: false. */
  maxSeconds: number;
}

export const ALERTS_FULL: AlertsBenchOptions = { evalEntries: 200_000, replayEntries: REPLAY_ENTRIES, maxSeconds: 75 };
export const ALERTS_SMOKE: AlertsBenchOptions = { evalEntries: 20_000, replayEntries: 50_000, maxSeconds: 20 };

export interface AlertsPart {
  requested: number;
  entries: number;
  completed: boolean;
  seconds: number;
  entriesPerSec: number;
  /**
   * CPU time this process spent in the timed part, and entries per CPU second: the speed of one
   * core whatever else runs on the machine (the wall-clock figure above is what the target is).
   */
  cpuSeconds: number;
  cpuEntriesPerSec: number;
  alerts: number;
}

/** CPU seconds (user + system) since `since` (a process.cpuUsage() value). */
function cpuSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

export interface AlertsBenchResult {
  rules: number;
  rulesFile: string;
  loadAverage: { start: number; end: number };
  evaluation: AlertsPart & { measured: string };
  replay: AlertsPart & { measured: string; bundles: number; alertJsonBytes: number };
  targets: {
    /** The max sustained finalized rate compared with, and where it comes from. */
    maxFinalizedPerSec: number | null;
    maxFinalizedFrom: string | null;
    evaluationTargetPerSec: number | null;
    /** null: no finalized rate to compare with. */
    evaluationPass: boolean | null;
    replayTargetPerSec: number;
    replayEntriesTarget: number;
    /** Needs the full REPLAY_ENTRIES replayed (a smaller run cannot pass). */
    replayPass: boolean;
  };
}

const T0 = Date.parse('2024-03-29T06:00:00Z');
const ACTIONS = ['auth.login', 'patient.record.read', 'patient.record.read', 'patient.record.update', 'iam.role.grant', 'record.read'];
const CLIENT = 'a'.repeat(64);
const SIG = 'b'.repeat(128);

/** Synthetic final entry i (keys in canonical order, so its JSON is its JCS leaf). */
export function syntheticEntry(i: number): AuditEntry {
  return {
    action: ACTIONS[i % ACTIONS.length]!,
    actor: { id: `u${i % 1000}`, type: i % 3 === 0 ? 'service' : 'user' },
    client: CLIENT,
    id: `e${i}`,
    outcome: i % 11 === 0 ? 'failure' : 'success',
    resource: { id: `p${i % 20_000}`, type: i % 97 === 0 ? 'hiv_result' : 'patient_record' },
    sig: SIG,
    source: { ip: `10.0.${(i >> 8) & 255}.${i & 255}` },
    time: new Date(T0 + i * 50).toISOString(),
    v: 1,
  } as AuditEntry;
}

async function rulesOf(file: string) {
  return (await loadRulesFile(file, { destinations: false })).rules;
}

export async function measureEvaluation(file: string, n: number, maxSeconds: number): Promise<AlertsPart> {
  const engine = new AlertEngine(await rulesOf(file));
  const hashes = Array.from({ length: 4096 }, (_, i) => sha256(utf8(`leaf ${i}`)));
  const deadline = performance.now() + maxSeconds * 1000;
  let alerts = 0;
  let i = 0;
  let timedMs = 0;
  let cpu = 0;
  // Chunks of 1,024 entries built untimed, then evaluated timed: the figure is the engine's alone.
  while (i < n && performance.now() < deadline) {
    const chunk = Array.from({ length: Math.min(1024, n - i) }, (_, k) => syntheticEntry(i + k));
    const c = process.cpuUsage();
    const t = performance.now();
    for (const entry of chunk) {
      alerts += engine.evaluate({ index: i, leafHash: hashes[i % hashes.length]!, entry }).length;
      i++;
    }
    timedMs += performance.now() - t;
    cpu += cpuSince(c);
  }
  return { ...rates(n, i, timedMs / 1000, cpu), alerts };
}

function rates(requested: number, entries: number, s: number, cpu: number): Omit<AlertsPart, 'alerts'> {
  return {
    requested,
    entries,
    completed: entries === requested,
    seconds: round(s, 2),
    entriesPerSec: round(entries / Math.max(s, 1e-9)),
    cpuSeconds: round(cpu, 2),
    cpuEntriesPerSec: round(entries / Math.max(cpu, 1e-9)),
  };
}

export async function measureReplay(file: string, n: number, maxSeconds: number): Promise<AlertsPart & { bundles: number; alertJsonBytes: number }> {
  const engine = new AlertEngine(await rulesOf(file));
  const deadline = performance.now() + maxSeconds * 1000;
  let timedMs = 0;
  let alerts = 0;
  let alertJsonBytes = 0;
  let done = 0;
  let bundles = 0;
  let cpu = 0;
  while (done < n && performance.now() < deadline) {
    const width = Math.min(TILE_WIDTH, n - done);
    const leaves: Uint8Array[] = [];
    for (let k = 0; k < width; k++) leaves.push(utf8(JSON.stringify(syntheticEntry(done + k))));
    const bundle = encodeEntryBundle(leaves);
    const c = process.cpuUsage();
    const t = performance.now();
    // As alertsReplayCommand does for each bundle it fetched.
    const lines = replayLeaves(engine, decodeEntryBundle(bundle, width), done, done, done + width);
    if (lines.length > 0) alertJsonBytes += lines.join('\n').length + 1;
    timedMs += performance.now() - t;
    cpu += cpuSince(c);
    alerts += lines.length;
    done += width;
    bundles++;
  }
  return { ...rates(n, done, timedMs / 1000, cpu), alerts, bundles, alertJsonBytes };
}

/**
 * The full network run under bench/results/ with the highest max sustained finalized rate (the
 * strictest target), if any; the newest 200 result files are read.
 */
export async function bestFullRun(dir = join(codeRoot(), 'bench', 'results')): Promise<{ file: string; entriesPerSec: number } | null> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((f) => /^\d{4}-.*\.json$/.test(f)).sort().reverse();
  } catch {
    return null;
  }
  let best: { file: string; entriesPerSec: number } | null = null;
  for (const f of names.slice(0, 200)) {
    try {
      const r = JSON.parse(await readFile(join(dir, f), 'utf8')) as { kind?: string; maxThroughput?: { entriesPerSec?: unknown } };
      const x = r.maxThroughput?.entriesPerSec;
      if (r.kind === 'full' && typeof x === 'number' && x > 0 && (best === null || x > best.entriesPerSec)) best = { file: `bench/results/${f}`, entriesPerSec: x };
    } catch {
      // not a result file
    }
  }
  return best;
}

/**
 * The alerts phase. `maxFinalized`: the max sustained finalized rate to compare evaluation with
 * (this run's, or a recorded run's), or null when there is none.
 */
export async function runAlertsPhase(o: AlertsBenchOptions, maxFinalized: { entriesPerSec: number; from: string } | null, log: (m: string) => void = () => {}): Promise<AlertsBenchResult> {
  const rulesFile = 'docs/examples/rules.yaml';
  const file = join(codeRoot(), rulesFile);
  const loadStart = round(os.loadavg()[0]!, 2);
  const rules = (await rulesOf(file)).length;
  const evaluation = await measureEvaluation(file, o.evalEntries, o.maxSeconds);
  log(`alerts: evaluated ${evaluation.entries} entries with ${rules} example rules in ${evaluation.seconds} s = ${evaluation.entriesPerSec}/s, ${evaluation.cpuEntriesPerSec}/s per CPU second (${evaluation.alerts} alerts)`);
  const replay = await measureReplay(file, o.replayEntries, o.maxSeconds);
  log(`alerts: replayed ${replay.entries} entries (${replay.bundles} bundles) in ${replay.seconds} s = ${replay.entriesPerSec}/s, ${replay.cpuEntriesPerSec}/s per CPU second (${replay.alerts} alerts)${replay.completed ? '' : ' [cut short by the time budget]'}`);
  const evalTarget = maxFinalized === null ? null : round(EVAL_TARGET_FACTOR * maxFinalized.entriesPerSec);
  return {
    rules,
    rulesFile,
    loadAverage: { start: loadStart, end: round(os.loadavg()[0]!, 2) },
    evaluation: { ...evaluation, measured: 'AlertEngine.evaluate on in-memory entries, one core (no parsing, no hashing)' },
    replay: { ...replay, measured: 'cairn alerts replay minus the network: entry bundles decoded, entries parsed, leaf hashes computed, evaluated, alerts serialized; bundle generation not timed' },
    targets: {
      maxFinalizedPerSec: maxFinalized?.entriesPerSec ?? null,
      maxFinalizedFrom: maxFinalized?.from ?? null,
      evaluationTargetPerSec: evalTarget,
      evaluationPass: evalTarget === null ? null : evaluation.completed && evaluation.entriesPerSec >= evalTarget,
      replayTargetPerSec: REPLAY_TARGET_PER_SEC,
      replayEntriesTarget: REPLAY_ENTRIES,
      replayPass: replay.completed && replay.entries >= REPLAY_ENTRIES && replay.entriesPerSec >= REPLAY_TARGET_PER_SEC,
    },
  };
}

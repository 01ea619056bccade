// Reads the peer timelines of a directory (timeline-<pid>.log, written by peers started with
// CAIRN_TIMELINE_DIR) and prints where the time goes: `npx tsx bench/timeline.ts <dir> [--json]
// [--quorum N]`. The analysis itself is in timeline-report.ts.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HEIGHT_MILESTONES, IDLE_MILESTONES, timelineReport, type HopSummaries, type StepSummary, type Summary, type TimelineReport, type WriteDurations } from './timeline-report.js';

/** Bounds on what one report reads: a timeline directory is a handful of peers' files. */
export const TIMELINE_MAX_FILES = 64;
export const TIMELINE_MAX_BYTES = 200 * 1024 * 1024;

const FILE = /^timeline-.+\.log$/;

export interface TimelineDir {
  files: string[];
  bytes: number;
  lines: string[];
}

/** All timeline-*.log lines of a directory (unsorted; timelineReport merges them by t). */
export async function readTimelineDir(dir: string, limits: { maxFiles?: number; maxBytes?: number } = {}): Promise<TimelineDir> {
  const maxFiles = limits.maxFiles ?? TIMELINE_MAX_FILES;
  const maxBytes = limits.maxBytes ?? TIMELINE_MAX_BYTES;
  const files = (await readdir(dir)).filter((f) => FILE.test(f)).sort();
  if (files.length === 0) throw new Error(`timeline: no timeline-*.log file in ${dir}`);
  if (files.length > maxFiles) throw new Error(`timeline: ${files.length} timeline files in ${dir}, at most ${maxFiles} are read`);
  // Sizes first, so an oversized directory is refused before anything is loaded.
  let bytes = 0;
  for (const f of files) bytes += (await stat(join(dir, f))).size;
  if (bytes > maxBytes) throw new Error(`timeline: ${bytes} bytes of timeline files in ${dir}, at most ${maxBytes} are read`);
  const lines: string[] = [];
  for (const f of files) for (const l of (await readFile(join(dir, f), 'utf8')).split('\n')) lines.push(l);
  return { files, bytes, lines };
}

const fmt = (v: number | null): string => (v === null ? '-' : v.toFixed(1));

function row(label: string, s: Summary, withMax = false): string {
  const cells = [fmt(s.p50), fmt(s.p90)];
  if (withMax) cells.push(fmt(s.max));
  return `  ${label.padEnd(36)}${cells.map((c) => c.padStart(9)).join('')}${String(s.count).padStart(7)}`;
}

function header(title: string, withMax = false): string {
  return `${title}\n  ${''.padEnd(36)}${['p50 ms', 'p90 ms', ...(withMax ? ['max ms'] : [])].map((c) => c.padStart(9)).join('')}${'n'.padStart(7)}`;
}

const LABELS: Record<string, string> = {
  submit: 'submit', start: 'height start', receive: 'entries received (first)', proposal: 'proposal sent',
  prevote1: 'prevote sent (first)', prevoteQ: 'prevote sent (quorum)', precommit1: 'precommit sent (first)',
  precommitQ: 'precommit sent (quorum)', decide1: 'decided (first)', decideQ: 'decided (quorum)',
  durableQ: 'block durable (quorum)', signQ: 'checkpoint signed (quorum)', final: 'checkpoint final (submitter)', http: 'http final answered',
};

const SHORT: Record<string, string> = {
  submit: 'submit', start: 'start', proposal: 'proposal', prevote1: 'prevote 1st', prevoteQ: 'prevote quorum',
  precommit1: 'precommit 1st', precommitQ: 'precommit quorum', decide1: 'decide 1st', decideQ: 'decide quorum',
  durableQ: 'durable quorum', signQ: 'sign quorum', final: 'final', http: 'http final',
};

function steps(list: readonly StepSummary[]): string[] {
  return list.map((s) => row(`${SHORT[s.from] ?? s.from} -> ${SHORT[s.to] ?? s.to}`, s.ms));
}

function writes(d: WriteDurations): string[] {
  return [row('signer.persist -> persisted', d.signerPersist, true), row('block.decide -> durable', d.decideToDurable, true), row('store.write -> written', d.storeWrite, true)];
}

function hops(h: HopSummaries): string[] {
  return [row('entries publish -> receive', h.entries, true), row('proposal send -> receive', h.proposal, true), row('prevote send -> receive', h.prevote, true), row('precommit send -> receive', h.precommit, true)];
}

/** A compact text table of a report. */
export function formatTimelineReport(r: TimelineReport): string {
  const out: string[] = [];
  out.push(`timeline: ${r.events} events from ${r.pids.length} processes (${r.pids.join(', ')}), ${r.malformed} malformed lines, quorum ${r.quorum}`);
  if (r.dropped > 0) out.push(`WARNING: the peers dropped ${r.dropped} events (recorder buffer full or an append failed): milestones may be missing or late`);
  out.push('');
  out.push(header(`idle: ${r.idle.entries.length} entries, milestones after the submit`));
  for (const k of IDLE_MILESTONES) out.push(row(LABELS[k]!, r.idle.milestones[k]));
  out.push(header('idle: steps'));
  out.push(...steps(r.idle.steps));
  out.push(header('idle: per-process writes', true));
  out.push(...writes(r.idle.durations));
  out.push(header('idle: gossip hops (one way, per receiving process)', true));
  out.push(...hops(r.idle.hops));
  out.push('');
  const scope = r.load.afterT === null ? 'whole timeline' : 'after the last idle entry';
  out.push(header(`per height (${scope}): ${r.load.heights} heights, milestones after the height's first start`));
  for (const k of HEIGHT_MILESTONES) out.push(row(LABELS[k]!, r.load.milestones[k]));
  out.push(header('per height: steps'));
  out.push(...steps(r.load.steps));
  out.push(header(`per-process writes (${scope})`, true));
  out.push(...writes(r.load.durations));
  out.push(row('proposal received -> own prevote', r.load.proposalToPrevote, true));
  out.push(header(`gossip hops (${scope}; one way, per receiving process)`, true));
  out.push(...hops(r.load.hops));
  return out.join('\n') + '\n';
}

const invokedDirectly = process.argv[1]?.endsWith('/bench/timeline.ts') === true || process.argv[1]?.endsWith('/bench/timeline.js') === true;
if (invokedDirectly) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const qi = args.indexOf('--quorum');
  const quorum = qi >= 0 ? Number(args[qi + 1]) : undefined;
  const dir = args.find((a, i) => !a.startsWith('--') && (qi < 0 || i !== qi + 1));
  if (dir === undefined || (quorum !== undefined && !(Number.isInteger(quorum) && quorum > 0))) {
    process.stderr.write('usage: timeline <dir> [--json] [--quorum N]\n');
    process.exit(2);
  }
  try {
    const d = await readTimelineDir(dir);
    const r = timelineReport(d.lines, quorum === undefined ? {} : { quorum });
    process.stdout.write(json ? JSON.stringify({ files: d.files, bytes: d.bytes, ...r }, null, 2) + '\n' : formatTimelineReport(r));
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}

// The human-readable table of a bench result (the same numbers as the JSON).
/* eslint-disable @typescript-eslint/no-explicit-any */

function fmt(x: unknown, digits = 0): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return String(x);
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

const verdict = (pass: boolean | null) => (pass === null ? 'no target' : pass ? 'PASS' : 'FAIL');

/** Rows of the alerts phase (bench/alerts.ts), or none when it was skipped. */
export function alertRows(a: any): [string, string][] {
  if (a === undefined || a === null || a.skipped === true) return [];
  const t = a.targets;
  const e = a.evaluation;
  const p = a.replay;
  const cut = (x: any) => (x.completed ? '' : ` (cut short by the time budget: ${fmt(x.entries)} of ${fmt(x.requested)})`);
  const evalTarget = t.evaluationTargetPerSec === null ? 'no max finalized rate to compare with' : `target ${fmt(t.evaluationTargetPerSec)}/s = 5 × ${fmt(t.maxFinalizedPerSec)} finalized/s (${t.maxFinalizedFrom})`;
  return [
    ['rule evaluation (example rules)', `${fmt(e.entriesPerSec)} entries/s on one core, ${a.rules} rules, ${fmt(e.entries)} entries${cut(e)}; ${evalTarget}: ${verdict(t.evaluationPass)}`],
    ['alerts replay', `${fmt(p.entriesPerSec)} entries/s over ${fmt(p.entries)} entries${cut(p)} (bundles decoded, parsed, hashed, evaluated; no network); target ${fmt(t.replayTargetPerSec)}/s over ${fmt(t.replayEntriesTarget)}: ${verdict(t.replayPass)}`],
    ['  load average during it', `${a.loadAverage.start} -> ${a.loadAverage.end}`],
  ];
}

export function formatTable(r: any): string {
  const rows: [string, string][] = [];
  const m = r.machine;
  rows.push(['machine', `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node} (commit ${m.commit})`]);
  rows.push(['load average (1 min)', `${r.loadAverage.start} at start, ${r.loadAverage.end} at end (other work on the machine competes with the bench)`]);
  if (r.kind === 'alerts') return frame(r, [...rows, ...alertRows(r.alerts)]);
  rows.push(['network', `${r.network.peers} peer processes (quorum ${r.network.quorum}), ${r.network.clients} client keys, ${r.network.loadgens} load-generator processes, ${r.options.entryBytes}-byte entries${r.network.auth && r.network.auth !== 'none' ? `; access policy on, reads authenticated by ${r.network.auth}${r.network.metaAudit ? ', reads meta-audited' : ''}` : ''}`]);
  const b = r.verificationBound;
  rows.push(['verification bound', `${fmt(b.verifyPerSecPerCore)} verify/s/core × ${b.cores} cores ÷ ${b.peers} peers = ${fmt(b.entriesPerSec)} entries/s`]);
  const t = r.maxThroughput;
  rows.push(['max sustained throughput', `${fmt(t.entriesPerSec)} finalized entries/s over ${t.durationS} s (offered ${fmt(t.offeredRate)}/s; ${t.step.keepsUp ? 'kept up' : `did not keep up: ${t.step.why}`})`]);
  rows.push(['  ratio to the bound', `${fmt(t.ratioToBound * 100, 1)} %`]);
  rows.push(['  latency at the max', `p50 ${fmt(t.step.latencyMs.p50)} / p90 ${fmt(t.step.latencyMs.p90)} / p99 ${fmt(t.step.latencyMs.p99)} / max ${fmt(t.step.latencyMs.max)} ms`]);
  for (const [pct, s] of Object.entries<any>(r.latency)) {
    rows.push([`latency at ${pct} (${fmt(s.offeredRate)}/s)`, `p50 ${fmt(s.latencyMs.p50)} / p90 ${fmt(s.latencyMs.p90)} / p99 ${fmt(s.latencyMs.p99)} / max ${fmt(s.latencyMs.max)} ms (${fmt(s.final)} entries${s.keepsUp ? '' : `; ${s.why}`})`]);
  }
  rows.push(['  (latency as load generators see it)', 'they poll GET /checkpoint every 20 ms: the poll adds ~10 ms on average to each figure above']);
  const il = r.idleLatency;
  if (il !== undefined) rows.push(['idle latency (one entry at a time)', `p50 ${fmt(il.latencyMs.p50, 1)} / p90 ${fmt(il.latencyMs.p90, 1)} / p99 ${fmt(il.latencyMs.p99, 1)} / max ${fmt(il.latencyMs.max, 1)} ms over ${fmt(il.entries)} entries (long-poll ?wait=final, proof verified; no polling delay)`]);
  const res = r.resources;
  rows.push(['CPU per finalized entry', `${fmt(res.cpuMsPerEntry, 3)} ms (all peers together; load generators incl. pre-signing ${fmt(res.loadgenCpuMsPerEntry, 3)} ms)`]);
  const th = Object.entries<number>(res.cpuMsPerEntryByThread ?? {}).sort((a, b) => b[1] - a[1]);
  if (th.length > 0) rows.push(['  by thread (ms/entry)', th.map(([k, v]) => `${k} ${fmt(v, 3)}`).join(', ')]);
  rows.push(['idle CPU per peer', `${res.idleCpuPctPerPeer.map((x: number) => fmt(x, 1)).join(' / ')} % of a core (no load)`]);
  rows.push(['disk per entry', `${res.diskBytesPerEntry.map((x: number) => fmt(x)).join(' / ')} bytes (each peer)`]);
  rows.push(...rssRows(r));
  const c = r.catchup;
  if (c.skipped !== true) {
    const restarted = c.restartedPeakRssMiB === undefined ? [] : [['  peak RSS of the restarted peer', `${fmt(c.restartedPeakRssMiB, 1)} MiB (start-up and catch-up)`] as [string, string]];
    rows.push(['catch-up', `${fmt(c.entriesBehind)} entries behind -> head in ${fmt(c.seconds, 1)} s from restart = ${fmt(c.entriesPerSec)} entries/s (${fmt(c.entriesPerSecFromFirstProgress)}/s from its first new block)${c.reachedHead ? '' : ' (did NOT reach the head)'}${c.belowTarget ? ` [target was ${fmt(c.target)}: the push is bounded in time]` : ''}`], ...restarted);
  }
  const a = r.auditor;
  rows.push(['checkpoint verify (light verifier)', `${fmt(a.checkpointVerifyPerSecNode)}/s node:crypto, ${fmt(a.checkpointVerifyPerSecNoble)}/s noble`]);
  rows.push(['inclusion proof verify (receipt)', `${fmt(a.inclusionVerifyPerSecNode)}/s node:crypto, ${fmt(a.inclusionVerifyPerSecNoble)}/s noble`]);
  rows.push(['cairn audit', `${a.cairnAudit.ok ? 'OK' : 'FAILED'}: ${fmt(a.cairnAudit.entries)} entries in ${fmt(a.cairnAudit.seconds, 1)} s = ${fmt(a.cairnAudit.entriesPerSec)} entries/s`]);
  const steps = r.steps.map((s: any) => `${fmt(s.offeredRate)}->${fmt(s.finalizedPerSec)}${s.keepsUp ? '' : '✗'}`).join(', ');
  rows.push(['rate steps (offered->finalized/s)', steps]);
  rows.push(...alertRows(r.alerts));
  return frame(r, rows);
}

const mibs = (xs: (number | null)[]) => `${xs.map((x) => (x === null ? 'n/a' : fmt(x, 1))).join(' / ')} MiB`;
const NOT_RESET = 'not measured: the peak could not be reset (needs Linux >= 4.0 and write access to /proc/<pid>/clear_refs)';

/**
 * Peak RSS rows: over the whole run (which includes the ladder's overloaded steps, where bounded
 * queues fill up) and during the max sustained step alone, the figure a memory target at the
 * sustained rate is about. Results recorded before per-step peaks existed show the first row only.
 */
export function rssRows(r: any): [string, string][] {
  const res = r.resources;
  const rows: [string, string][] = [['peak RSS per peer, whole run', `${mibs(res.peakRssMiB)} (start-up to the latency steps, incl. the overloaded ladder steps; before the catch-up)`]];
  const at = res.peakRssMaxSustainedMiB;
  if (at !== undefined) {
    const st = res.peakRssMaxSustainedStep;
    const known = Array.isArray(at) && at.some((x: number | null) => x !== null);
    rows.push(['peak RSS per peer, max sustained step', known ? `${mibs(at)} (step ${st.id} at ${fmt(st.offeredRate)}/s offered, load and drain; peak reset at its start)` : NOT_RESET]);
  }
  if (Array.isArray(res.idlePeakRssMiB)) rows.push(['peak RSS per peer, idle', res.idlePeakRssMiB.some((x: number | null) => x !== null) ? `${mibs(res.idlePeakRssMiB)} (no load)` : NOT_RESET]);
  const bySteps = (r.steps ?? []).filter((s: any) => Array.isArray(s.peakRssMiB) && s.peakRssMiB.some((x: number | null) => x !== null));
  if (bySteps.length > 0) {
    const largest = (s: any) => Math.max(...s.peakRssMiB.filter((x: number | null) => x !== null));
    rows.push(['peak RSS by ladder step (largest peer)', `${bySteps.map((s: any) => `${fmt(s.offeredRate)}/s ${fmt(largest(s), 1)}${s.keepsUp ? '' : '✗'}`).join(', ')} MiB`]);
  }
  return rows;
}

function frame(r: any, rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  const line = '-'.repeat(w + 2 + Math.min(100, Math.max(...rows.map(([, v]) => v.length))));
  return [`Cairn benchmark (${r.kind}, ${r.startedAt}, ${r.elapsedS} s)`, line, ...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`), line].join('\n');
}

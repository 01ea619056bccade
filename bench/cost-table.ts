// The table bench:cost prints: per configuration the highest rate that kept up and its costs per
// entry per peer, then the same costs at one equal offered rate for every n (--equal-rate), the
// growth of those against the smallest n, the same at one equal block size (--equal-block), and
// the etcd reference.
import { costAtBlockSize, type AtBlockSize } from './cost-equal-block.js';
import type { CostRow, CostStep } from './cost.js';
import type { EtcdPhaseResult } from './etcd.js';
import type { machine } from './run.js';

function fmt(x: number | undefined, digits = 0): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function formatCostTable(r: { rows: CostRow[]; etcd: EtcdPhaseResult; startedAt: string; elapsedS: number; machine: ReturnType<typeof machine>; options?: { equalRate?: number; equalBlock?: number } }): string {
  // The equal-rate columns: the same offered rate for every n, so blocks of the same size.
  const eq = r.options?.equalRate ?? r.rows.find((x) => x.equal != null)?.equal?.offeredRate ?? 0;
  const equalHead = eq > 0 ? [`@${fmt(eq)}/s CPU ms/entry/peer`, `@${fmt(eq)}/s wire B/entry/peer`, `@${fmt(eq)}/s entries/block`] : [];
  const head = ['orgs', 'entry', 'max finalized/s', 'CPU ms/entry/peer', 'wire B/entry/peer', 'write syscalls/entry/peer', 'entries/block', ...equalHead, 'load avg'];
  const lines = r.rows.map((x) => [
    String(x.orgs),
    `${x.entryBytes} B`,
    x.at === null ? 'none kept up' : `${fmt(x.at.finalizedPerSec)}${x.steps.length === 1 ? ' (fixed rate)' : ''}`,
    fmt(x.at?.cpuMsPerEntryPerPeer, 3),
    fmt(x.at?.wireBytesPerEntryPerPeer),
    fmt(x.at?.writeSyscallsPerEntryPerPeer, 2),
    fmt(x.at?.entriesPerBlock, 1),
    ...(eq > 0 ? [equalCell(x.equal, (s) => fmt(s.cpuMsPerEntryPerPeer, 3)), equalCell(x.equal, (s) => fmt(s.wireBytesPerEntryPerPeer)), equalCell(x.equal, (s) => fmt(s.entriesPerBlock, 1))] : []),
    `${x.loadAverage.start} -> ${x.loadAverage.end}`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (l: string[]) => l.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  const m = r.machine;
  const out = [`Cairn cost by organizations and entry size (${r.startedAt}, ${r.elapsedS} s; ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, commit ${m.commit})`, row(head), ...lines.map(row)];
  for (const x of r.rows) out.push(`  n=${x.orgs} ${x.entryBytes} B steps (offered->finalized/s): ${x.steps.map((t) => `${fmt(t.offeredRate)}->${fmt(t.finalizedPerSec)}${t.keepsUp ? '' : '✗'}`).join(', ')}`);
  if (eq > 0) out.push(...equalGrowth(r.rows));
  if (r.rows.some((x) => x.equalBlock != null)) out.push(...equalBlockLines(r.rows));
  const e = r.etcd;
  if (e.skipped) out.push(`etcd: ${e.reason}`);
  else out.push(`etcd (${e.members} members, ${e.version}): ${fmt(e.maxPutsPerSec)} committed puts/s (${e.valueBytes}-byte values, ${e.batch} puts per txn); Cairn n=4 ${e.valueBytes} B: ${fmt(r.rows.find((x) => x.orgs === 4 && x.entryBytes === e.valueBytes)?.at?.finalizedPerSec)}/s`);
  return out.join('\n');
}

/** A cell of the equal-rate step; marked ✗ when that step did not keep up (its cost is then not comparable). */
function equalCell(s: CostStep | null | undefined, f: (s: CostStep) => string): string {
  if (s == null) return '-';
  return `${f(s)}${s.keepsUp ? '' : ' ✗'}`;
}

/**
 * Per entry size, each n's equal-rate CPU and wire cost per peer as a multiple of the smallest
 * n's (the cost-growth goal: n = 7 within 1.3× of n = 4).
 */
export function equalGrowth(rows: CostRow[]): string[] {
  const out: string[] = [];
  for (const b of [...new Set(rows.map((x) => x.entryBytes))]) {
    const rs = rows.filter((x) => x.entryBytes === b && x.equal != null).sort((x, y) => x.orgs - y.orgs);
    const base = rs[0];
    if (base === undefined || rs.length < 2) continue;
    const ratio = (a: number, z: number) => (Number.isFinite(a) && Number.isFinite(z) && z > 0 ? `${fmt(a / z, 2)}×` : '-');
    const parts = rs.slice(1).map((x) => `n=${x.orgs} CPU ${ratio(x.equal!.cpuMsPerEntryPerPeer, base.equal!.cpuMsPerEntryPerPeer)}, wire ${ratio(x.equal!.wireBytesPerEntryPerPeer, base.equal!.wireBytesPerEntryPerPeer)}`);
    out.push(`  equal rate ${fmt(base.equal!.offeredRate)}/s, ${b} B, per peer against n=${base.orgs}: ${parts.join('; ')}`);
  }
  return out;
}

/**
 * The equal-block-size steps: per configuration the step closest to the target block size (its
 * rate, entries/block and costs), then per entry size each n's CPU and wire cost per peer as a
 * multiple of the smallest n's, at (about) the same entries per block.
 */
export function equalBlockLines(rows: CostRow[]): string[] {
  const out: string[] = [];
  for (const x of rows) {
    const e = x.equalBlock;
    if (e == null) continue;
    const s = e.step;
    const tries = e.steps.map((t) => `${fmt(t.offeredRate)}/s->${fmt(t.entriesPerBlock, 1)}${t.keepsUp ? '' : '✗'}`).join(', ');
    if (s === null) out.push(`  n=${x.orgs} ${x.entryBytes} B equal block ~${e.target}: ${e.skipped ?? 'no step'}`);
    else out.push(`  n=${x.orgs} ${x.entryBytes} B equal block ~${e.target}: offered ${fmt(s.offeredRate)} -> ${fmt(s.finalizedPerSec)}/s, ${fmt(s.entriesPerBlock, 1)} entries/block, ${fmt(s.cpuMsPerEntryPerPeer, 3)} CPU ms/entry/peer, ${fmt(s.wireBytesPerEntryPerPeer)} wire B/entry/peer${s.keepsUp ? '' : ' ✗'} (steps, rate->entries/block: ${tries})`);
  }
  for (const b of [...new Set(rows.map((x) => x.entryBytes))]) {
    const rs = rows.filter((x) => x.entryBytes === b && x.equalBlock?.step != null).sort((x, y) => x.orgs - y.orgs);
    const base = rs[0];
    if (base === undefined || rs.length < 2) continue;
    const bs = base.equalBlock!.step!;
    const ratio = (a: number, z: number) => (Number.isFinite(a) && Number.isFinite(z) && z > 0 ? `${fmt(a / z, 2)}×` : '-');
    const parts = rs.slice(1).map((x) => {
      const s = x.equalBlock!.step!;
      return `n=${x.orgs} CPU ${ratio(s.cpuMsPerEntryPerPeer, bs.cpuMsPerEntryPerPeer)}, wire ${ratio(s.wireBytesPerEntryPerPeer, bs.wireBytesPerEntryPerPeer)} (${fmt(s.entriesPerBlock, 1)} vs ${fmt(bs.entriesPerBlock, 1)} entries/block)`;
    });
    out.push(`  equal block size ~${base.equalBlock!.target} entries, ${b} B: per peer against n=${base.orgs}: ${parts.join('; ')}`);
  }
  out.push(...atBlockSizeLines(rows));
  return out;
}

/** Every kept-up step a row ran: its ladder, the equal-rate step and the equal-block search's steps. */
export function rowSteps(x: Pick<CostRow, 'steps' | 'equal' | 'equalBlock'>): CostStep[] {
  return [...x.steps, ...(x.equal == null ? [] : [x.equal]), ...(x.equalBlock?.steps ?? [])];
}

/**
 * The equal-block comparison at exactly the target block size (costAtBlockSize): each n's CPU and
 * wire cost per entry per peer interpolated through its two steps that bracket the target, and
 * each as a multiple of the smallest n's.
 */
export function atBlockSizeLines(rows: CostRow[]): string[] {
  const out: string[] = [];
  for (const b of [...new Set(rows.map((x) => x.entryBytes))]) {
    const rs = rows.filter((x) => x.entryBytes === b && x.equalBlock != null).sort((x, y) => x.orgs - y.orgs);
    if (rs.length === 0) continue;
    const target = rs[0]!.equalBlock!.target;
    const at = rs.map((x) => ({ x, c: costAtBlockSize(rowSteps(x), target) }));
    const desc = (c: AtBlockSize | null) =>
      c === null ? 'no answer (no kept-up steps on both sides of it, or they cost more per entry in the larger blocks)' : `${fmt(c.cpuMsPerEntryPerPeer, 3)} CPU ms, ${fmt(c.wireBytesPerEntryPerPeer)} wire B (through ${fmt(c.below.entriesPerBlock, 1)} and ${fmt(c.above.entriesPerBlock, 1)} entries/block)`;
    out.push(`  at exactly ${target} entries/block, ${b} B (cost = a / entries per block + b through the nearest steps on either side): ${at.map(({ x, c }) => `n=${x.orgs} ${desc(c)}`).join('; ')}`);
    const base = at[0]!;
    if (base.c === null || at.length < 2) continue;
    const ratio = (a: number, z: number) => (Number.isFinite(a) && Number.isFinite(z) && z > 0 ? `${fmt(a / z, 2)}×` : '-');
    const parts = at.slice(1).map(({ x, c }) => (c === null ? `n=${x.orgs} -` : `n=${x.orgs} CPU ${ratio(c.cpuMsPerEntryPerPeer, base.c!.cpuMsPerEntryPerPeer)}, wire ${ratio(c.wireBytesPerEntryPerPeer, base.c!.wireBytesPerEntryPerPeer)}`));
    out.push(`  at exactly ${target} entries/block, ${b} B: per peer against n=${base.x.orgs}: ${parts.join('; ')}`);
  }
  return out;
}

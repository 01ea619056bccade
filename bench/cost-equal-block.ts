// The equal-block-size step of bench:cost: per configuration, a few steps whose offered rate is
// steered until a block holds about the target number of entries. Votes and checkpoint signatures
// are per block, entries per entry: only at one block size for every n does the per-peer cost per
// entry show how the per-block work grows with n (at each n's own maximum, or at one equal offered
// rate, the block sizes differ and so does the per-entry share of the per-block work).

/** What the search reads from a step. */
export interface BlockStep {
  offeredRate: number;
  keepsUp: boolean;
  /** NaN when no height was decided during the step. */
  entriesPerBlock: number;
}

export interface EqualBlockResult<S extends BlockStep> {
  /** Entries per block aimed at. */
  target: number;
  /** The step closest to the target (one that kept up when any did); null when none ran. */
  step: S | null;
  /** Every step the search ran, in order. */
  steps: S[];
}

/** Steps the search runs at most per configuration (it costs one step each). */
export const EQUAL_BLOCK_STEPS_MAX = 4;
/** Close enough: stop once entries/block is within this fraction of the target. */
export const EQUAL_BLOCK_TOLERANCE = 0.1;

/** How far a step's entries/block is from the target, as a fraction of the target (Infinity: unmeasured). */
export function blockMiss(s: BlockStep, target: number): number {
  return Number.isFinite(s.entriesPerBlock) && s.entriesPerBlock > 0 ? Math.abs(s.entriesPerBlock - target) / target : Infinity;
}

/**
 * Entries per block is roughly the offered rate × the duration of a height, so the next rate is
 * about r × target / measured (refined by the fit below), clamped to [floor, max] (max: the configuration's own highest rate that
 * kept up, so the step measures cost, not a backlog). `hint` is a step already run (the closest
 * to the target) whose entries/block gives the first guess. Stops after EQUAL_BLOCK_STEPS_MAX steps, when
 * a step lands within the tolerance, or when the clamped rate would repeat the last one (the
 * target lies beyond what this configuration can do at a rate it keeps up with).
 */
export async function equalBlockSearch<S extends BlockStep>(
  o: { target: number; max: number; floor: number; hint: BlockStep },
  run: (id: string, rate: number) => Promise<S>,
): Promise<EqualBlockResult<S>> {
  const lo = Math.min(o.floor, o.max);
  const clamp = (r: number) => Math.min(o.max, Math.max(lo, r));
  // Heights also lengthen with load, so entries/block grows faster than the rate: fit
  // entries/block = c × rate^k through the two measured steps nearest the target (one below and
  // one above it when there are), k bounded to [0.5, 3]; with one step, k = 1 (proportional).
  const measured: BlockStep[] = [];
  const next = (): number | null => {
    const m = measured.filter((s) => blockMiss(s, o.target) < Infinity).sort((x, y) => blockMiss(x, o.target) - blockMiss(y, o.target));
    const ref = m[0];
    if (ref === undefined) return null;
    const other = m.find((s) => s !== ref && (s.entriesPerBlock < o.target) !== (ref.entriesPerBlock < o.target)) ?? m[1];
    let k = other === undefined ? NaN : Math.log(other.entriesPerBlock / ref.entriesPerBlock) / Math.log(other.offeredRate / ref.offeredRate);
    k = Number.isFinite(k) ? Math.min(3, Math.max(0.5, k)) : 1;
    return clamp(ref.offeredRate * Math.pow(o.target / ref.entriesPerBlock, 1 / k));
  };
  const steps: S[] = [];
  measured.push(o.hint);
  let rate = next() ?? clamp(o.hint.offeredRate);
  for (let i = 0; i < EQUAL_BLOCK_STEPS_MAX; i++) {
    const s = await run(`block${i}`, rate);
    steps.push(s);
    measured.push(s);
    if (blockMiss(s, o.target) <= EQUAL_BLOCK_TOLERANCE) break;
    const r = next();
    if (r === null || Math.abs(r - rate) < 0.5) break;
    rate = r;
  }
  // A step that did not keep up measured a backlog: prefer the closest of those that kept up.
  const kept = steps.filter((s) => s.keepsUp);
  const pool = kept.length > 0 ? kept : steps;
  const step = pool.reduce<S | null>((b, s) => (b === null || blockMiss(s, o.target) < blockMiss(b, o.target) ? s : b), null);
  return { target: o.target, step, steps };
}

/** A step's costs per entry per peer, as the interpolation reads them. */
export interface CostPoint extends BlockStep {
  cpuMsPerEntryPerPeer: number;
  wireBytesPerEntryPerPeer: number;
}

export interface AtBlockSize {
  /** Entries per block the costs are given at. */
  target: number;
  cpuMsPerEntryPerPeer: number;
  wireBytesPerEntryPerPeer: number;
  /** The two steps it is drawn through: the nearest below the target and the nearest at or above it. */
  below: CostPoint;
  above: CostPoint;
}

/**
 * A configuration's costs per entry per peer at exactly `target` entries per block, from its steps
 * that kept up. A block's cost is a per-block part (votes, checkpoint signatures, the height's
 * messages and synced writes) spread over its entries plus a per-entry part, so cost = a / e + b
 * for e entries per block; a and b are solved through the nearest step below the target and the
 * nearest at or above it. The search rarely lands every n on the same block size, and comparing
 * costs at different sizes favours the larger blocks: this puts every n at the same size. Null
 * when no kept-up steps bracket the target (no extrapolation), or when the two that do cost more
 * per entry in the larger blocks.
 */
export function costAtBlockSize(steps: readonly CostPoint[], target: number): AtBlockSize | null {
  const ok = steps.filter((s) => s.keepsUp && Number.isFinite(s.entriesPerBlock) && s.entriesPerBlock > 0);
  const below = ok.filter((s) => s.entriesPerBlock < target).sort((x, y) => y.entriesPerBlock - x.entriesPerBlock)[0];
  const above = ok.filter((s) => s.entriesPerBlock >= target).sort((x, y) => x.entriesPerBlock - y.entriesPerBlock)[0];
  if (below === undefined || above === undefined) return null;
  const u = 1 / below.entriesPerBlock;
  const v = 1 / above.entriesPerBlock;
  // A negative per-block part means the two steps disagree with the model (a step that ran while
  // the peers' code was still being compiled, or in the slow mode of a bimodal rate): no answer.
  const at = (f: (s: CostPoint) => number): { perBlock: number; value: number } => {
    const perBlock = (f(below) - f(above)) / (u - v);
    return { perBlock, value: perBlock / target + f(above) - perBlock * v };
  };
  const cpu = at((s) => s.cpuMsPerEntryPerPeer);
  if (cpu.perBlock < 0) return null;
  return { target, cpuMsPerEntryPerPeer: cpu.value, wireBytesPerEntryPerPeer: at((s) => s.wireBytesPerEntryPerPeer).value, below, above };
}

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
export const EQUAL_BLOCK_STEPS_MAX = 3;
/** Close enough: stop once entries/block is within this fraction of the target. */
export const EQUAL_BLOCK_TOLERANCE = 0.1;

/** How far a step's entries/block is from the target, as a fraction of the target (Infinity: unmeasured). */
export function blockMiss(s: BlockStep, target: number): number {
  return Number.isFinite(s.entriesPerBlock) && s.entriesPerBlock > 0 ? Math.abs(s.entriesPerBlock - target) / target : Infinity;
}

/**
 * Entries per block is roughly the offered rate × the duration of a height, so the next rate is
 * r × target / measured, clamped to [floor, max] (max: the configuration's own highest rate that
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
  const next = (s: BlockStep) => (Number.isFinite(s.entriesPerBlock) && s.entriesPerBlock > 0 ? clamp((s.offeredRate * o.target) / s.entriesPerBlock) : null);
  const steps: S[] = [];
  let rate = next(o.hint) ?? clamp(o.hint.offeredRate);
  for (let i = 0; i < EQUAL_BLOCK_STEPS_MAX; i++) {
    const s = await run(`block${i}`, rate);
    steps.push(s);
    if (blockMiss(s, o.target) <= EQUAL_BLOCK_TOLERANCE) break;
    const r = next(s);
    if (r === null || Math.abs(r - rate) < 0.5) break;
    rate = r;
  }
  // A step that did not keep up measured a backlog: prefer the closest of those that kept up.
  const kept = steps.filter((s) => s.keepsUp);
  const pool = kept.length > 0 ? kept : steps;
  const step = pool.reduce<S | null>((b, s) => (b === null || blockMiss(s, o.target) < blockMiss(b, o.target) ? s : b), null);
  return { target: o.target, step, steps };
}

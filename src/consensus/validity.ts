// The driver's questions about a proposed value, kept apart by what they may depend on:
//   valid(v)      deterministic (same answer on every correct peer, at any time): cached per
//                 height by id(v); gates L22, L28, L36 and L49.
//   attributed(p) deterministic and cheap, but depends on the proposal's round and validRound,
//                 so it is asked per proposal, never cached by id(v) alone.
//   timely(v)     depends on the local clock: asked afresh, only for a fresh proposal at L22.
// Keeping the clock out of valid(v) matters for liveness: a cached "invalid" verdict made by a
// peer whose clock is off would stop it from ever locking or deciding at that height.
import type { ConsensusConfig, Proposal } from './types.js';
import { proposer } from './quorum.js';
import { idKey } from './vote-keeper.js';

/**
 * May a value that names `claimed` as its proposer be proposed in round `round` with validRound
 * `validRound` at `height`? Fresh (vr = −1): only by proposer(h, r) itself. Re-proposed (vr >= 0):
 * its name is that of the round that first proposed it fresh, which is some r' <= vr (the polka
 * of round vr contains a correct prevote, and a correct peer prevotes only fresh values that
 * passed this check or values with an earlier polka). null = the value names no proposer.
 */
export function attributionOk(claimed: number | null, height: number, round: number, validRound: number, n: number): boolean {
  if (claimed === null) return true;
  if (!Number.isInteger(claimed) || claimed < 0 || claimed >= n) return false;
  if (validRound < 0) return claimed === proposer(height, round, n);
  // proposer(h, r') = (h + r') mod n, so `claimed` is the proposer of the rounds r' with
  // r' ≡ claimed − h (mod n); the smallest of them is d below.
  const d = (((claimed - height) % n) + n) % n;
  return d <= validRound;
}

export class ValueChecks {
  /** valid(v) verdicts of the current height, by id(v). */
  private verdicts = new Map<string, boolean>();

  constructor(
    private readonly cfg: ConsensusConfig,
    /** n of the current height's validator set (proposer(h, r) rotates over it). */
    private readonly nOf: () => number,
    /** Bound of the verdict cache; clearing it only costs re-checks. */
    private readonly cacheMax: number,
  ) {}

  /** A new height: verdicts were made against the previous one. */
  reset(): void {
    this.verdicts = new Map();
  }

  /** Deterministic valid(v), cached by id(v). A throwing ledger check means "not valid". */
  valid(height: number, value: Uint8Array, id: Uint8Array): boolean {
    const key = idKey(id);
    const hit = this.verdicts.get(key);
    if (hit !== undefined) return hit;
    let ok = false;
    try {
      ok = this.cfg.isValid(height, value) === true;
    } catch {
      ok = false;
    }
    if (this.verdicts.size >= this.cacheMax) this.verdicts.clear();
    this.verdicts.set(key, ok);
    return ok;
  }

  /** valid(v) AND the value's attribution fits the proposal's round (see attributionOk). */
  acceptable(p: Proposal, id: Uint8Array): boolean {
    return this.attributed(p) && this.valid(p.height, p.value, id);
  }

  attributed(p: Proposal): boolean {
    const of = this.cfg.proposerOf;
    if (of === undefined) return true;
    let claimed: number | null;
    try {
      claimed = of(p.value);
    } catch {
      return false;
    }
    return attributionOk(claimed, p.height, p.round, p.validRound, this.nOf());
  }

  /** Timeliness of a fresh proposal (L22); never cached. A throwing check means "not timely". */
  timely(height: number, value: Uint8Array): boolean {
    const t = this.cfg.isTimely;
    if (t === undefined) return true;
    try {
      return t(height, value) === true;
    } catch {
      return false;
    }
  }
}

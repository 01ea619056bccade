// When the submitter checks finality.
//
// Checks follow the log. A check re-submits an event's signed entries (see submitter.ts), and
// each costs the peer a signature check: on a machine the peers share, checks that find entries
// still pending take CPU from finalizing them. So the submitter reads the final tree size
// (GET /checkpoint: public, the peer's latest final note, no signature check) every
// FINALITY_POLL_MS while events are in flight, and when it grew by n, checks the n oldest events
// in flight (a peer's mempool hands out its oldest entries first, so those are the ones the
// growth most likely covers; entries of other clients make n an over-estimate, never an under-
// estimate); one found still pending waits for its next time (blocks need not hold entries in
// submission order). While the size grows, nothing else is checked. When it has not grown for
// GROWTH_STALE_MS (no quorum, or mempools lost in a restart: entries must be re-admitted) or
// cannot be read (a policy gating it, no checkpoint yet), the time schedule takes over: first
// check after checkFirstMs, doubling up to checkMaxMs, paused after a round that found nothing.

/** Interval of the final tree size reads while events are in flight. */
export const FINALITY_POLL_MS = 200;
/** Without growth of the final tree size for this long, the time schedule decides the checks. */
export const GROWTH_STALE_MS = 3_000;

/** The tree size of a C2SP checkpoint note (origin, size, root hash, ...), or null. */
export function checkpointSize(note: string): number | null {
  const line = note.split('\n', 3)[1];
  if (line === undefined || !/^\d{1,16}$/.test(line)) return null;
  return Number(line);
}

export class FinalityWatch {
  private size: number | null = null;
  private grewAt = -Infinity;
  private budget = 0;

  /**
   * A final tree size read at `now`; `inflight` events wait for their check. Returns true when the
   * size grew (checks are due).
   */
  observe(size: number, now: number, inflight: number): boolean {
    if (this.size === null) {
      // First read: whatever is in flight may be final already.
      this.size = size;
      this.grewAt = now;
      this.budget = inflight;
      return inflight > 0;
    }
    if (size <= this.size) return false;
    this.budget = Math.min(inflight, this.budget + (size - this.size));
    this.size = size;
    this.grewAt = now;
    return true;
  }

  /** True while checks follow the log's growth (else: the time schedule). */
  following(now: number): boolean {
    return now - this.grewAt < GROWTH_STALE_MS;
  }

  /** Checks the growth still allows. */
  get due(): number {
    return this.budget;
  }

  /** One of them was sent. */
  take(): void {
    if (this.budget > 0) this.budget--;
  }

  get finalSize(): number | null {
    return this.size;
  }
}

// Virtual clock + event queue. The simulator never reads a real clock: time only advances when
// the next event is popped. Events at the same virtual time run in insertion order (a global
// sequence number breaks ties), which makes the whole run deterministic.

export interface Scheduled<T> {
  readonly atMs: number;
  readonly seq: number;
  readonly event: T;
}

/** Limit on queued events: a runaway (e.g. a timeout storm) fails loudly instead of eating memory. */
export const EVENT_QUEUE_MAX = 2_000_000;

export class EventQueue<T> {
  private heap: Scheduled<T>[] = [];
  private seq = 0;
  private nowMs = 0;

  /** Current virtual time in milliseconds (time of the last popped event). */
  get now(): number {
    return this.nowMs;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `event` at absolute virtual time `atMs` (clamped to now: the past cannot be scheduled). */
  schedule(atMs: number, event: T): void {
    if (!Number.isFinite(atMs)) throw new RangeError(`SIM_BAD_TIME: cannot schedule at ${atMs}`);
    if (this.heap.length >= EVENT_QUEUE_MAX) {
      throw new RangeError(`SIM_QUEUE_FULL: more than EVENT_QUEUE_MAX=${EVENT_QUEUE_MAX} pending events`);
    }
    const item: Scheduled<T> = { atMs: Math.max(atMs, this.nowMs), seq: this.seq++, event };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      const t = h[i]!;
      h[i] = h[p]!;
      h[p] = t;
      i = p;
    }
  }

  /** Schedules `event` `delayMs` after now. */
  after(delayMs: number, event: T): void {
    this.schedule(this.nowMs + Math.max(0, delayMs), event);
  }

  /** Time of the next event, or null when empty. */
  peekTime(): number | null {
    return this.heap.length === 0 ? null : this.heap[0]!.atMs;
  }

  /** Removes the earliest event and advances the clock to its time. */
  pop(): Scheduled<T> | null {
    const h = this.heap;
    if (h.length === 0) return null;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        const t = h[i]!;
        h[i] = h[m]!;
        h[m] = t;
        i = m;
      }
    }
    this.nowMs = top.atMs;
    return top;
  }
}

function less<T>(a: Scheduled<T>, b: Scheduled<T>): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

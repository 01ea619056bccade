// Long-poll support (?wait=final): a bounded set of requests waiting for a final checkpoint.
// Each waiter re-checks its condition whenever the peer announces a new final checkpoint; it ends
// when the condition holds, its timeout passes, or its client goes away. The number of waiters is
// bounded (waitersMax) so a crowd of idle clients cannot hold unbounded memory or timers.
import type { EventEmitter } from 'node:events';
import type { PeerEvents } from '../peer/peer.js';

interface Waiter {
  check: () => Promise<boolean>;
  finish: (done: boolean) => void;
  running: boolean;
  again: boolean;
}

export class FinalityWaiters {
  private readonly waiters = new Set<Waiter>();
  /** Counts final checkpoints seen; lets a caller detect one that arrived during its own check. */
  private finals = 0;
  private readonly onFinal = () => {
    this.finals++;
    for (const w of this.waiters) this.run(w);
  };

  constructor(
    private readonly events: EventEmitter<PeerEvents>,
    readonly max: number,
  ) {
    events.on('final', this.onFinal);
  }

  get size(): number {
    return this.waiters.size;
  }

  /** True when one more waiter fits. */
  hasRoom(): boolean {
    return this.waiters.size < this.max;
  }

  /** Take this before the caller's own first check, and pass it to wait(). */
  get generation(): number {
    return this.finals;
  }

  /**
   * Resolves true as soon as `check()` returns true after a final checkpoint, false after
   * `timeoutMs` or when `abort` fires (a callback registration, or a signal: an already aborted
   * signal resolves false at once without taking a slot). The caller checks once before waiting; `since` is the
   * generation taken before that check: if a final checkpoint arrived while the caller was
   * checking, the waiter checks again at once instead of sleeping until the next one (which may
   * never come when the log is idle). Never rejects: a throwing check ends the wait as false.
   */
  wait(check: () => Promise<boolean>, timeoutMs: number, abort: AbortSignal | ((cb: () => void) => void), since: number): Promise<boolean> {
    // A client that left before the wait began (its socket closed during the caller's first
    // check) takes no slot: its 'close' event has already fired and would never end the wait.
    if (typeof abort !== 'function' && abort.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const w: Waiter = {
        check,
        running: false,
        again: false,
        finish: (done) => {
          if (!this.waiters.delete(w)) return;
          if (timer !== null) clearTimeout(timer);
          resolve(done);
        },
      };
      this.waiters.add(w);
      timer = setTimeout(() => w.finish(false), timeoutMs);
      const onAbort = () => w.finish(false);
      if (typeof abort === 'function') abort(onAbort);
      else {
        abort.addEventListener('abort', onAbort, { once: true });
        const finish = w.finish;
        w.finish = (done) => {
          abort.removeEventListener('abort', onAbort);
          finish(done);
        };
      }
      if (this.finals !== since) this.run(w);
    });
  }

  private run(w: Waiter): void {
    if (w.running) {
      w.again = true;
      return;
    }
    w.running = true;
    w.check().then(
      (done) => {
        w.running = false;
        if (done) w.finish(true);
        else if (w.again) {
          w.again = false;
          if (this.waiters.has(w)) this.run(w);
        }
      },
      () => {
        w.running = false;
        w.finish(false);
      },
    );
  }

  /** Ends every wait (as not done) and stops listening. */
  close(): void {
    this.events.off('final', this.onFinal);
    for (const w of [...this.waiters]) w.finish(false);
  }
}

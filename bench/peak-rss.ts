// Peak RSS per peer over one phase of the bench (a load step, the idle window) as well as over the
// whole run. VmHWM is one counter per process: resetting it for a phase would lose the whole-run
// peak, so every reading taken before a reset is folded into a per-peer running maximum first.
import { peakRssBytes, resetPeakRss } from './procstat.js';
import { round } from './stats.js';

const MiB = 2 ** 20;

/** An open window: the peers' pids when it started and whether each reset worked. */
export interface PeakRssWindow {
  pids: number[];
  reset: boolean[];
}

export class PeerPeakRss {
  /** Highest VmHWM read so far per peer index (bytes); the whole-run peak as long as every reset is preceded by a reading. */
  private readonly maxBytes: number[] = [];

  /** Reads VmHWM of each pid (NaN for a process that is gone) and folds it into the whole-run maximum. */
  private async read(pids: number[]): Promise<number[]> {
    const b = await Promise.all(pids.map((pid) => peakRssBytes(pid)));
    b.forEach((x, i) => {
      if (x > (this.maxBytes[i] ?? 0)) this.maxBytes[i] = x;
    });
    return b;
  }

  /** Starts a window: reads (for the whole-run peak), then resets each peer's VmHWM to its current RSS. */
  async start(pids: number[]): Promise<PeakRssWindow> {
    await this.read(pids);
    const reset = await Promise.all(pids.map((pid) => resetPeakRss(pid)));
    return { pids: [...pids], reset };
  }

  /**
   * Each peer's peak during the window (MiB). The reset sets VmHWM to the RSS at that moment, so
   * memory a heap kept from earlier phases counts in this one too. null where the reset failed (or
   * the process is gone): a reading then would be the peak since the process started.
   */
  async end(w: PeakRssWindow): Promise<(number | null)[]> {
    const b = await this.read(w.pids);
    return b.map((x, i) => (w.reset[i] === true && Number.isFinite(x) ? round(x / MiB, 1) : null));
  }

  /**
   * Peak since each peer started (MiB), over every window and what ran between them; NaN for a peer
   * never read. Per peer index: call it before a peer is replaced by a restarted process.
   */
  async wholeRun(pids: number[]): Promise<number[]> {
    await this.read(pids);
    return pids.map((_, i) => round((this.maxBytes[i] ?? NaN) / MiB, 1));
  }
}

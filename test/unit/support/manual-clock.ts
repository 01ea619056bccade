// A clock for the consensus runner (RunnerClock) whose timers fire only when the test advances it,
// so timeouts (paper L57, L61, L65) happen exactly when a test says, never by a race.
import type { RunnerClock } from '../../../node/peer/consensus-runner.js';

/** Timers fire only when the test advances the clock. */
export class ManualClock implements RunnerClock {
  t = Date.now();
  private timers: { at: number; f: () => void; id: number }[] = [];
  private seq = 0;
  now = () => this.t;
  setTimeout = (f: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, f, id });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  advance(ms: number): void {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) return;
      this.timers = this.timers.filter((x) => x !== due);
      due.f();
    }
  }
}

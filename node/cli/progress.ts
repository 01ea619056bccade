// A one-line progress bar for long CLI operations (bulk submit, audit). Drawn only when the
// stream is a terminal: piped or redirected output (scripts, CI logs, tests) gets no control
// characters. Redraws at most every PROGRESS_REDRAW_MS so a fast loop does not spend its time
// writing to the terminal.

/** Minimum time between two redraws, in milliseconds. */
export const PROGRESS_REDRAW_MS = 100;
const BAR_CELLS = 30;

export interface ProgressSink {
  write(text: string): void;
  /** True when the sink is an interactive terminal. */
  readonly isTTY: boolean;
}

export class ProgressBar {
  private lastDraw = 0;
  private drawn = false;
  private readonly started = Date.now();

  constructor(
    private readonly sink: ProgressSink | null,
    private readonly label: string,
    private total: number,
  ) {}

  /** Total changed (e.g. stdin was counted as it was read). */
  setTotal(total: number): void {
    this.total = total;
  }

  update(done: number, force = false): void {
    if (this.sink === null || !this.sink.isTTY) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < PROGRESS_REDRAW_MS) return;
    this.lastDraw = now;
    this.drawn = true;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const full = Math.round(frac * BAR_CELLS);
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? Math.round(done / secs) : 0;
    // \r returns to column 0, \x1b[K clears the rest of the line (ECMA-48 EL).
    this.sink.write(`\r${this.label} [${'#'.repeat(full)}${'.'.repeat(BAR_CELLS - full)}] ${done}/${this.total} ${rate}/s\x1b[K`);
  }

  /** Clears the bar so the next output starts on a clean line. */
  done(): void {
    if (this.sink === null || !this.sink.isTTY || !this.drawn) return;
    this.sink.write('\r\x1b[K');
  }
}

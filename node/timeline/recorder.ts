// An opt-in timeline of a peer's pipeline, for finding where the latency of an entry goes: when
// CAIRN_TIMELINE_DIR is set in the peer's environment, each process appends lines
//
//   <epoch ms, 3 decimals> <pid> <event> [key=value ...]
//
// to <dir>/timeline-<pid>.log (docs/timeline.md lists the events). Times are the wall clock at
// process start plus a monotonic offset, so the lines of several peers on one machine merge into
// one timeline by sorting; bench/timeline.ts reads them. Off (the default) every call is one
// boolean test. On, events are buffered and appended every FLUSH_MS by one write at a time, the
// buffer is bounded (events past it are dropped and counted in a final line), and the rest is
// written synchronously at exit. A failed append (missing or unwritable directory) never throws:
// its events are counted as dropped like those past the bound, and the first failure is reported
// once on stderr, since the count only reaches the file if a later append succeeds.
import { appendFileSync, writeSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';

/** How often buffered events are appended to the file. */
export const FLUSH_MS = 200;
/** Most events held between two flushes (past it they are dropped and counted). */
export const BUFFER_EVENTS_MAX = 100_000;

/** Writes one line to stderr synchronously (it also runs in the exit handler) and never throws. */
function stderrLine(line: string): void {
  try {
    writeSync(2, line + '\n');
  } catch {
    // stderr closed or full: nothing else to tell.
  }
}

export class TimelineRecorder {
  private buf: string[] = [];
  private dropped = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private warned = false;
  readonly file: string;

  constructor(
    dir: string,
    private readonly pid: number = process.pid,
    private readonly maxEvents: number = BUFFER_EVENTS_MAX,
    private readonly warn: (line: string) => void = stderrLine,
  ) {
    this.file = join(dir, `timeline-${pid}.log`);
  }

  /** Records `event` now; `detail` is space-separated key=value pairs (no newlines). */
  record(event: string, detail = ''): void {
    if (this.buf.length >= this.maxEvents) {
      this.dropped++;
      return;
    }
    const t = (performance.timeOrigin + performance.now()).toFixed(3);
    this.buf.push(detail === '' ? `${t} ${this.pid} ${event}` : `${t} ${this.pid} ${event} ${detail}`);
    this.arm();
  }

  private arm(): void {
    if (this.timer !== null || this.writing !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, FLUSH_MS);
    this.timer.unref();
  }

  /** Appends what is buffered (one append at a time; a failed append's events are counted as dropped). */
  async flush(): Promise<void> {
    if (this.writing !== null) return this.writing;
    if (this.buf.length === 0) return;
    const { text, events } = this.drain();
    this.writing = appendFile(this.file, text)
      .catch((err: unknown) => this.failed(err, events))
      .finally(() => {
        this.writing = null;
        if (this.buf.length > 0) this.arm();
      });
    return this.writing;
  }

  /** Synchronous final append (process exit): whatever is still buffered, and how much was dropped. */
  flushSync(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.buf.length === 0 && this.dropped === 0) return;
    const { text, events } = this.drain();
    try {
      appendFileSync(this.file, text);
    } catch (err) {
      // A diagnostic: never let it fail the exit.
      this.failed(err, events);
    }
  }

  /** A failed append lost `events` (its lines and the drops its count line carried): count them, say so once. */
  private failed(err: unknown, events: number): void {
    this.dropped += events;
    if (this.warned) return;
    this.warned = true;
    const code = (err as NodeJS.ErrnoException | null)?.code ?? String(err);
    this.warn(`cairn timeline: cannot append to ${this.file} (${code}): ${events} events dropped; later failures drop events without another warning`);
  }

  /** Takes the buffer as text; `events` is how many events it stands for, dropped ones included. */
  private drain(): { text: string; events: number } {
    let events = this.buf.length;
    if (this.dropped > 0) {
      const t = (performance.timeOrigin + performance.now()).toFixed(3);
      this.buf.push(`${t} ${this.pid} timeline.dropped n=${this.dropped}`);
      events += this.dropped;
      this.dropped = 0;
    }
    const text = this.buf.join('\n') + '\n';
    this.buf = [];
    return { text, events };
  }
}

function fromEnv(): TimelineRecorder | null {
  const dir = process.env.CAIRN_TIMELINE_DIR;
  if (dir === undefined || dir === '') return null;
  const r = new TimelineRecorder(dir);
  process.on('exit', () => r.flushSync());
  return r;
}

const recorder = fromEnv();

/** True when this process records a timeline (callers skip building details otherwise). */
export const timelineOn = recorder !== null;

/** Records a timeline event when CAIRN_TIMELINE_DIR is set; otherwise does nothing. */
export function timeline(event: string, detail?: string): void {
  if (recorder !== null) recorder.record(event, detail);
}

// Sorted streams of log positions for the query engine. Each stream answers seek(t): the first
// position at or after t in the stream's direction (ascending for oldest-first, descending for
// newest-first) within [0, size), or undefined. Targets mostly move forward in the stream's direction,
// so each stream keeps a small read-ahead buffer and re-reads LevelDB only when the target leaves
// it. Every LevelDB read is counted in `work` so that a page's cost is bounded.
import type { SearchAccess } from './db.js';
import { TIME_CHUNK, chunkOfTimeKey, decodeGroup, decodeTimeSummary, indexOfPostingKey, postingEnd, postingKey, timeKey } from './keys.js';

export interface Work {
  reads: number;
}

export interface PositionStream {
  seek(t: number): Promise<number | undefined>;
  /**
   * Postings per log position seen by the last read (posting and union streams only), after a
   * first seek: how the engine tells a sparse stream, which should drive the walk, from a dense
   * one, which is cheaper to test candidate by candidate than to seek along.
   */
  density?(): number;
  /** Which of `positions` are in the stream: one batched point lookup per posting list. */
  containsMany?(positions: readonly number[]): Promise<boolean[]>;
}

/** Positions a posting stream buffers per read (whole groups: up to one group more). */
const POSTING_READ = 256;
/** Posting groups read per LevelDB range read. */
const GROUP_READ = 64;
/** Time summaries read per LevelDB range read. */
const TIME_READ = 512;
/** Batches of time summaries one seek reads before handing back a candidate chunk. */
const TIME_READS_PER_SEEK = 16;

/** True when a is at or before b in the direction. */
function notAfter(asc: boolean, a: number, b: number): boolean {
  return asc ? a <= b : a >= b;
}

/** Buffered reader over positions produced by `read(from)` in direction order. */
abstract class Buffered implements PositionStream {
  protected buf: number[] = [];
  private i = 0;
  protected from = -1;
  protected reachedEnd = false;
  constructor(protected readonly asc: boolean) {}

  /** Positions from t onward (direction order), and whether the read reached the end of the range. */
  protected abstract read(t: number): Promise<{ positions: number[]; end: boolean }>;
  /** The answer for a buffered position p when the target is t (time chunks: clamp to t). */
  protected answer(p: number, _t: number): number {
    return p;
  }
  protected covers(p: number, t: number): boolean {
    return notAfter(this.asc, t, p);
  }

  async seek(t: number): Promise<number | undefined> {
    if (this.from !== -1 && notAfter(this.asc, this.from, t)) {
      // A target behind the read position (the engine re-checks after a batch): rewind in the buffer.
      if (this.i > 0 && this.covers(this.buf[this.i - 1]!, t)) this.i = 0;
      while (this.i < this.buf.length && !this.covers(this.buf[this.i]!, t)) this.i++;
      if (this.i < this.buf.length) return this.answer(this.buf[this.i]!, t);
      if (this.reachedEnd) return undefined;
    }
    const r = await this.read(t);
    this.buf = r.positions;
    this.i = 0;
    this.from = t;
    this.reachedEnd = r.end;
    while (this.i < this.buf.length && !this.covers(this.buf[this.i]!, t)) this.i++;
    return this.i < this.buf.length ? this.answer(this.buf[this.i]!, t) : undefined;
  }
}

/**
 * The postings of one index value (key base), in log order or reverse, restricted to [0, size).
 * The value's posting groups (keys.ts) are disjoint and in log order; a group's key names its last
 * leaf, so the group holding the first leaf at or after t is the first key at or after base ‖ t.
 */
export class PostingStream extends Buffered {
  private readonly end: Uint8Array;
  constructor(
    private readonly access: SearchAccess,
    private readonly base: Uint8Array,
    private readonly size: number,
    asc: boolean,
    private readonly work: Work,
  ) {
    super(asc);
    this.end = postingEnd(base);
  }

  protected async read(t: number): Promise<{ positions: number[]; end: boolean }> {
    this.work.reads++;
    if (this.asc ? t >= this.size : Math.min(t, this.size - 1) < 0) return { positions: [], end: true };
    return this.asc ? this.readAsc(t) : this.readDesc(Math.min(t, this.size - 1));
  }

  private async readAsc(t: number): Promise<{ positions: number[]; end: boolean }> {
    const recs = await this.access.records({ gte: postingKey(this.base, t), lt: this.end, limit: GROUP_READ });
    const out: number[] = [];
    for (let r = 0; r < recs.length; r++) {
      const last = indexOfPostingKey(recs[r]!.key);
      const g = decodeGroup(last, recs[r]!.value);
      if (g === null) continue;
      for (let k = g.length - 1; k >= 0; k--) {
        const p = g[k]!;
        // Ascending and unique even in a corrupt index (what verifyIndexes reports).
        if (p >= t && p < this.size && (out.length === 0 || p > out[out.length - 1]!)) out.push(p);
      }
      // Later groups hold only leaves after this one's last.
      if (last >= this.size - 1) return { positions: out, end: true };
      if (out.length >= POSTING_READ && r < recs.length - 1) return { positions: out, end: false };
    }
    return { positions: out, end: recs.length < GROUP_READ };
  }

  private async readDesc(u: number): Promise<{ positions: number[]; end: boolean }> {
    // The group holding leaves at or before u may end after u: the first group at or after u + 1,
    // then the groups ending at or before u, newest first.
    const [straddle, recs] = await Promise.all([
      this.access.records({ gte: postingKey(this.base, u + 1), lt: this.end, limit: 1 }),
      this.access.records({ gte: postingKey(this.base, 0), lt: postingKey(this.base, u + 1), reverse: true, limit: GROUP_READ }),
    ]);
    const out: number[] = [];
    const take = (rec: { key: Uint8Array; value: Uint8Array }): void => {
      const g = decodeGroup(indexOfPostingKey(rec.key), rec.value);
      if (g === null) return;
      for (const p of g) if (p <= u && (out.length === 0 || p < out[out.length - 1]!)) out.push(p);
    };
    if (straddle[0] !== undefined) take(straddle[0]);
    for (let r = 0; r < recs.length; r++) {
      take(recs[r]!);
      if (out.length >= POSTING_READ && r < recs.length - 1) return { positions: out, end: false };
    }
    return { positions: out, end: recs.length < GROUP_READ };
  }

  density(): number {
    const n = this.buf.length;
    if (this.from === -1) return 1;
    // Span read: up to the last posting, or to the end of the range when the read reached it.
    const span = this.reachedEnd ? (this.asc ? this.size - this.from : this.from + 1) : Math.abs(this.buf[n - 1]! - this.from) + 1;
    return n / Math.max(1, span);
  }

  async containsMany(positions: readonly number[]): Promise<boolean[]> {
    this.work.reads++;
    const got = await this.access.firstRecords(positions.map((p) => ({ gte: postingKey(this.base, p), lt: this.end })));
    // Groups decoded once each, however many of the positions they hold.
    const groups = new Map<Uint8Array, Set<number>>();
    return got.map((rec, k) => {
      const p = positions[k]!;
      if (rec === undefined || p >= this.size) return false;
      let g = groups.get(rec.key);
      if (g === undefined) {
        g = new Set(decodeGroup(indexOfPostingKey(rec.key), rec.value) ?? []);
        groups.set(rec.key, g);
      }
      return g.has(p);
    });
  }
}

/**
 * Positions inside time-summary chunks whose [min, max] entry time meets [fromMs, toMs): a bound
 * that lets the engine skip whole chunks of the log (exact whatever the order of entry times; the
 * candidate's own time is checked afterwards).
 */
export class TimeStream extends Buffered {
  constructor(
    private readonly access: SearchAccess,
    private readonly fromMs: number,
    private readonly toMs: number,
    private readonly size: number,
    asc: boolean,
    private readonly work: Work,
  ) {
    super(asc);
  }

  protected override covers(chunk: number, t: number): boolean {
    // A buffered chunk covers t when the chunk is at or after t's chunk in the direction.
    return notAfter(this.asc, Math.floor(t / TIME_CHUNK), chunk);
  }

  protected override answer(chunk: number, t: number): number {
    const first = chunk * TIME_CHUNK;
    const last = Math.min(first + TIME_CHUNK, this.size) - 1;
    return this.asc ? Math.max(first, t) : Math.min(last, t);
  }

  protected async read(t: number): Promise<{ positions: number[]; end: boolean }> {
    if (this.asc ? t >= this.size : t < 0) {
      this.work.reads++;
      return { positions: [], end: true };
    }
    const lastChunk = Math.floor((this.size - 1) / TIME_CHUNK);
    let c = Math.floor(t / TIME_CHUNK);
    for (let round = 1; ; round++) {
      this.work.reads++;
      const gte = timeKey(this.asc ? c : 0);
      const lt = timeKey(this.asc ? lastChunk + 1 : c + 1);
      const recs = await this.access.records({ gte, lt, reverse: !this.asc, limit: TIME_READ });
      const out: number[] = [];
      for (const r of recs) {
        const s = decodeTimeSummary(r.value);
        if (s !== null && s.max >= this.fromMs && s.min < this.toMs) out.push(chunkOfTimeKey(r.key));
      }
      const end = recs.length < TIME_READ;
      // An empty answer would read as "no more matches": a full batch without a matching chunk
      // means only that the matches (if any) lie beyond it, so read on from there.
      if (out.length > 0 || end) return { positions: out, end };
      const lastRead = chunkOfTimeKey(recs[recs.length - 1]!.key);
      c = this.asc ? lastRead + 1 : lastRead - 1;
      if (this.asc ? c > lastChunk : c < 0) return { positions: [], end: true };
      // Bounded per seek: after that, hand back the next chunk as a candidate; the engine checks
      // each candidate's own time (and counts its work), then seeks on from there.
      if (round >= TIME_READS_PER_SEEK) return { positions: [c], end: false };
    }
  }
}

/** Every position in [0, size): the bounded scan when no index applies. */
export class RangeStream implements PositionStream {
  constructor(private readonly size: number) {}
  async seek(t: number): Promise<number | undefined> {
    return t >= 0 && t < this.size ? t : undefined;
  }
}

/** Union of streams (a field restricted to one of several values). */
export class UnionStream implements PositionStream {
  constructor(
    private readonly streams: PositionStream[],
    private readonly asc: boolean,
  ) {}
  density(): number {
    return this.streams.reduce((a, s) => a + (s.density?.() ?? 1), 0);
  }
  async seek(t: number): Promise<number | undefined> {
    let best: number | undefined;
    for (const s of this.streams) {
      const p = await s.seek(t);
      if (p !== undefined && (best === undefined || (this.asc ? p < best : p > best))) best = p;
    }
    return best;
  }
}

/**
 * Leapfrog intersection: the first position at or after t present in every stream. With `paused`,
 * gives up once it returns true (the work budget is spent) and answers { paused: target }: every
 * position before target (in the direction) is known not to be in the intersection.
 */
export async function intersect(streams: readonly PositionStream[], t: number): Promise<number | undefined>;
export async function intersect(streams: readonly PositionStream[], t: number, paused: () => boolean): Promise<number | undefined | { paused: number }>;
export async function intersect(streams: readonly PositionStream[], t: number, paused?: () => boolean): Promise<number | undefined | { paused: number }> {
  let target = t;
  for (;;) {
    if (paused !== undefined && target !== t && paused()) return { paused: target };
    let agreed = true;
    for (const s of streams) {
      const p = await s.seek(target);
      if (p === undefined) return undefined;
      if (p !== target) {
        target = p;
        agreed = false;
        break;
      }
    }
    if (agreed) return target;
  }
}

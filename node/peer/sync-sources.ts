// Which peer catch-up asks for blocks, and how many (the fetch loop is in sync.ts).
//
// Sources are not trusted: a claimed height is a hint used to rank them (capped at
// SYNC_CLAIM_AHEAD_MAX ahead; a source with no claim comes last), and a source that times out,
// answers garbage, serves a block that fails verification or serves nothing for a height it
// claimed is backed off (doubling) and its claim dropped, so the next source is asked and a liar
// cannot keep re-triggering catch-up.
// A timeout alone does not tell a staller from an honest source that is slow (a loaded machine,
// a slow link): the source that timed out is also asked for fewer blocks next time (its batch
// shrinks, and grows back after fast deliveries), so an honest source that cannot serve a full
// batch within the deadline still can serve a smaller one. Bounds only get tighter.

/** First back-off of a source that failed to deliver verifiable blocks; doubles on each failure. */
export const SYNC_SOURCE_BACKOFF_MS = 2_000;
export const SYNC_SOURCE_BACKOFF_MAX_MS = 60_000;
/** A source's batch (blocks per request) is divided by this after it timed out (never below 1). */
export const SYNC_BATCH_SHRINK = 8;
/**
 * How far beyond our height a claimed height counts, for ranking sources. Claims are not
 * verifiable before the blocks arrive, so a lie of 2^53 ranks no higher than an honest peer
 * this far ahead (and loses its rank as soon as it fails to deliver).
 */
export const SYNC_CLAIM_AHEAD_MAX = 1_000_000;
/** Sources remembered with a back-off or a reduced batch (only genesis peers can connect: far fewer). */
const SOURCES_REMEMBERED_MAX = 1_024;

/** What a peer's status/1 answer claimed, and when. */
export interface PeerHeight {
  peerId: string;
  height: number;
  treeSize: number;
  finalSize: number;
  atMs: number;
}

type Log = (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;

export class SyncSources {
  /** Claims of the connected peers (status poll); a backed-off source's claim is dropped. */
  readonly peers = new Map<string, PeerHeight>();
  /** Sources that failed us: consecutive failures and when they may be asked again. */
  private readonly backoff = new Map<string, { failures: number; untilMs: number }>();
  /** Blocks per request for sources that timed out (absent: batchMax). */
  private readonly batch = new Map<string, number>();

  constructor(
    /** Blocks per request of a source that has not timed out. */
    private readonly batchMax: number,
    private readonly log: Log,
  ) {}

  /** False while `peer` is backed off after failing to deliver. */
  available(peer: string, now: number): boolean {
    return (this.backoff.get(peer)?.untilMs ?? 0) <= now;
  }

  /** The highest height claimed by a source not backed off (0: none): a liar's claim stops counting once it failed. */
  bestClaim(now: number): number {
    return Math.max(0, ...[...this.peers.values()].filter((p) => this.available(p.peerId, now)).map((p) => p.height));
  }

  /**
   * The `connected` sources not backed off, highest claimed height first (capped at
   * SYNC_CLAIM_AHEAD_MAX above `head`: a claim is only a hint); one that has not told us its
   * height comes last, not first.
   */
  ranked(connected: readonly string[], head: number, now: number): string[] {
    const cap = head + SYNC_CLAIM_AHEAD_MAX;
    return connected
      .filter((p) => this.available(p, now))
      .map((p) => ({ p, h: Math.min(this.peers.get(p)?.height ?? -1, cap) }))
      .sort((a, b) => b.h - a.h)
      .map((x) => x.p);
  }

  /** Blocks to ask `peer` for. */
  batchOf(peer: string): number {
    return this.batch.get(peer) ?? this.batchMax;
  }

  /** After a timeout: ask this source for fewer blocks next time. */
  shrinkBatch(peer: string, asked: number): void {
    const n = Math.max(1, Math.floor(asked / SYNC_BATCH_SHRINK));
    this.batch.set(peer, n);
    if (this.batch.size > SOURCES_REMEMBERED_MAX) this.batch.delete(this.batch.keys().next().value!);
    this.log('info', 'catch-up batch reduced after a timeout', { peer, blocks: n });
  }

  /** Delivered well within the deadline: its batch grows back (doubling, up to batchMax). */
  growBatch(peer: string): void {
    const n = this.batch.get(peer);
    if (n === undefined) return;
    if (n * 2 >= this.batchMax) this.batch.delete(peer);
    else this.batch.set(peer, n * 2);
  }

  /** `peer` delivered verified blocks: its consecutive failures end. */
  delivered(peer: string): void {
    this.backoff.delete(peer);
  }

  /**
   * Backs a source off (doubling per consecutive failure) and forgets its claimed height until
   * the next status poll: it is asked again only after the back-off, and ranked last meanwhile.
   */
  demote(peer: string, why: string): void {
    const b = this.backoff.get(peer) ?? { failures: 0, untilMs: 0 };
    b.failures++;
    const ms = Math.min(SYNC_SOURCE_BACKOFF_MS * 2 ** (b.failures - 1), SYNC_SOURCE_BACKOFF_MAX_MS);
    b.untilMs = Date.now() + ms;
    this.backoff.set(peer, b);
    if (this.backoff.size > SOURCES_REMEMBERED_MAX) this.backoff.delete(this.backoff.keys().next().value!);
    this.peers.delete(peer);
    this.log('warn', 'catch-up source backed off', { peer, reason: why, failures: b.failures, backoffMs: ms });
  }
}

// Catch-up over request/response: a peer that is behind fetches decided blocks with
// their commit certificates by height range from the other peers, verifies EVERY certificate
// (q valid precommits for the block hash, src/consensus/certificate.ts) and recomputes every root
// (ledger.apply re-derives tree size and RFC 9162 root from the entries), then adopts the latest
// final checkpoint (verified with the quorum of the set that signs its size and checked against
// its own root). Each certificate is checked against the validator set of its height, which is
// final when the block before it is applied (ledger.verifyCertificate, just before applying).
//
// Triggered on start-up, when a consensus message or checkpoint for a height above ours is seen,
// and by a periodic status poll of the connected peers. Served protocols:
//   blocks/1      blocks + certificates from a height (bounded count and bytes)
//   checkpoint/1  the latest final checkpoint note
//   status/1      height, tree size, final size (for status() and to pick a sync source)
//
// Sources are not trusted: a claimed height is a hint used to rank them (capped at
// SYNC_CLAIM_AHEAD_MAX ahead; a source with no claim comes last), each request has a short
// deadline, and a source that times out, answers garbage, serves a block that fails
// verification or serves nothing for a height it claimed is backed off (doubling) and its
// claim dropped, so the next source is asked and a liar cannot keep re-triggering catch-up.
// A timeout alone does not tell a staller from an honest source that is slow (a loaded machine,
// a slow link): the source that timed out is also asked for fewer blocks next time (its batch
// shrinks, and grows back after fast deliveries), so an honest source that cannot serve a full
// batch within the deadline still can serve a smaller one. Bounds only get tighter.
import type { PeerNetwork } from '../net/index.js';
import type { Store } from '../storage/store.js';
import {
  decodeBlocksRequest,
  decodeBlocksResponse,
  decodeStatus,
  encodeBlocksRequest,
  encodeBlocksResponse,
  encodeStatus,
} from './codec.js';
import type { Ledger } from './ledger.js';
import type { RangeResult } from './ledger-range.js';
import type { ConsensusRunner } from './consensus-runner.js';
import { HandlerError } from '../net/index.js';

export const PROTO_BLOCKS = 'blocks/1';
export const PROTO_CHECKPOINT = 'checkpoint/1';
export const PROTO_STATUS = 'status/1';
/** Most blocks per catch-up response. */
export const SYNC_BLOCKS_PER_REQUEST_MAX = 64;
/** Most bytes of blocks + certificates per response (below the 4 MiB frame limit). */
export const SYNC_RESPONSE_BYTES_MAX = 3 * 1024 * 1024 + 512 * 1024;
/**
 * Deadline of one blocks request. A response is at most SYNC_RESPONSE_BYTES_MAX; a source that
 * cannot deliver it in this time is moved past (and backed off), so a source that stalls
 * costs at most this much per back-off period.
 */
export const SYNC_REQUEST_TIMEOUT_MS = 5_000;
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
/** Status poll interval. */
export const STATUS_POLL_MS = 1_000;

export interface PeerHeight {
  peerId: string;
  height: number;
  treeSize: number;
  finalSize: number;
  atMs: number;
}

export interface SyncStats {
  running: boolean;
  /** Sources backed off because they failed to deliver verifiable blocks (or timed out). */
  sourcesDemoted: number;
  blocksFetched: number;
  entriesFetched: number;
  lastRateEntriesPerSec: number;
  lastDurationMs: number;
  failures: number;
}

export class Syncer {
  private active: Promise<void> | null = null;
  private again = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  readonly peers = new Map<string, PeerHeight>();
  /** Sources that failed us: consecutive failures and when they may be asked again. */
  private readonly backoff = new Map<string, { failures: number; untilMs: number }>();
  /** Blocks per request for sources that timed out (absent: SYNC_BLOCKS_PER_REQUEST_MAX). */
  private readonly batch = new Map<string, number>();
  stats: SyncStats = { running: false, sourcesDemoted: 0, blocksFetched: 0, entriesFetched: 0, lastRateEntriesPerSec: 0, lastDurationMs: 0, failures: 0 };

  constructor(
    private readonly net: PeerNetwork,
    private readonly store: Store,
    private readonly ledger: Ledger,
    private readonly runner: ConsensusRunner,
    private readonly log: (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void,
  ) {}

  /** Registers the served protocols. */
  async serve(): Promise<void> {
    await this.net.handle(
      PROTO_BLOCKS,
      async (_from, req) => {
        const r = decodeBlocksRequest(req);
        if (!r.ok) throw new HandlerError('SYNC_BAD_REQUEST', r.message);
        const head = this.store.head();
        const blocks = await this.store.getBlocks(r.fromHeight, Math.min(r.maxCount, SYNC_BLOCKS_PER_REQUEST_MAX), SYNC_RESPONSE_BYTES_MAX);
        return encodeBlocksResponse(head?.height ?? 0, blocks.map((b) => ({ block: b.block, certificate: b.certificate })));
      },
      { maxRequestBytes: 64, rateLimitPerSecond: 200, rateLimitBurst: 400 },
    );
    await this.net.handle(
      PROTO_CHECKPOINT,
      async () => (await this.store.latestFinalCheckpoint()) ?? new Uint8Array(0),
      { maxRequestBytes: 64 },
    );
    await this.net.handle(
      PROTO_STATUS,
      async () => {
        const h = this.ledger.getHead();
        return encodeStatus({ height: h.height, treeSize: h.treeSize, finalSize: this.ledger.finalSize() });
      },
      { maxRequestBytes: 64, rateLimitPerSecond: 100, rateLimitBurst: 200 },
    );
  }

  /** Starts the periodic status poll (drives catch-up and finality repair). */
  startPolling(): void {
    // A peer that just connected may be far ahead (we are starting, or it came back): ask now
    // instead of at the next poll, up to STATUS_POLL_MS later — a large share of a catch-up
    // of 100,000 entries. Coalesced: connections usually open in a burst.
    this.offConnect = this.net.onPeerConnect(() => {
      if (this.stopped || this.connectPoll) return;
      this.connectPoll = true;
      setImmediate(() => {
        this.pollOnce()
          .catch((e: Error) => this.log('debug', 'status poll failed', { error: e.message }))
          .finally(() => {
            this.connectPoll = false;
          });
      });
    });
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.pollOnce();
      } catch (e) {
        this.log('debug', 'status poll failed', { error: (e as Error).message });
      }
      if (!this.stopped) this.pollTimer = setTimeout(tick, STATUS_POLL_MS);
    };
    this.pollTimer = setTimeout(tick, 10);
  }

  private finalLagSinceMs: number | null = null;
  private offConnect: (() => void) | null = null;
  private connectPoll = false;

  async pollOnce(): Promise<void> {
    const connected = this.net.connectedPeers();
    await Promise.all(
      connected.map(async (p) => {
        try {
          const res = await this.net.request(p, PROTO_STATUS, new Uint8Array(0), { timeoutMs: 3_000, maxResponseBytes: 64 });
          const s = decodeStatus(res);
          if (s.ok) this.peers.set(p, { peerId: p, height: s.height, treeSize: s.treeSize, finalSize: s.finalSize, atMs: Date.now() });
        } catch {
          // unreachable peer: its entry just ages
        }
      }),
    );
    for (const p of [...this.peers.keys()]) if (!connected.includes(p)) this.peers.delete(p);
    const head = this.ledger.getHead();
    // A backed-off source's claim does not count: a peer that lies about its height must not
    // start a catch-up run every poll.
    const now = Date.now();
    const best = Math.max(0, ...[...this.peers.values()].filter((p) => this.available(p.peerId, now)).map((p) => p.height));
    if (best > head.height) this.trigger('peer ahead');
    // Finality repair: our head is not covered by a final checkpoint for a while (we missed the
    // signature gossip, e.g. while restarting) — re-send ours and fetch a final one.
    const fin = this.ledger.finalSize();
    if (head.treeSize > fin) {
      const now = Date.now();
      if (this.finalLagSinceMs === null) this.finalLagSinceMs = now;
      else if (now - this.finalLagSinceMs > 1_500) {
        this.ledger.republishHeadSignature();
        await this.fetchFinalCheckpoint();
        this.finalLagSinceMs = now;
      }
    } else {
      this.finalLagSinceMs = null;
    }
  }

  /** Fetches and adopts the best final checkpoint among peers (bounded by our own tree size). */
  async fetchFinalCheckpoint(): Promise<void> {
    const now = Date.now();
    const candidates = [...this.peers.values()]
      .filter((p) => p.finalSize > this.ledger.finalSize() && this.available(p.peerId, now))
      .sort((a, b) => Math.min(b.finalSize, this.ledger.getHead().treeSize) - Math.min(a.finalSize, this.ledger.getHead().treeSize));
    for (const p of candidates.slice(0, 3)) {
      try {
        const note = await this.net.request(p.peerId, PROTO_CHECKPOINT, new Uint8Array(0), { timeoutMs: 3_000, maxResponseBytes: 256 * 1024 });
        if (note.length === 0) continue;
        const r = await this.ledger.adoptFinalCheckpoint(note);
        if (r.ok) return;
        this.log('debug', 'final checkpoint not adopted', { peer: p.peerId, code: r.code, reason: r.message });
      } catch (e) {
        this.log('debug', 'checkpoint fetch failed', { peer: p.peerId, error: (e as Error).message });
      }
    }
  }

  /** Requests a catch-up run (coalesced: one at a time, re-run once if triggered meanwhile). */
  trigger(reason: string): void {
    if (this.stopped) return;
    if (this.active !== null) {
      this.again = true;
      return;
    }
    this.active = (async () => {
      do {
        this.again = false;
        try {
          await this.runOnce(reason);
        } catch (e) {
          this.stats.failures++;
          this.log('warn', 'catch-up failed', { error: (e as Error).message });
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.active = null;
    });
  }

  /** Waits for the current catch-up run (if any). */
  async idle(): Promise<void> {
    while (this.active !== null) await this.active;
  }

  private async runOnce(reason: string): Promise<void> {
    const start = performance.now();
    let fetchedEntries = 0;
    let fetchedBlocks = 0;
    this.stats.running = true;
    try {
      // Sources not backed off, highest claimed height first (capped: a claim is only a hint);
      // a source that has not told us its height comes last, not first.
      const sources = () => {
        const now = Date.now();
        const cap = this.ledger.getHead().height + SYNC_CLAIM_AHEAD_MAX;
        return this.net
          .connectedPeers()
          .filter((p) => this.available(p, now))
          .map((p) => ({ p, h: Math.min(this.peers.get(p)?.height ?? -1, cap) }))
          .sort((a, b) => b.h - a.h)
          .map((x) => x.p);
      };
      type Fetched = { r: Awaited<ReturnType<typeof decodeBlocksResponse>> | Error; count: number; ms: number };
      const fetchFrom = (peer: string, from: number): Promise<Fetched> => {
        const count = this.batch.get(peer) ?? SYNC_BLOCKS_PER_REQUEST_MAX;
        const t = performance.now();
        return this.net
          .request(peer, PROTO_BLOCKS, encodeBlocksRequest(from, count), {
            timeoutMs: SYNC_REQUEST_TIMEOUT_MS,
            maxResponseBytes: 4 * 1024 * 1024 - 1,
          })
          .then((bytes) => decodeBlocksResponse(bytes, count)) // more blocks than asked for is a bad response
          .catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))
          .then((r) => ({ r, count, ms: performance.now() - t }));
      };
      // One request is kept in flight while the previous response is applied (pipelining: the
      // network round trip and the peer's reads overlap our verification and synced writes).
      let prefetch: { peer: string; from: number; res: Promise<Fetched> } | null = null;
      let list = sources();
      let i = 0;
      while (!this.stopped && i < list.length) {
        const peer = list[i]!;
        const from = this.ledger.getHead().height + 1;
        const got: Fetched =
          prefetch !== null && prefetch.peer === peer && prefetch.from === from ? await prefetch.res : await fetchFrom(peer, from);
        prefetch = null;
        const res = got.r;
        if (res instanceof Error) {
          if ((res as { code?: unknown }).code === 'TIMEOUT') this.shrinkBatch(peer, got.count);
          this.demote(peer, `request failed: ${res.message}`);
          i++;
          continue;
        }
        if (!res.ok) {
          this.demote(peer, `bad response: ${res.code}`);
          i++;
          continue;
        }
        if (res.blocks.length === 0) {
          // Nothing beyond our head. Fine for a peer at our height; a peer that claimed more
          // did not deliver what it claimed.
          const claimed = this.peers.get(peer)?.height;
          if (claimed !== undefined && claimed >= from) this.demote(peer, `claimed height ${claimed} but served no block from ${from}`);
          i++;
          continue;
        }
        // Pipelining starts once the source has shown a verified certificate (a forged answer earns no second request).
        const first = this.ledger.verifyCertificate(from, res.blocks[0]!.block, res.blocks[0]!.certificate);
        if (!first.ok) {
          this.demote(peer, `block ${from} rejected: ${first.code}: ${first.message}`);
          i++;
          continue;
        }
        const next = from + res.blocks.length;
        if (res.peerHeight >= next) prefetch = { peer, from: next, res: fetchFrom(peer, next) };
        // The response as one range (Ledger.applyRange: all verified, then one synced batch, then reported).
        // The first block's verdict goes with it (bound to height `from` and these bytes): verified once.
        const b0 = res.blocks[0]!;
        const items = [{ ...b0, verified: { height: from, block: b0.block, certificate: b0.certificate, hash: first.hash } }, ...res.blocks.slice(1)];
        const r: RangeResult | null = await this.runner.applySyncedWith(from, () => this.ledger.applyRange(items)).catch((e: Error) => {
          this.log('warn', 'catch-up range did not apply', { from, error: e.message });
          return { applied: Math.max(0, this.ledger.getHead().height - from + 1), failure: null };
        });
        const applied = r?.applied ?? 0;
        for (const b of res.blocks.slice(0, applied)) fetchedEntries += countEntries(b.block);
        fetchedBlocks += applied;
        if (applied > 0) this.backoff.delete(peer); // it delivered verified blocks
        let bad = false;
        const height = from + applied;
        if (applied < res.blocks.length) {
          if (r?.failure?.code.startsWith('sync_') === true) {
            this.demote(peer, `block ${height} rejected: ${r.failure.code}: ${r.failure.message}`);
            bad = true;
          } else if (this.ledger.getHead().height < height) {
            // Either consensus applied it meanwhile (fine) or it did not apply (bad peer or fork).
            if (r?.failure) this.log('warn', 'catch-up block did not apply', { height, code: r.failure.code, error: r.failure.message });
            if (this.ledger.getHead().height < from) this.demote(peer, `its block ${height} did not apply`);
            bad = true;
          }
        }
        if (bad) {
          prefetch = null;
          i++;
          continue;
        }
        // Delivered well within the deadline: its batch may grow back (doubling, up to the maximum).
        if (got.ms < SYNC_REQUEST_TIMEOUT_MS / 2) this.growBatch(peer);
        if (prefetch === null) {
          list = sources();
          i = 0;
        }
      }
    } finally {
      this.stats.running = false;
    }
    const ms = performance.now() - start;
    if (fetchedBlocks > 0) {
      this.stats.blocksFetched += fetchedBlocks;
      this.stats.entriesFetched += fetchedEntries;
      this.stats.lastDurationMs = ms;
      this.stats.lastRateEntriesPerSec = fetchedEntries / Math.max(ms / 1000, 0.001);
      this.log('info', 'caught up', { reason, blocks: fetchedBlocks, entries: fetchedEntries, ms: Math.round(ms), entriesPerSec: Math.round(this.stats.lastRateEntriesPerSec), height: this.ledger.getHead().height });
      await this.runner.caughtUp();
      await this.fetchFinalCheckpoint();
    }
  }

  /** After a timeout: ask this source for fewer blocks next time. */
  private shrinkBatch(peer: string, asked: number): void {
    const n = Math.max(1, Math.floor(asked / SYNC_BATCH_SHRINK));
    this.batch.set(peer, n);
    // Bounded by the genesis peers (only they can connect); forget the oldest anyway.
    if (this.batch.size > 1_024) this.batch.delete(this.batch.keys().next().value!);
    this.log('info', 'catch-up batch reduced after a timeout', { peer, blocks: n });
  }

  private growBatch(peer: string): void {
    const n = this.batch.get(peer);
    if (n === undefined) return;
    if (n * 2 >= SYNC_BLOCKS_PER_REQUEST_MAX) this.batch.delete(peer);
    else this.batch.set(peer, n * 2);
  }

  /** False while `peer` is backed off after failing to deliver. */
  private available(peer: string, now: number): boolean {
    return (this.backoff.get(peer)?.untilMs ?? 0) <= now;
  }

  /**
   * Backs a source off (doubling per consecutive failure) and forgets its claimed height until
   * the next status poll: it is asked again only after the back-off, and ranked last meanwhile.
   */
  private demote(peer: string, why: string): void {
    const b = this.backoff.get(peer) ?? { failures: 0, untilMs: 0 };
    b.failures++;
    const ms = Math.min(SYNC_SOURCE_BACKOFF_MS * 2 ** (b.failures - 1), SYNC_SOURCE_BACKOFF_MAX_MS);
    b.untilMs = Date.now() + ms;
    this.backoff.set(peer, b);
    // Bounded by the genesis peers (only they can connect); forget the oldest anyway.
    if (this.backoff.size > 1_024) this.backoff.delete(this.backoff.keys().next().value!);
    this.peers.delete(peer);
    this.stats.sourcesDemoted++;
    this.log('warn', 'catch-up source backed off', { peer, reason: why, failures: b.failures, backoffMs: ms });
  }

  /** Stops polling and new runs; a run in progress ends at its next step (await idle()). */
  stop(): void {
    this.stopped = true;
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.offConnect?.();
  }
}

/** Entry count of an encoded block (u32 at a fixed header offset; see block.ts). */
function countEntries(block: Uint8Array): number {
  const off = 1 + 8 + 32 + 2 + 8 + 8 + 32 + 32;
  if (block.length < off + 4) return 0;
  return new DataView(block.buffer, block.byteOffset + off, 4).getUint32(0);
}

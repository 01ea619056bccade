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
// Each request has a short deadline. Sources are not trusted: which one is asked, for how many
// blocks, and how one that failed is backed off is sync-sources.ts. What no source can cause halts
// the peer instead (fail-stop, as consensus does): a block with a valid commit certificate that our
// checks refuse (our state diverged), and a failure of our own store while applying a range.
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
import { isStoreError, type StoreErrorCode } from '../storage/errors.js';
import { SyncSources, type PeerHeight } from './sync-sources.js';

export { SYNC_BATCH_SHRINK, SYNC_CLAIM_AHEAD_MAX, SYNC_SOURCE_BACKOFF_MAX_MS, SYNC_SOURCE_BACKOFF_MS, type PeerHeight } from './sync-sources.js';

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
/**
 * Store errors that say our stored state disagrees with what the ledger handed it (a divergence);
 * any other store error is the store failing (I/O, closed, corrupt record): STORE_FAILED.
 */
const STATE_CODES: ReadonlySet<StoreErrorCode> = new Set<StoreErrorCode>(['NOT_NEXT_BLOCK', 'BAD_BLOCK']);
/** Status poll interval while anything moves: our head, its finality, a peer claiming more. */
export const STATUS_POLL_MS = 1_000;
/**
 * Longest gap between two status polls while nothing moved since the last one (see pollDue).
 * Each poll opens a request stream to every connected peer: about a third of an idle peer's CPU
 * at a 1 s cadence.
 */
export const STATUS_POLL_QUIET_MS = 5_000;

/** What the last status poll saw, for the quiet rule (pollDue). */
interface LastPoll {
  atMs: number;
  height: number;
  treeSize: number;
  /** Our head was covered by a final checkpoint. */
  final: boolean;
  /** A source claimed a height above ours. */
  ahead: boolean;
}

/**
 * Whether the periodic tick polls the peers now. A poll finds peers ahead of us (catch-up) and a
 * head left without a final checkpoint (finality repair); when, since the last poll, our head has
 * not moved, it was and is final, no source claimed more and no catch-up runs, the network is idle
 * and another poll would only repeat the last answers: it waits until STATUS_POLL_QUIET_MS after
 * the last poll. A peer that connects is polled at once, and a consensus message from a higher
 * height starts a catch-up at once, so neither waits for the quiet period to end. A height our
 * consensus has started and not decided is not quiet either: if the others decided it and went
 * idle, nothing they send tells us, and only a poll finds their head ahead of ours.
 */
export function pollDue(last: LastPoll | null, now: { atMs: number; height: number; treeSize: number; finalSize: number; catchingUp: boolean; heightRunning: boolean }): boolean {
  if (last === null || now.catchingUp || now.heightRunning || last.ahead || !last.final) return true;
  if (now.height !== last.height || now.treeSize !== last.treeSize || now.finalSize < now.treeSize) return true;
  return now.atMs - last.atMs >= STATUS_POLL_QUIET_MS || now.atMs < last.atMs;
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
  /** Status polls of the connected peers made, and periodic ones left out while the network was quiet (pollDue). */
  statusPolls: number;
  statusPollsQuiet: number;
}

export class Syncer {
  private active: Promise<void> | null = null;
  private again = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly sources: SyncSources;
  stats: SyncStats = { running: false, sourcesDemoted: 0, blocksFetched: 0, entriesFetched: 0, lastRateEntriesPerSec: 0, lastDurationMs: 0, failures: 0, statusPolls: 0, statusPollsQuiet: 0 };
  private lastPoll: LastPoll | null = null;

  constructor(
    private readonly net: PeerNetwork,
    private readonly store: Store,
    private readonly ledger: Ledger,
    private readonly runner: ConsensusRunner,
    private readonly log: (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void,
    /** Fail-stop of the peer (consensus halts, /healthz reports it): for what no source can cause. */
    private readonly halt: (code: string, message: string, fields?: Record<string, unknown>) => void,
  ) {
    this.sources = new SyncSources(SYNC_BLOCKS_PER_REQUEST_MAX, log);
  }

  /** What each connected peer last claimed (status poll). */
  get peers(): ReadonlyMap<string, PeerHeight> {
    return this.sources.peers;
  }

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
        const head = this.ledger.getHead();
        const now = { atMs: Date.now(), height: head.height, treeSize: head.treeSize, finalSize: this.ledger.finalSize(), catchingUp: this.active !== null, heightRunning: this.runner.status().running };
        if (pollDue(this.lastPoll, now)) await this.pollOnce();
        else this.stats.statusPollsQuiet++;
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
    this.stats.statusPolls++;
    const connected = this.net.connectedPeers();
    await Promise.all(
      connected.map(async (p) => {
        try {
          const res = await this.net.request(p, PROTO_STATUS, new Uint8Array(0), { timeoutMs: 3_000, maxResponseBytes: 64 });
          const s = decodeStatus(res);
          if (s.ok) this.sources.peers.set(p, { peerId: p, height: s.height, treeSize: s.treeSize, finalSize: s.finalSize, atMs: Date.now() });
        } catch {
          // unreachable peer: its entry just ages
        }
      }),
    );
    for (const p of [...this.sources.peers.keys()]) if (!connected.includes(p)) this.sources.peers.delete(p);
    const head = this.ledger.getHead();
    // A backed-off source's claim does not count: a peer that lies about its height must not
    // start a catch-up run every poll.
    const ahead = this.sources.bestClaim(Date.now()) > head.height;
    if (ahead) this.trigger('peer ahead');
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
    this.lastPoll = { atMs: Date.now(), height: head.height, treeSize: head.treeSize, final: head.treeSize <= fin, ahead };
  }

  /** Fetches and adopts the best final checkpoint among peers (bounded by our own tree size). */
  async fetchFinalCheckpoint(): Promise<void> {
    const now = Date.now();
    const candidates = [...this.peers.values()]
      .filter((p) => p.finalSize > this.ledger.finalSize() && this.sources.available(p.peerId, now))
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
      const ranked = () => this.sources.ranked(this.net.connectedPeers(), this.ledger.getHead().height, Date.now());
      type Fetched = { r: Awaited<ReturnType<typeof decodeBlocksResponse>> | Error; count: number; ms: number };
      const fetchFrom = (peer: string, from: number): Promise<Fetched> => {
        const count = this.sources.batchOf(peer);
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
      let list = ranked();
      let i = 0;
      while (!this.stopped && i < list.length) {
        const peer = list[i]!;
        const from = this.ledger.getHead().height + 1;
        const got: Fetched =
          prefetch !== null && prefetch.peer === peer && prefetch.from === from ? await prefetch.res : await fetchFrom(peer, from);
        prefetch = null;
        const res = got.r;
        if (res instanceof Error) {
          if ((res as { code?: unknown }).code === 'TIMEOUT') this.sources.shrinkBatch(peer, got.count);
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
          const claimed = this.sources.peers.get(peer)?.height;
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
        // The first block's verdict goes with that block (for height `from`): verified once.
        const items = [{ ...res.blocks[0]!, verified: { height: from, hash: first.hash } }, ...res.blocks.slice(1)];
        let r: RangeResult | null;
        try {
          r = await this.runner.applySyncedWith(from, () => this.ledger.applyRange(items));
        } catch (e) {
          // A throw is ours, not the source's: everything a source sends is checked and refused as
          // a RangeResult failure; what throws is our store (a write or read failed) or a listener
          // of an applied block, exactly what halts consensus when it applies a block itself.
          // Blaming the source would move on to the next one and fail the same way on each.
          this.haltSync(haltCodeOf(e), `catch-up of height ${from}: ${(e as Error).message}`, from);
          return;
        }
        const applied = r?.applied ?? 0;
        for (const b of res.blocks.slice(0, applied)) fetchedEntries += countEntries(b.block);
        fetchedBlocks += applied;
        if (applied > 0) this.sources.delivered(peer);
        let bad = false;
        const height = from + applied;
        if (applied < res.blocks.length) {
          if (r?.failure?.code.startsWith('sync_') === true) {
            this.demote(peer, `block ${height} rejected: ${r.failure.code}: ${r.failure.message}`);
            bad = true;
          } else if (this.ledger.getHead().height < height) {
            if (r?.failure) {
              // The block's commit certificate verified (a 'sync_' failure otherwise): q validators
              // committed exactly these bytes, so at least one honest organization checked them at
              // this height. Our check refusing them means our state diverged from theirs, as when
              // a block decided by consensus does not apply: halt, do not try another source.
              this.haltSync('DIVERGENCE', `certified block ${height} does not apply: ${r.failure.code}: ${r.failure.message}`, height);
              return;
            }
            // Consensus applied part of the range meanwhile (the runner took it first): fine.
            if (this.ledger.getHead().height < from) this.demote(peer, `its block ${height} did not apply`);
            bad = true;
          }
        }
        if (bad) {
          prefetch = null;
          i++;
          continue;
        }
        if (got.ms < SYNC_REQUEST_TIMEOUT_MS / 2) this.sources.growBatch(peer);
        if (prefetch === null) {
          list = ranked();
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

  /** Our own state or store failed during catch-up: the peer halts and catch-up stops for good. */
  private haltSync(code: string, message: string, height: number): void {
    this.stats.failures++;
    this.halt(code, message, { height, path: 'catch-up' });
    this.stop();
  }

  /** A source failed to deliver verifiable blocks: backed off (sync-sources.ts). */
  private demote(peer: string, why: string): void {
    this.sources.demote(peer, why);
    this.stats.sourcesDemoted++;
  }

  /** Stops polling and new runs; a run in progress ends at its next step (await idle()). */
  stop(): void {
    this.stopped = true;
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.offConnect?.();
  }
}

/**
 * The halt code of an error thrown while applying a catch-up range: our store failing (a store
 * error other than a state disagreement, or LevelDB's own error: classic-level codes LEVEL_*) is
 * STORE_FAILED; the store refusing what the ledger handed it, or anything else, is DIVERGENCE (as
 * when consensus applies a block).
 */
export function haltCodeOf(e: unknown): 'STORE_FAILED' | 'DIVERGENCE' {
  if (isStoreError(e)) return STATE_CODES.has(e.code) ? 'DIVERGENCE' : 'STORE_FAILED';
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('LEVEL_') ? 'STORE_FAILED' : 'DIVERGENCE';
}

/** Entry count of an encoded block (u32 at a fixed header offset; see block.ts). */
function countEntries(block: Uint8Array): number {
  const off = 1 + 8 + 32 + 2 + 8 + 8 + 32 + 32;
  if (block.length < off + 4) return 0;
  return new DataView(block.buffer, block.byteOffset + off, 4).getUint32(0);
}

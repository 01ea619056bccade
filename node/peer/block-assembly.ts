// Turning blocks into compact forms (our proposals, WAL records) and compact forms back into the
// byte-identical blocks (received proposals, WAL replay): from the entries in our mempool first,
// then from other peers (block-fetch.ts), within a deadline. See docs/consensus-proposals.md.
//
// A fetched leaf is only known to hash to the leaf hash asked for: it is NOT checked or added to
// the mempool here. The rebuilt block goes through the ordinary proposal validation
// (ledger.prevalidate), which checks every entry not pending in the mempool in full.
import { toHex } from '../../src/encoding/bytes.js';
import { BLOCK_CAPS, decodeBlock, type BlockLimits } from './block.js';
import { decodeCompact, encodeCompact, rebuildBlock } from './block-compact.js';
import { failure, type PeerFailure } from './errors.js';
import { serveEntryFetch } from './block-fetch.js';
import type { PeerNetwork } from '../net/index.js';

/** Compact forms kept by value id (our recent proposals and the ones we rebuilt). */
const COMPACT_CACHE_MAX = 16;
/**
 * Whole blocks whose leaves we keep serving to peers that fetch them (our recent proposals and
 * the blocks we rebuilt): after a restart our mempool is empty, yet a value we lock on (kept in
 * the signer state) may be re-proposed and must be rebuildable by the others. The driver holds
 * these values anyway; this keeps references to the last few.
 */
const SERVED_BLOCKS_MAX = 4;

/**
 * Obtains leaves by leaf hash from other peers before a deadline (block-fetch.ts fetchMissing),
 * asking the peer `first` (the block's proposer) ahead of the others.
 */
export type LeafFetcher = (missing: Uint8Array[], maxBytes: number, deadlineMs: number, first?: string) => Promise<Map<string, Uint8Array>>;

/** The libp2p peer id of validator `index` in the set of `height` (undefined: unknown). */
export type PeerIdOf = (height: number, index: number) => string | undefined;

export interface AssemblyParts {
  /** A pending entry's leaf by hex leaf hash (the mempool). */
  leafOf(hex: string): Uint8Array | undefined;
  leafHash(leaf: Uint8Array): Uint8Array;
  valueId(block: Uint8Array): Uint8Array;
  /** Block limits in force at a height (structural caps where unknown). */
  limitsAt(height: number): BlockLimits;
}

export class BlockAssembly {
  private readonly cache = new Map<string, Uint8Array>();
  private readonly served = new Map<string, Map<string, Uint8Array>>();
  private fetcher: LeafFetcher | null = null;
  private peerIdOf: PeerIdOf | null = null;
  stats = { rebuiltLocal: 0, rebuiltFetched: 0, fetchFailed: 0, leavesFetched: 0 };

  constructor(private readonly parts: AssemblyParts) {}

  attachFetcher(f: LeafFetcher): void {
    this.fetcher = f;
  }

  /**
   * Serves our pending and recent blocks' entries to peers that fetch them, and fetches from them,
   * the proposer first: `peerIdOf` maps the block header's proposer index to its peer id.
   */
  async serve(network: Pick<PeerNetwork, 'handle' | 'request' | 'connectedPeers'>, peerIdOf?: PeerIdOf): Promise<void> {
    this.peerIdOf = peerIdOf ?? null;
    this.fetcher = await serveEntryFetch(network, (hex) => this.parts.leafOf(hex) ?? this.servedLeaf(hex), (leaf) => this.parts.leafHash(leaf));
  }

  /** Keeps the compact form of the block whose value id is idHex (e.g. our own proposal's, built with its leaf hashes). */
  remember(idHex: string, compact: Uint8Array): void {
    if (this.cache.size >= COMPACT_CACHE_MAX) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(idHex, compact);
  }

  /** Keeps serving the leaves of a whole block we built or rebuilt (leafHashes in block order). */
  serveBlock(idHex: string, leaves: readonly Uint8Array[], leafHashes: readonly Uint8Array[]): void {
    if (this.served.has(idHex) || leaves.length !== leafHashes.length) return;
    if (this.served.size >= SERVED_BLOCKS_MAX) {
      const oldest = this.served.keys().next().value;
      if (oldest !== undefined) this.served.delete(oldest);
    }
    const m = new Map<string, Uint8Array>();
    for (let i = 0; i < leaves.length; i++) m.set(toHex(leafHashes[i]!), leaves[i]!);
    this.served.set(idHex, m);
  }

  /** A leaf of a recent block we built or rebuilt, by hex leaf hash (what the fetch server adds to the mempool). */
  servedLeaf(hex: string): Uint8Array | undefined {
    for (const m of this.served.values()) {
      const l = m.get(hex);
      if (l !== undefined) return l;
    }
    return undefined;
  }

  /** The compact form of a whole block (cached by value id); null when the bytes are no block. */
  compactOf(value: Uint8Array): Uint8Array | null {
    const idHex = toHex(this.parts.valueId(value));
    const hit = this.cache.get(idHex);
    // A value proposed (or re-proposed, paper L14-L16) is served again even when newer blocks
    // pushed its leaves out: peers rebuilding our proposal fetch them from us.
    if (hit !== undefined && this.served.has(idHex)) return hit;
    const d = decodeBlock(value);
    if (!d.ok) return null;
    const hashes = d.block.entries.map((e) => this.parts.leafHash(e));
    const compact = encodeCompact(d.block, hashes);
    this.remember(idHex, compact);
    this.serveBlock(idHex, d.block.entries, hashes);
    return compact;
  }

  /**
   * The whole block of a compact form: decoded within the limits of its height (cheap checks),
   * rebuilt from the mempool, the missing leaves fetched (at most the block's declared bytes)
   * before `deadlineMs`. Fails with `compact_entries_missing` when they did not all arrive.
   */
  async expand(compact: Uint8Array, deadlineMs: number): Promise<{ ok: true; value: Uint8Array } | PeerFailure> {
    const pre = decodeCompact(compact, BLOCK_CAPS);
    if (!pre.ok) return pre;
    const d = decodeCompact(compact, this.parts.limitsAt(pre.compact.header.height));
    if (!d.ok) return d;
    const c = d.compact;
    const local = (h: string) => this.parts.leafOf(h) ?? this.servedLeaf(h);
    let r = rebuildBlock(c, local);
    if (!r.ok && 'missing' in r) {
      const missing = r.missing;
      // The block's proposer built it from entries it holds: asked first. The header is not
      // validated yet; a false proposer index only costs one request to another peer.
      const first = this.peerIdOf?.(c.header.height, c.header.proposer);
      const got = this.fetcher === null ? new Map<string, Uint8Array>() : await this.fetcher(missing, c.entryBytes, deadlineMs, first).catch(() => new Map<string, Uint8Array>());
      this.stats.leavesFetched += got.size;
      r = rebuildBlock(c, (h) => local(h) ?? got.get(h));
      if (!r.ok && 'missing' in r) {
        this.stats.fetchFailed++;
        return failure('compact_entries_missing', `${r.missing.length} of ${c.leafHashes.length} entries neither held nor fetched`);
      }
      if (r.ok) this.stats.rebuiltFetched++;
    } else if (r.ok) {
      this.stats.rebuiltLocal++;
    }
    if (!r.ok) return r as PeerFailure;
    const idHex = toHex(this.parts.valueId(r.bytes));
    this.remember(idHex, compact);
    const blk = decodeBlock(r.bytes);
    if (blk.ok) this.serveBlock(idHex, blk.block.entries, c.leafHashes);
    return { ok: true, value: r.bytes };
  }
}

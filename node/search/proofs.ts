// Inclusion proofs for one page of results, all at the pinned tree size. Each proof element is the
// hash of a range that splits into perfect subtrees (the RFC 9162 PATH recursion, inclusionPlan of
// src/merkle); a perfect subtree of level h is a node of the tile of level ⌊h/8⌋, rehashed from its
// 2^(h mod 8) stored descendants when h is not a multiple of 8. Done proof by proof, that rehashing
// is most of the cost (≈ 250 SHA-256 per result far from the others). So:
//  - every node of a FULL tile comes from a cache kept across requests (tile-cache.ts): full tiles
//    never change, so a tile is read and hashed once, then served with no read and no hash;
//  - a partial right-edge tile (its width depends on the pinned size) is read per page and its
//    nodes memoized for the page only;
//  - node hashes use Node's native SHA-256 (node-hash.ts).
// The output is byte for byte src/merkle inclusionProof's (tested across sizes and tile bands).
import { MerkleError, TILE_HEIGHT, TILE_WIDTH, tileHash, tileWidthAt, type TileId, type TileReader } from '../../src/merkle/index.js';
import { inclusionPlan } from '../../src/merkle/proof.js';
import { MAX_TILES_PER_READ, readTilesChecked } from '../../src/merkle/tile-store.js';
import { fastNodeHash } from './node-hash.js';
import { TileNodeCache, buildTileEntry, entryNode, type TileCacheLimits, type TileCacheStats } from './tile-cache.js';

/** Most distinct tiles one batch of a page holds at once (each entry ≤ 16 KiB: ≤ 16 MiB transient). */
const BATCH_TILES = 1024;
/** Most results one call proves (a search page is ≤ 1,000). */
export const MAX_PAGE_PROOFS = 10_000;

interface NodeId {
  level: number;
  index: number;
}

/** The perfect subtrees of [lo, hi) left to right (lo is aligned for ranges of the PATH recursion). */
function perfectNodes(lo: number, hi: number): NodeId[] {
  const out: NodeId[] = [];
  while (lo < hi) {
    let k = 1;
    while (k * 2 <= hi - lo) k *= 2;
    if (lo % k !== 0) throw new MerkleError('BAD_INDEX', `unaligned range [${lo}, ${hi})`);
    out.push({ level: Math.log2(k), index: lo / k });
    lo += k;
  }
  return out;
}

/** A number naming tile (L, t) (L < 16), cheaper than a string key in the per-node lookups. */
function tileNum(L: number, t: number): number {
  return t * 16 + L;
}

/** Where node (level, index) lives: tile (L, t) at tile-local level k, position p. */
function locate(n: NodeId): { L: number; t: number; k: number; p: number } {
  const L = Math.floor(n.level / TILE_HEIGHT);
  const k = n.level - L * TILE_HEIGHT;
  const perTile = TILE_WIDTH >> k;
  const t = Math.floor(n.index / perTile);
  return { L, t, k, p: n.index - t * perTile };
}

// One cache per tile reader (one per log): keyed by the reader object, so two stores never share
// entries and a closed store's cache is collected with it.
const caches = new WeakMap<object, TileNodeCache>();

/** The cross-request node cache of `reader`'s log (created with default bounds on first use). */
export function proofCacheFor(reader: TileReader): TileNodeCache {
  let c = caches.get(reader);
  if (c === undefined) {
    c = new TileNodeCache();
    caches.set(reader, c);
  }
  return c;
}

/** Replaces `reader`'s cache with an empty one of these bounds (maxBytes 0 turns caching off). */
export function configureProofCache(reader: TileReader, limits: TileCacheLimits): TileNodeCache {
  const c = new TileNodeCache(limits);
  caches.set(reader, c);
  return c;
}

/** Hit/miss counts and size of `reader`'s cache, for metrics. */
export function proofCacheStats(reader: TileReader): TileCacheStats {
  return proofCacheFor(reader).stats();
}

/** The tiles of one batch: full ones as cache entries, partial ones as bytes with a page memo. */
class BatchTiles {
  readonly full = new Map<number, Uint8Array>();
  readonly partial = new Map<number, Uint8Array>();
  private readonly memo = new Map<number, Uint8Array>();

  node(level: number, index: number, size: number): Uint8Array {
    const { L, t, k, p } = locate({ level, index });
    const key = tileNum(L, t);
    const entry = this.full.get(key);
    if (entry !== undefined) return entryNode(entry, k, p);
    const tile = this.partial.get(key);
    if (tile === undefined) throw new MerkleError('TILE_MISSING', `tile of node (${level}, ${index}) not loaded`);
    if (k === 0) return tileHash(tile, p).slice();
    const mk = index * 64 + level;
    const hit = this.memo.get(mk);
    if (hit !== undefined) return hit;
    // Both children lie in the same tile (level − 1 ≥ 8·L).
    const h = fastNodeHash(this.node(level - 1, 2 * index, size), this.node(level - 1, 2 * index + 1, size));
    this.memo.set(mk, h);
    return h;
  }
}

/** Reads and resolves every tile `nodes` need: cached full tiles, else one read for the rest. */
async function loadBatch(reader: TileReader, cache: TileNodeCache, size: number, tiles: Map<number, TileId>): Promise<BatchTiles> {
  const b = new BatchTiles();
  const need: TileId[] = [];
  for (const [key, t] of tiles) {
    if (t.width === TILE_WIDTH) {
      const e = cache.get(t.level, t.index);
      if (e !== undefined) {
        b.full.set(key, e);
        cache.record('hits');
        continue;
      }
      cache.record('misses');
    } else {
      cache.record('partial');
    }
    need.push(t);
  }
  for (let at = 0; at < need.length; at += MAX_TILES_PER_READ) {
    const part = need.slice(at, at + MAX_TILES_PER_READ);
    const got = await readTilesChecked(reader, part);
    part.forEach((t, i) => {
      const key = tileNum(t.level, t.index);
      // A reader may return a wider version of a tile; only the first `width` hashes are this size's.
      const bytes = got[i]!.subarray(0, t.width * 32);
      if (t.width === TILE_WIDTH) {
        const e = buildTileEntry(bytes);
        cache.put(t.level, t.index, e);
        b.full.set(key, e);
      } else {
        b.partial.set(key, bytes);
      }
    });
  }
  return b;
}

/** Proofs of `indexes` in the tree of `size` leaves, in order (each equal to inclusionProof's). */
export async function pageProofs(
  reader: TileReader,
  indexes: readonly number[],
  size: number,
  cache: TileNodeCache = proofCacheFor(reader),
): Promise<Uint8Array[][]> {
  if (indexes.length > MAX_PAGE_PROOFS) throw new MerkleError('LIMIT_EXCEEDED', `${indexes.length} proofs asked, limit MAX_PAGE_PROOFS = ${MAX_PAGE_PROOFS}`);
  for (const i of indexes) {
    if (!Number.isSafeInteger(i) || i < 0 || i >= size) throw new MerkleError('BAD_INDEX', `leaf index ${i} is not below tree size ${size}`);
  }
  const ranges = indexes.map((i) => inclusionPlan(i, size));
  const plans = ranges.map((rs) => rs.map(([lo, hi]) => perfectNodes(lo, hi)));
  // The ranges that are not perfect subtrees all end at the right edge, [k, size) for k in the
  // binary decomposition of size: at most ~log2(size) of them whatever the page, and nearly every
  // proof has one. Their folds are computed once per page.
  const folded = new Map<number, Uint8Array>();
  const out: Uint8Array[][] = [];
  let start = 0;
  while (start < plans.length) {
    // A batch: as many results as fit in BATCH_TILES distinct tiles (at least one result).
    const tiles = new Map<number, TileId>();
    let end = start;
    for (; end < plans.length; end++) {
      const add = new Map<number, TileId>();
      for (const nodes of plans[end]!) {
        for (const n of nodes) {
          const { L, t } = locate(n);
          const key = tileNum(L, t);
          if (!tiles.has(key) && !add.has(key)) add.set(key, { level: L, index: t, width: tileWidthAt(size, L, t) });
        }
      }
      if (end > start && tiles.size + add.size > BATCH_TILES) break;
      for (const [key, t] of add) tiles.set(key, t);
    }
    const batch = await loadBatch(reader, cache, size, tiles);
    for (let r = start; r < end; r++) {
      out.push(
        plans[r]!.map((nodes, j) => {
          const last = nodes[nodes.length - 1]!;
          if (nodes.length === 1) return batch.node(last.level, last.index, size);
          const lo = ranges[r]![j]![0];
          const memo = folded.get(lo);
          if (memo !== undefined) return memo.slice();
          // RFC 9162 §2.1.1: MTH of a range folds its perfect subtrees right to left.
          let h = batch.node(last.level, last.index, size);
          for (let k = nodes.length - 2; k >= 0; k--) h = fastNodeHash(batch.node(nodes[k]!.level, nodes[k]!.index, size), h);
          folded.set(lo, h);
          return h.slice();
        }),
      );
    }
    start = end;
  }
  return out;
}

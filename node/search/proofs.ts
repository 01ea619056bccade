// Inclusion proofs for one page of results, all at the pinned tree size. Each proof element is the
// hash of a range that splits into perfect subtrees (the RFC 9162 PATH recursion of src/merkle
// inclusionPlan, walked here bottom up by arithmetic on the leaf index, without building ranges:
// a page of 1,000 results has ~20,000 elements); a perfect subtree of level h is a node of the tile of level ⌊h/8⌋, rehashed from its
// 2^(h mod 8) stored descendants when h is not a multiple of 8. Done proof by proof, that rehashing
// is most of the cost (≈ 250 SHA-256 per result far from the others). So:
//  - every node of a FULL tile comes from a cache kept across requests (tile-cache.ts): full tiles
//    never change, so a tile is read and hashed once, then served with no read and no hash;
//  - a partial right-edge tile (its width depends on the pinned size) is read per page and its
//    nodes memoized for the page only;
//  - node hashes use Node's native SHA-256 (node-hash.ts);
//  - each proof is copied into one buffer of its own (the caller owns it, never the cache's bytes).
// The output is byte for byte src/merkle inclusionProof's (tested across sizes and tile bands).
import { MerkleError, TILE_HEIGHT, TILE_WIDTH, tileHash, tileWidthAt, type TileId, type TileReader } from '../../src/merkle/index.js';
import { MAX_TILES_PER_READ, readTilesChecked } from '../../src/merkle/tile-store.js';
import { fastNodeHash } from './node-hash.js';
import { TileNodeCache, buildTileEntry, entryNodeIndex, entryNodeView, type TileCacheLimits, type TileCacheStats } from './tile-cache.js';

/** Most distinct tiles one batch of a page holds at once (each entry ≤ 16 KiB: ≤ 16 MiB transient). */
const BATCH_TILES = 1024;
/** Most results one call proves (a search page is ≤ 1,000). */
export const MAX_PAGE_PROOFS = 10_000;
const HASH_BYTES = 32;

/** 2^h for h in 0..63 (exact as doubles), so levels above 31 need no 32-bit bit operations. */
const POW2 = Array.from({ length: 64 }, (_, h) => 2 ** h);

/**
 * The fork level of leaf i in a tree of n leaves: the highest bit where i and n differ. The
 * subtree of that height holding i is complete ([begin, end), end ≤ n) and is the largest such one
 * on i's path; above it, every proof element is the hash of a range to its right ([end, n), once)
 * or a complete subtree to its left (one per set bit of i above the fork).
 */
function forkLevel(i: number, n: number): number {
  if (n < 0x80000000) return 31 - Math.clz32(i ^ n);
  let inner = 0;
  for (let h = 0, x = i, y = n; x !== y; h++, x = Math.floor(x / 2), y = Math.floor(y / 2)) if (x % 2 !== y % 2) inner = h;
  return inner;
}

/** A number naming tile (L, t) (L < 16), cheaper than a string key in the per-node lookups. */
function tileNum(L: number, t: number): number {
  return t * 16 + L;
}

/** Tile level, tile index and position within the tile's local level of node (level h, index j). */
function tileOf(h: number, j: number): { L: number; k: number; t: number; p: number } {
  const L = Math.floor(h / TILE_HEIGHT);
  const k = h - L * TILE_HEIGHT;
  const per = TILE_WIDTH >> k;
  const t = Math.floor(j / per);
  return { L, k, t, p: j - t * per };
}

/**
 * Calls `visit(level, index)` for each proof element of leaf i in a tree of n leaves, in RFC 9162
 * order, except the one right-edge range [end, n): `right(end)` is called at its place instead.
 * The same walk as src/merkle inclusionPlan's PATH recursion, bottom up, without building ranges.
 */
function walkProof(i: number, n: number, visit: (h: number, j: number) => void, right: (end: number) => void): void {
  const inner = forkLevel(i, n);
  // Siblings inside the complete fork subtree, levels 0 .. inner-1.
  for (let h = 0; h < inner; h++) {
    const j = Math.floor(i / POW2[h]!);
    visit(h, j % 2 === 0 ? j + 1 : j - 1);
  }
  const end = (Math.floor(i / POW2[inner]!) + 1) * POW2[inner]!;
  if (end < n) right(end);
  // Complete subtrees to the left: one per set bit of i above the fork, by increasing level.
  for (let h = inner + 1; POW2[h]! <= i; h++) {
    const j = Math.floor(i / POW2[h]!);
    if (j % 2 === 1) visit(h, j - 1);
  }
}

/** Calls `visit` for each complete subtree of [end, n) left to right (end aligned to the largest). */
function rightNodes(end: number, n: number, visit: (h: number, j: number) => void): void {
  let h = 0;
  while (POW2[h + 1]! <= n - end) h++;
  for (let lo = end; h >= 0; h--) {
    if (POW2[h]! <= n - lo) {
      visit(h, lo / POW2[h]!);
      lo += POW2[h]!;
    }
  }
}

/**
 * The ranges [lo, hi) whose hashes make the proof of leaf i in a tree of n leaves, in proof order:
 * the same list as src/merkle inclusionPlan (tests compare them, also beyond 2^32 leaves).
 */
export function proofRanges(i: number, n: number): [number, number][] {
  const out: [number, number][] = [];
  walkProof(
    i,
    n,
    (h, j) => out.push([j * POW2[h]!, (j + 1) * POW2[h]!]),
    (end) => out.push([end, n]),
  );
  return out;
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

  /** Hash of complete node (level h, index j), a view (callers copy it). */
  node(h: number, j: number): Uint8Array {
    const { L, k, t, p } = tileOf(h, j);
    const key = tileNum(L, t);
    const entry = this.full.get(key);
    if (entry !== undefined) return entryNodeView(entry, k, p);
    const tile = this.partial.get(key);
    if (tile === undefined) throw new MerkleError('TILE_MISSING', `tile of node (${h}, ${j}) not loaded`);
    if (k === 0) return tileHash(tile, p);
    const mk = j * 64 + h;
    const hit = this.memo.get(mk);
    if (hit !== undefined) return hit;
    // Both children lie in the same tile (h − 1 ≥ 8·L).
    const out = fastNodeHash(this.node(h - 1, 2 * j), this.node(h - 1, 2 * j + 1));
    this.memo.set(mk, out);
    return out;
  }

  /** Copies the hash of complete node (level h, index j) into dst at byte offset `at`. */
  copy(h: number, j: number, dst: Uint8Array, at: number): void {
    const L = Math.floor(h / TILE_HEIGHT);
    const k = h - L * TILE_HEIGHT;
    const per = TILE_WIDTH >> k;
    const t = Math.floor(j / per);
    const entry = this.full.get(tileNum(L, t));
    // The common case (a cached full tile) copies straight from the entry: no view per element.
    const src = entry ?? this.node(h, j);
    const from = entry === undefined ? 0 : entryNodeIndex(k, j - t * per) * HASH_BYTES;
    for (let q = 0; q < HASH_BYTES; q++) dst[at + q] = src[from + q]!;
  }
}

/**
 * Reads and resolves every tile of `tiles`: cached full tiles, partial tiles this page already
 * read, else one read for the rest.
 */
async function loadBatch(reader: TileReader, cache: TileNodeCache, tiles: Map<number, TileId>, partial: Map<number, Uint8Array>): Promise<BatchTiles> {
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
      const bytes = partial.get(key);
      if (bytes !== undefined) {
        b.partial.set(key, bytes);
        continue;
      }
    }
    need.push(t);
  }
  for (let at = 0; at < need.length; at += MAX_TILES_PER_READ) {
    const part = need.slice(at, at + MAX_TILES_PER_READ);
    const got = await readTilesChecked(reader, part);
    part.forEach((t, i) => {
      const key = tileNum(t.level, t.index);
      // A reader may return a wider version of a tile; only the first `width` hashes are this size's.
      const bytes = got[i]!.subarray(0, t.width * HASH_BYTES);
      if (t.width === TILE_WIDTH) {
        const e = buildTileEntry(bytes);
        cache.put(t.level, t.index, e);
        b.full.set(key, e);
      } else {
        b.partial.set(key, bytes);
        partial.set(key, bytes);
      }
    });
  }
  return b;
}

/**
 * Proves the results of one page, all at tree size `size`, in as many calls as the page likes (the
 * engine proves each batch of results as it is found): the right-edge folds and the partial
 * right-edge tiles are shared by the calls, so a page computes and reads each of them once.
 */
export class PageProver {
  /** Hash of each right-edge range [end, size) folded so far, by end. */
  private readonly folded = new Map<number, Uint8Array>();
  /** Partial right-edge tiles read so far (their width is this size's). */
  private readonly partial = new Map<number, Uint8Array>();
  private proved = 0;

  constructor(
    private readonly reader: TileReader,
    private readonly size: number,
    private readonly cache: TileNodeCache = proofCacheFor(reader),
  ) {}

  /** Proofs of `indexes`, in order (each equal to inclusionProof's at this size). */
  async prove(indexes: readonly number[]): Promise<Uint8Array[][]> {
    const size = this.size;
    this.proved += indexes.length;
    if (this.proved > MAX_PAGE_PROOFS) throw new MerkleError('LIMIT_EXCEEDED', `${this.proved} proofs asked, limit MAX_PAGE_PROOFS = ${MAX_PAGE_PROOFS}`);
    for (const i of indexes) {
      if (!Number.isSafeInteger(i) || i < 0 || i >= size) throw new MerkleError('BAD_INDEX', `leaf index ${i} is not below tree size ${size}`);
    }
    // The right-edge ranges [end, size) (not complete subtrees) are at most ~log2(size) whatever
    // the page, and nearly every proof has one: each is folded once per page.
    const folded = this.folded;
    const out: Uint8Array[][] = [];
    let start = 0;
    while (start < indexes.length) {
      // A batch: as many results as fit in BATCH_TILES distinct tiles (at least one result).
      const tiles = new Map<number, TileId>();
      let add = new Map<number, TileId>();
      let lastKey = -1;
      const need = (h: number, j: number): void => {
        const L = Math.floor(h / TILE_HEIGHT);
        const t = Math.floor(j / (TILE_WIDTH >> (h - L * TILE_HEIGHT)));
        const key = tileNum(L, t);
        // Consecutive elements mostly share a tile: look the maps up only when the tile changes.
        if (key === lastKey) return;
        lastKey = key;
        if (!tiles.has(key) && !add.has(key)) add.set(key, { level: L, index: t, width: tileWidthAt(size, L, t) });
      };
      const needRight = (end: number): void => {
        if (!folded.has(end)) rightNodes(end, size, need);
      };
      let end = start;
      for (; end < indexes.length; end++) {
        add = new Map();
        lastKey = -1;
        walkProof(indexes[end]!, size, need, needRight);
        if (end > start && tiles.size + add.size > BATCH_TILES) break;
        for (const [key, t] of add) tiles.set(key, t);
      }
      const batch = await loadBatch(this.reader, this.cache, tiles, this.partial);
      const fold = (e: number): Uint8Array => {
        let h = folded.get(e);
        if (h === undefined) {
          // RFC 9162 §2.1.1: MTH of a range folds its complete subtrees right to left.
          const nodes: Uint8Array[] = [];
          rightNodes(e, size, (lh, lj) => nodes.push(batch.node(lh, lj)));
          h = nodes[nodes.length - 1]!;
          for (let k = nodes.length - 2; k >= 0; k--) h = fastNodeHash(nodes[k]!, h);
          folded.set(e, h);
        }
        return h;
      };
      for (let r = start; r < end; r++) {
        // Each proof in one buffer of its own (the caller owns it, never the cache's bytes), its
        // elements views of it: ~20 per result, 20,000 in a page of 1,000.
        let n = 0;
        walkProof(indexes[r]!, size, () => n++, () => n++);
        const buf = new Uint8Array(n * HASH_BYTES);
        let at = 0;
        walkProof(
          indexes[r]!,
          size,
          (h, j) => {
            batch.copy(h, j, buf, at);
            at += HASH_BYTES;
          },
          (e) => {
            buf.set(fold(e), at);
            at += HASH_BYTES;
          },
        );
        const proof: Uint8Array[] = new Array<Uint8Array>(n);
        for (let k = 0; k < n; k++) proof[k] = new Uint8Array(buf.buffer, k * HASH_BYTES, HASH_BYTES);
        out.push(proof);
      }
      start = end;
    }
    return out;
  }
}

/** Proofs of `indexes` in the tree of `size` leaves, in order (each equal to inclusionProof's). */
export async function pageProofs(
  reader: TileReader,
  indexes: readonly number[],
  size: number,
  cache: TileNodeCache = proofCacheFor(reader),
): Promise<Uint8Array[][]> {
  return new PageProver(reader, size, cache).prove(indexes);
}

/** Tiles one warming step proves before yielding. */
const WARM_BATCH = 32;

/**
 * Fills `cache` with the full level-0 tiles of the tree of `size` leaves (and the upper tiles over
 * them), newest first, until the cache is full or every tile is in: what a peer's cache holds
 * after it has answered queries all over the log. A tile not cached costs ~254 SHA-256 on the
 * first page that touches it; warming pays that up front, in batches that yield to the event loop.
 * Returns the number of tiles read (fewer when `signal` is aborted first).
 */
export async function warmProofCache(reader: TileReader, size: number, cache: TileNodeCache = proofCacheFor(reader), signal?: AbortSignal): Promise<number> {
  const fullTiles = Math.floor(size / TILE_WIDTH);
  let read = 0;
  // `signal` is checked before every batch: once it is aborted (the peer stops), no further tile is read.
  for (let t = fullTiles - 1; t >= 0 && cache.stats().entries < cache.capacity() && signal?.aborted !== true; ) {
    // No more tiles than the cache has room for: a bigger batch would evict the newest ones.
    const room = Math.min(WARM_BATCH, cache.capacity() - cache.stats().entries);
    const batch: number[] = [];
    for (; t >= 0 && batch.length < room; t--) if (!cache.has(0, t)) batch.push(t * TILE_WIDTH);
    if (batch.length === 0) continue;
    const before = cache.stats().misses;
    await new PageProver(reader, size, cache).prove(batch);
    read += cache.stats().misses - before;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return read;
}

// A cache, kept across requests, of the node hashes inside FULL hash tiles. A full tile (256 hashes
// at tree level 8·L) never changes once written: the log only appends, so every node below it —
// the tile's own hashes and the 254 interior nodes over them (tile-local levels 1..7) — is fixed
// forever and may be cached with no invalidation. A partial right-edge tile is never cached: its
// width depends on the tree size the proof is for, and it is a few hashes to rehash per page.
//
// One entry per tile, keyed by (tile level, tile index): its 510 node hashes laid out level by
// level (tile-local level j, position p at hash offset 512 − 512/2^j + p), 16,320 bytes. Building
// an entry costs 254 SHA-256; a hit costs no tile read and no hash. Least recently used entries are
// evicted to stay within both bounds (bytes and count).
import { TILE_WIDTH, tileHash } from '../../src/merkle/index.js';
import { nodeHashInto } from './node-hash.js';

const HASH_BYTES = 32;
/** Tile-local levels cached: 0 (the tile's hashes) to 7; level 8 is a hash of the next tile level. */
const LOCAL_LEVELS = 8;
/** Hashes per entry: 256 + 128 + … + 2 = 510. */
export const ENTRY_HASHES = 2 * TILE_WIDTH - 2;
/** Bytes charged per entry: the hashes plus an estimate of the Map/key/object overhead. */
export const ENTRY_BYTES = ENTRY_HASHES * HASH_BYTES + 128;

/**
 * 64 MiB holds every full level-0 tile of a log of ~1M entries (3,906 tiles of 16 KiB); a bigger
 * log keeps its most recently used tiles. Misses cost ~254 SHA-256 each, which the bench found to
 * be most of a selective query's time when the cache held only half the log.
 */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_ENTRIES = 4096;

export interface TileCacheLimits {
  /** Most bytes the cache holds (entries × ENTRY_BYTES); 0 disables caching. */
  maxBytes?: number;
  /** Most tiles the cache holds. */
  maxEntries?: number;
}

export interface TileCacheStats {
  /** Full tiles found in the cache (one per distinct tile per page). */
  hits: number;
  /** Full tiles read and hashed because they were not cached. */
  misses: number;
  /** Partial right-edge tiles used (never cached). */
  partial: number;
  evictions: number;
  entries: number;
  bytes: number;
  maxBytes: number;
  maxEntries: number;
}

/** Hash offset of tile-local level j (0..7) in an entry. */
function levelOffset(j: number): number {
  return 2 * TILE_WIDTH - ((2 * TILE_WIDTH) >> j);
}

/** The 510 node hashes of a full tile's bytes (256 hashes of level 8·L). */
export function buildTileEntry(tile: Uint8Array): Uint8Array {
  if (tile.length !== TILE_WIDTH * HASH_BYTES) throw new RangeError(`a full tile is ${TILE_WIDTH * HASH_BYTES} bytes, got ${tile.length}`);
  const e = new Uint8Array(ENTRY_HASHES * HASH_BYTES);
  e.set(tile, 0);
  for (let j = 1; j < LOCAL_LEVELS; j++) {
    const below = levelOffset(j - 1);
    const at = levelOffset(j);
    for (let p = 0; p < TILE_WIDTH >> j; p++) {
      nodeHashInto(tileHash(e, below + 2 * p), tileHash(e, below + 2 * p + 1), e, (at + p) * HASH_BYTES);
    }
  }
  return e;
}

/** Hash of tile-local node (level j in 0..7, position p) of an entry, as a view into the entry (no copy: callers must copy before handing it out). */
export function entryNodeView(entry: Uint8Array, j: number, p: number): Uint8Array {
  return tileHash(entry, entryNodeIndex(j, p));
}

/** Hash index in an entry of tile-local node (level j in 0..7, position p): its bytes start at 32 times it. */
export function entryNodeIndex(j: number, p: number): number {
  if (j < 0 || j >= LOCAL_LEVELS || p < 0 || p >= TILE_WIDTH >> j) throw new RangeError(`no tile-local node (${j}, ${p})`);
  return levelOffset(j) + p;
}

function limit(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(v)}`);
  return v;
}

export class TileNodeCache {
  readonly maxBytes: number;
  readonly maxEntries: number;
  /** Map iteration order is insertion order: re-inserting on a hit makes the first key the LRU one. */
  private readonly entries = new Map<string, Uint8Array>();
  private counts = { hits: 0, misses: 0, partial: 0, evictions: 0 };

  constructor(limits: TileCacheLimits = {}) {
    this.maxBytes = limit('maxBytes', limits.maxBytes, DEFAULT_MAX_BYTES);
    this.maxEntries = limit('maxEntries', limits.maxEntries, DEFAULT_MAX_ENTRIES);
  }

  /** The entry of full tile (level, index), or undefined; a hit becomes the most recently used. */
  get(level: number, index: number): Uint8Array | undefined {
    const key = `${level}/${index}`;
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  /** Stores the entry of a FULL tile (callers pass only tiles of width 256), evicting LRU entries. */
  put(level: number, index: number, entry: Uint8Array): void {
    if (entry.length !== ENTRY_HASHES * HASH_BYTES) throw new RangeError(`a tile entry is ${ENTRY_HASHES * HASH_BYTES} bytes, got ${entry.length}`);
    const key = `${level}/${index}`;
    this.entries.delete(key);
    if (this.capacity() === 0) return;
    while (this.entries.size >= this.capacity()) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.counts.evictions++;
    }
    this.entries.set(key, entry);
  }

  /** Most entries both bounds allow. */
  capacity(): number {
    return Math.min(this.maxEntries, Math.floor(this.maxBytes / ENTRY_BYTES));
  }

  has(level: number, index: number): boolean {
    return this.entries.has(`${level}/${index}`);
  }

  record(kind: 'hits' | 'misses' | 'partial', n = 1): void {
    this.counts[kind] += n;
  }

  stats(): TileCacheStats {
    return { ...this.counts, entries: this.entries.size, bytes: this.entries.size * ENTRY_BYTES, maxBytes: this.maxBytes, maxEntries: this.maxEntries };
  }

  clear(): void {
    this.entries.clear();
  }
}

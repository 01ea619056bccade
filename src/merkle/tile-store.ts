// Tile-shaped, asynchronous storage seam. node/ backs TileReader with LevelDB; tests and light
// use take MemoryTileStore. Only hashes at tree levels 0, 8, 16, … are stored (as tiles); hashes
// at the levels in between are recomputed from the tile below (hash-reader.ts), like Go sumdb
// tlog's TileHashReader.

import { MerkleError } from './errors.js';
import { HASH_BYTES } from './hash.js';
import type { StoredHash } from './compact-range.js';
import {
  TILE_HEIGHT,
  TILE_WIDTH,
  type TileId,
  buildTileBytes,
  checkTileId,
  tileBytesWidth,
  tileHash,
  tilesTouchedByAppend,
  truncateTile,
} from './tiles.js';

/**
 * Reads hash tiles. Contract: resolves to one Uint8Array per requested tile, in order, holding
 * that tile's hashes — at least `width` of them; an implementation may return a wider version of
 * the same (level, index) (hashes in a tile never change, so a narrower tile is a prefix).
 * Rejects with MerkleError('TILE_MISSING') when a tile is not available.
 */
export interface TileReader {
  readTiles(tiles: readonly TileId[]): Promise<Uint8Array[]>;
}

/** Most tiles one readTiles batch from this module asks for (a proof needs at most ~2·7). */
export const MAX_TILES_PER_READ = 4096;

function tileKey(level: number, index: number): string {
  return `${level}/${index}`;
}

/**
 * Calls reader.readTiles and checks the result against the contract, so a faulty or hostile
 * reader yields a MerkleError rather than wrong hashes or a TypeError later.
 */
export async function readTilesChecked(reader: TileReader, tiles: readonly TileId[]): Promise<Uint8Array[]> {
  if (tiles.length > MAX_TILES_PER_READ) {
    throw new MerkleError('LIMIT_EXCEEDED', `read of ${tiles.length} tiles exceeds MAX_TILES_PER_READ = ${MAX_TILES_PER_READ}`);
  }
  if (tiles.length === 0) return [];
  const got = await reader.readTiles(tiles);
  if (!Array.isArray(got) || got.length !== tiles.length) {
    throw new MerkleError('READER_CONTRACT', `readTiles(${tiles.length} tiles) returned ${Array.isArray(got) ? got.length : typeof got} results`);
  }
  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i]!;
    const w = tileBytesWidth(got[i]!);
    if (w < t.width) {
      throw new MerkleError('BAD_TILE', `tile ${t.level}/${t.index} has width ${w}, narrower than the requested ${t.width}`);
    }
  }
  return got;
}

/** In-memory tile store keeping the widest version written of each tile. */
export class MemoryTileStore implements TileReader {
  private readonly tiles = new Map<string, Uint8Array>();

  /** Stores `bytes` as tile `tile`; bytes must be exactly tile.width hashes. Never narrows a tile. */
  write(tile: TileId, bytes: Uint8Array): void {
    checkTileId(tile);
    const w = tileBytesWidth(bytes);
    if (w !== tile.width) throw new MerkleError('BAD_TILE', `tile ${tile.level}/${tile.index}: ${w} hashes written as width ${tile.width}`);
    const key = tileKey(tile.level, tile.index);
    const old = this.tiles.get(key);
    if (old !== undefined && old.length > bytes.length) return;
    this.tiles.set(key, bytes.slice());
  }

  /** A copy of the stored tile cut to `width` (as a server would serve it), or undefined. */
  get(tile: TileId): Uint8Array | undefined {
    checkTileId(tile);
    const b = this.tiles.get(tileKey(tile.level, tile.index));
    if (b === undefined || b.length < tile.width * HASH_BYTES) return undefined;
    return truncateTile(b, tile.width).slice();
  }

  get tileCount(): number {
    return this.tiles.size;
  }

  /** Returns the stored arrays themselves (no copy, for proof speed): callers must not modify them. */
  async readTiles(tiles: readonly TileId[]): Promise<Uint8Array[]> {
    return tiles.map((t) => {
      const b = this.tiles.get(tileKey(t.level, t.index));
      if (b === undefined || b.length < t.width * HASH_BYTES) {
        throw new MerkleError('TILE_MISSING', `tile ${t.level}/${t.index} width ${t.width} is not stored`);
      }
      return b;
    });
  }
}

/**
 * A bounded LRU cache in front of another TileReader. A cached tile answers any request no wider
 * than it; wider requests go to the inner reader and replace the entry.
 */
export class TileCache implements TileReader {
  private readonly entries = new Map<string, Uint8Array>();
  private readonly inner: TileReader;
  readonly maxTiles: number;
  hits = 0;
  misses = 0;

  constructor(inner: TileReader, opts: { maxTiles?: number } = {}) {
    const maxTiles = opts.maxTiles ?? 1024;
    if (!Number.isInteger(maxTiles) || maxTiles < 1 || maxTiles > 1 << 20) {
      throw new MerkleError('LIMIT_EXCEEDED', `TileCache maxTiles must be an integer in 1..${1 << 20}, got ${String(maxTiles)}`);
    }
    this.inner = inner;
    this.maxTiles = maxTiles;
  }

  async readTiles(tiles: readonly TileId[]): Promise<Uint8Array[]> {
    const out: (Uint8Array | undefined)[] = new Array(tiles.length);
    const missIdx: number[] = [];
    for (let i = 0; i < tiles.length; i++) {
      const t = tiles[i]!;
      const key = tileKey(t.level, t.index);
      const b = this.entries.get(key);
      if (b !== undefined && b.length >= t.width * HASH_BYTES) {
        // Refresh recency: Map iteration order is insertion order.
        this.entries.delete(key);
        this.entries.set(key, b);
        out[i] = b;
        this.hits++;
      } else {
        missIdx.push(i);
      }
    }
    if (missIdx.length > 0) {
      this.misses += missIdx.length;
      const want = missIdx.map((i) => tiles[i]!);
      const got = await readTilesChecked(this.inner, want);
      for (let j = 0; j < missIdx.length; j++) {
        const t = want[j]!;
        const b = got[j]!;
        out[missIdx[j]!] = b;
        const key = tileKey(t.level, t.index);
        this.entries.delete(key);
        this.entries.set(key, b);
        while (this.entries.size > this.maxTiles) {
          const oldest = this.entries.keys().next().value as string;
          this.entries.delete(oldest);
        }
      }
    }
    return out as Uint8Array[];
  }
}

/**
 * The tile writes that persist an append from oldSize to newSize: for every tile in
 * tilesTouchedByAppend(oldSize, newSize), its full new bytes. Hashes already present before the
 * append come from the old partial tile (read through `reader`); new ones come from `stored`
 * (the StoredHash list of appendLeafHashes, only levels 0, 8, 16, … are used).
 */
export async function tileWritesForAppend(
  reader: TileReader,
  oldSize: number,
  newSize: number,
  stored: readonly StoredHash[],
): Promise<{ tile: TileId; bytes: Uint8Array }[]> {
  const touched = tilesTouchedByAppend(oldSize, newSize);
  // New hashes at tree level 8·L have the contiguous indexes ⌊old/256^L⌋ … ⌊new/256^L⌋ − 1;
  // place the stored ones by offset (an array per tile level, not a map: appends can be large).
  const newByLevel: (Uint8Array | undefined)[][] = [];
  const oldCount = (L: number): number => Math.floor(oldSize / TILE_WIDTH ** L);
  const newCount = (L: number): number => Math.floor(newSize / TILE_WIDTH ** L);
  for (const s of stored) {
    if (s.level % TILE_HEIGHT !== 0) continue;
    const L = s.level / TILE_HEIGHT;
    const off = s.index - oldCount(L);
    if (off < 0 || s.index >= newCount(L)) continue; // not part of this append
    (newByLevel[L] ??= [])[off] = s.hash;
  }
  // The old partial tiles that the append extends (at most one per level).
  const extend = touched.filter((t) => oldCount(t.level) > t.index * TILE_WIDTH);
  const oldTiles = await readTilesChecked(
    reader,
    extend.map((t) => ({ level: t.level, index: t.index, width: oldCount(t.level) - t.index * TILE_WIDTH })),
  );
  const oldByKey = new Map<string, Uint8Array>();
  extend.forEach((t, i) => oldByKey.set(tileKey(t.level, t.index), oldTiles[i]!));

  const writes: { tile: TileId; bytes: Uint8Array }[] = [];
  for (const t of touched) {
    const before = oldCount(t.level);
    const old = oldByKey.get(tileKey(t.level, t.index));
    const fresh = newByLevel[t.level] ?? [];
    const hashes: Uint8Array[] = [];
    for (let i = 0; i < t.width; i++) {
      const pos = t.index * TILE_WIDTH + i;
      const h = pos < before ? (old === undefined ? undefined : tileHash(old, i)) : fresh[pos - before];
      if (h === undefined) {
        throw new MerkleError('MISSING_STORED_HASH', `append ${oldSize}→${newSize}: no hash for level ${t.level * TILE_HEIGHT} index ${pos}`);
      }
      hashes.push(h);
    }
    writes.push({ tile: t, bytes: buildTileBytes(hashes) });
  }
  return writes;
}

// Inclusion proofs for one page of results, all at the pinned tree size, with the store's own
// proof code (src/merkle inclusionProof). The proofs of one page share most of their tiles (the
// right edge of the tree and neighbouring leaves), so the tiles are read once per page through a
// small cache instead of once per proof.
import { inclusionProof, type TileId, type TileReader } from '../../src/merkle/index.js';

/** Most tiles one page keeps cached (each ≤ 8 KiB). */
const PAGE_TILE_CACHE_MAX = 4096;

class PageTileCache implements TileReader {
  private readonly tiles = new Map<string, Uint8Array>();
  constructor(private readonly inner: TileReader) {}

  async readTiles(ids: readonly TileId[]): Promise<Uint8Array[]> {
    const key = (t: TileId): string => `${t.level}/${t.index}/${t.width}`;
    const missing = ids.filter((t) => !this.tiles.has(key(t)));
    if (missing.length > 0) {
      const got = await this.inner.readTiles(missing);
      missing.forEach((t, i) => {
        if (this.tiles.size < PAGE_TILE_CACHE_MAX) this.tiles.set(key(t), got[i]!);
      });
      if (this.tiles.size >= PAGE_TILE_CACHE_MAX) {
        // Cache full (never for a page of ≤ 1,000 proofs in practice): answer this read directly.
        const byKey = new Map(missing.map((t, i) => [key(t), got[i]!] as const));
        return ids.map((t) => this.tiles.get(key(t)) ?? byKey.get(key(t))!);
      }
    }
    return ids.map((t) => this.tiles.get(key(t))!);
  }
}

/** Proofs of `indexes` in the tree of `size` leaves, in order, read sequentially through one tile cache. */
export async function pageProofs(reader: TileReader, indexes: readonly number[], size: number): Promise<Uint8Array[][]> {
  const cache = new PageTileCache(reader);
  const out: Uint8Array[][] = [];
  for (const i of indexes) out.push(await inclusionProof(cache, i, size));
  return out;
}

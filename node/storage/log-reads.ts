// Readers of the decided log: blocks with their commit certificates, leaves, tlog-tiles hash
// tiles and C2SP entry bundles. Leaves, tiles and bundles are answered only up to the cached
// head's tree size, so a reader never sees a half-applied block.

import { HASH_BYTES, MerkleError, TILE_WIDTH, encodeEntryBundle, tileWidthAt, type TileId, type TileReader } from '../../src/merkle/index.js';
import { StoreError } from './errors.js';
import { P_BLOCK, P_CERT, P_LEAF, tileKey, u64Key } from './keys.js';
import { bad, checkLimit, checkNat, checkTileIdArg } from './store-args.js';
import type { BlockRecord } from './store-api.js';
import { plain, readStoredTiles, type StoreContext } from './store-context.js';

export class LogReads implements TileReader {
  constructor(private readonly ctx: StoreContext) {}

  async getBlock(height: number): Promise<Uint8Array | undefined> {
    this.ctx.assertOpen();
    checkNat('height', height);
    const v = await this.ctx.db.get(u64Key(P_BLOCK, height));
    return v === undefined ? undefined : plain(v);
  }

  async getCertificate(height: number): Promise<Uint8Array | undefined> {
    this.ctx.assertOpen();
    checkNat('height', height);
    const v = await this.ctx.db.get(u64Key(P_CERT, height));
    return v === undefined ? undefined : plain(v);
  }

  async getBlocks(fromHeight: number, maxCount: number, maxBytes: number): Promise<BlockRecord[]> {
    this.ctx.assertOpen();
    checkNat('fromHeight', fromHeight);
    checkLimit('maxCount', maxCount, this.ctx.limits.maxGetBlocksCount, 'maxGetBlocksCount');
    checkLimit('maxBytes', maxBytes, this.ctx.limits.maxGetBlocksBytes, 'maxGetBlocksBytes');
    const head = this.ctx.head();
    if (head === null || fromHeight > head.height || maxCount === 0) return [];
    const out: BlockRecord[] = [];
    let bytes = 0;
    // Read in small chunks so a large maxCount never loads more than maxBytes plus one chunk.
    const CHUNK = 64;
    let h = fromHeight;
    while (out.length < maxCount && h <= head.height) {
      const take = Math.min(CHUNK, maxCount - out.length, head.height - h + 1);
      const heights = Array.from({ length: take }, (_, i) => h + i);
      const [blocks, certs] = await Promise.all([
        this.ctx.db.getMany(heights.map((x) => u64Key(P_BLOCK, x))),
        this.ctx.db.getMany(heights.map((x) => u64Key(P_CERT, x))),
      ]);
      for (let i = 0; i < take; i++) {
        const block = blocks[i];
        const cert = certs[i];
        if (block === undefined || cert === undefined) {
          throw new StoreError('CORRUPT_RECORD', `block or certificate at height ${heights[i]} is missing below the head (${head.height})`);
        }
        const size = block.length + cert.length;
        if (bytes + size > maxBytes) {
          if (out.length === 0) {
            throw new StoreError('LIMIT_EXCEEDED', `block ${heights[i]} with its certificate is ${size} bytes, more than maxBytes = ${maxBytes}`);
          }
          return out;
        }
        bytes += size;
        out.push({ height: heights[i]!, block: plain(block), certificate: plain(cert) });
      }
      h += take;
    }
    return out;
  }

  async getLeaf(index: number): Promise<Uint8Array | undefined> {
    this.ctx.assertOpen();
    checkNat('index', index);
    const size = this.ctx.head()?.treeSize ?? 0;
    if (index >= size) return undefined;
    const v = await this.ctx.db.get(u64Key(P_LEAF, index));
    return v === undefined ? undefined : plain(v);
  }

  async getLeaves(start: number, count: number): Promise<Uint8Array[]> {
    this.ctx.assertOpen();
    checkNat('start', start);
    checkLimit('count', count, this.ctx.limits.maxGetLeaves, 'maxGetLeaves');
    const size = this.ctx.head()?.treeSize ?? 0;
    const end = Math.min(size, start + count);
    if (start >= end) return [];
    const values = await this.ctx.db.values({ gte: u64Key(P_LEAF, start), lt: u64Key(P_LEAF, end), limit: end - start }).all();
    if (values.length !== end - start) {
      throw new StoreError('CORRUPT_RECORD', `leaves ${start}..${end - 1}: ${end - start - values.length} missing below the tree size ${size}`);
    }
    return values.map(plain);
  }

  async readTiles(tiles: readonly TileId[]): Promise<Uint8Array[]> {
    this.ctx.assertOpen();
    if (!Array.isArray(tiles)) bad('readTiles needs an array of tile ids');
    checkLimit('tile count', tiles.length, this.ctx.limits.maxReadTiles, 'maxReadTiles');
    for (const t of tiles) checkTileIdArg(t);
    if (tiles.length === 0) return [];
    const values = await readStoredTiles(this.ctx, tiles, true);
    return tiles.map((t, i) => {
      const v = values[i];
      if (v === undefined || v.length < t.width * HASH_BYTES) {
        // The merkle TileReader contract: a missing tile is MerkleError('TILE_MISSING').
        throw new MerkleError('TILE_MISSING', `tile ${t.level}/${t.index} width ${t.width} is not in ${this.ctx.dir}`);
      }
      return plain(v).subarray(0, t.width * HASH_BYTES);
    });
  }

  async readTile(level: number, index: number, width: number = TILE_WIDTH): Promise<Uint8Array | undefined> {
    this.ctx.assertOpen();
    checkTileIdArg({ level, index, width });
    const size = this.ctx.head()?.treeSize ?? 0;
    if (tileWidthAt(size, level, index) < width) return undefined;
    const v = await this.ctx.db.get(tileKey(level, index));
    if (v === undefined || v.length < width * HASH_BYTES) {
      throw new StoreError('CORRUPT_RECORD', `tile ${level}/${index} should hold ${width} hashes at tree size ${size} but is not stored`);
    }
    return plain(v).subarray(0, width * HASH_BYTES);
  }

  async readEntryBundle(n: number, width: number = TILE_WIDTH): Promise<Uint8Array | undefined> {
    this.ctx.assertOpen();
    checkTileIdArg({ level: 0, index: n, width });
    const size = this.ctx.head()?.treeSize ?? 0;
    if (tileWidthAt(size, 0, n) < width) return undefined;
    // C2SP tlog-tiles "Log entries": each entry is a big-endian uint16 length followed by the entry.
    return encodeEntryBundle(await this.getLeaves(n * TILE_WIDTH, width));
  }

}

// Reads the hash of any complete node of a past tree from tiles (design after Go sumdb/tlog
// TileHashReader): node (level h, index n) covers leaves [n·2^h, (n+1)·2^h). With tile height 8,
// let L = ⌊h/8⌋ and k = h mod 8: the node is the root of the perfect subtree over the 2^k
// consecutive level-8L hashes n·2^k … (n+1)·2^k − 1, which all sit in tile (L, ⌊n·2^k/256⌋)
// because 2^k divides 256. k = 0 reads the hash directly; k > 0 rehashes ≤ 2^k − 1 nodes.

import { MerkleError } from './errors.js';
import { nodeHash } from './hash.js';
import { MAX_NODE_LEVEL, checkIndex, checkSize } from './math.js';
import { type TileReader, readTilesChecked } from './tile-store.js';
import { TILE_HEIGHT, TILE_WIDTH, type TileId, tileHash, tileWidthAt } from './tiles.js';

export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** Most nodes one readNodeHashes call accepts (proofs need ≤ ~2·53). */
export const MAX_NODES_PER_READ = 4096;

/** The tile holding node (level, index)'s level-8L descendants, with its width in the tree of `size`. */
function tileForNode(size: number, node: NodeId): { tile: TileId; offset: number; count: number } {
  const L = Math.floor(node.level / TILE_HEIGHT);
  const k = node.level - L * TILE_HEIGHT;
  const count = 2 ** k;
  const first = node.index * count;
  const index = Math.floor(first / TILE_WIDTH);
  const width = tileWidthAt(size, L, index);
  return { tile: { level: L, index, width }, offset: first - index * TILE_WIDTH, count };
}

/** Root of the perfect subtree over `count` (a power of two) consecutive hashes of a tile. */
function perfectRoot(tile: Uint8Array, offset: number, count: number): Uint8Array {
  if (count === 1) return tileHash(tile, offset).slice();
  let layer: Uint8Array[] = [];
  for (let i = 0; i < count; i += 2) layer.push(nodeHash(tileHash(tile, offset + i), tileHash(tile, offset + i + 1)));
  while (layer.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < layer.length; i += 2) next.push(nodeHash(layer[i]!, layer[i + 1]!));
    layer = next;
  }
  return layer[0]!;
}

/**
 * Hashes of complete nodes of the tree of `size` leaves, read from tiles in one readTiles call.
 * Every node must be complete at that size: (index+1)·2^level ≤ size.
 */
export async function readNodeHashes(reader: TileReader, size: number, nodes: readonly NodeId[]): Promise<Uint8Array[]> {
  checkSize('size', size);
  if (nodes.length > MAX_NODES_PER_READ) {
    throw new MerkleError('LIMIT_EXCEEDED', `read of ${nodes.length} nodes exceeds MAX_NODES_PER_READ = ${MAX_NODES_PER_READ}`);
  }
  const plans = nodes.map((node) => {
    if (!Number.isInteger(node.level) || node.level < 0 || node.level > MAX_NODE_LEVEL) {
      throw new MerkleError('BAD_LEVEL', `node level must be an integer in 0..${MAX_NODE_LEVEL}, got ${String(node.level)}`);
    }
    checkIndex('node index', node.index);
    const span = 2 ** node.level;
    if ((node.index + 1) * span > size) {
      throw new MerkleError('BAD_INDEX', `node (level ${node.level}, index ${node.index}) is not complete in a tree of size ${size}`);
    }
    return tileForNode(size, node);
  });
  // One read per distinct tile (widths agree: all are the tile's width at `size`).
  const keys = new Map<string, number>();
  const tiles: TileId[] = [];
  for (const p of plans) {
    const key = `${p.tile.level}/${p.tile.index}`;
    if (!keys.has(key)) {
      keys.set(key, tiles.length);
      tiles.push(p.tile);
    }
  }
  const bytes = await readTilesChecked(reader, tiles);
  return plans.map((p) => perfectRoot(bytes[keys.get(`${p.tile.level}/${p.tile.index}`)!]!, p.offset, p.count));
}

/** Hash of one complete node (level, index) of the tree of `size` leaves. */
export async function hashAt(reader: TileReader, size: number, level: number, index: number): Promise<Uint8Array> {
  const [h] = await readNodeHashes(reader, size, [{ level, index }]);
  return h!;
}

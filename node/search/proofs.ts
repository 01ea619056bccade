// Inclusion proofs for one page of results, all at the pinned tree size. Each proof element is the
// hash of a range that splits into perfect subtrees (the RFC 9162 PATH recursion, inclusionPlan of
// src/merkle); a perfect subtree of level h is read from the tile of level ⌊h/8⌋ and, when h is not
// a multiple of 8, rehashed from its 2^(h mod 8) stored descendants. Done proof by proof, that
// rehashing is most of the cost of a page (hundreds of SHA-256 per proof). Here the node hashes
// are memoized for the page: proofs of nearby results share everything but their lowest levels,
// and proofs of any results share the upper levels, so a page costs a fraction of the sum of its
// proofs. Tiles are read once per page. The output is exactly src/merkle inclusionProof's.
import { MerkleError, TILE_HEIGHT, TILE_WIDTH, nodeHash, tileHash, tileWidthAt, type TileId, type TileReader } from '../../src/merkle/index.js';
import { inclusionPlan } from '../../src/merkle/proof.js';
import { readTilesChecked } from '../../src/merkle/tile-store.js';

/** Most tiles one page keeps (each ≤ 8 KiB): beyond it the cache is emptied (slower, still exact). */
const PAGE_TILES_MAX = 4096;
/** Most node hashes one page memoizes (~100 bytes each with the map's overhead). */
const PAGE_NODES_MAX = 262_144;

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

class PageHasher {
  private readonly tiles = new Map<string, Uint8Array>();
  private readonly nodes = new Map<string, Uint8Array>();
  constructor(
    private readonly reader: TileReader,
    private readonly size: number,
  ) {}

  private tileOf(n: NodeId): { level: number; index: number } {
    const L = Math.floor(n.level / TILE_HEIGHT);
    const first = n.index * 2 ** (n.level - L * TILE_HEIGHT);
    return { level: L, index: Math.floor(first / TILE_WIDTH) };
  }

  /** Reads (once) every tile the nodes need. */
  async load(nodes: readonly NodeId[]): Promise<void> {
    const need: TileId[] = [];
    const seen = new Set<string>();
    for (const n of nodes) {
      const t = this.tileOf(n);
      const key = `${t.level}/${t.index}`;
      if (this.tiles.has(key) || seen.has(key)) continue;
      seen.add(key);
      need.push({ level: t.level, index: t.index, width: tileWidthAt(this.size, t.level, t.index) });
    }
    if (need.length === 0) return;
    if (this.tiles.size + need.length > PAGE_TILES_MAX) this.tiles.clear();
    const got = await readTilesChecked(this.reader, need);
    need.forEach((t, i) => this.tiles.set(`${t.level}/${t.index}`, got[i]!));
  }

  /** Hash of a complete node whose tile is loaded. */
  node(level: number, index: number): Uint8Array {
    const L = Math.floor(level / TILE_HEIGHT);
    if (level === L * TILE_HEIGHT) {
      const tile = this.tiles.get(`${L}/${Math.floor(index / TILE_WIDTH)}`);
      if (tile === undefined) throw new MerkleError('TILE_MISSING', `tile of node (${level}, ${index}) not loaded`);
      return tileHash(tile, index % TILE_WIDTH).slice();
    }
    const key = `${level}/${index}`;
    const hit = this.nodes.get(key);
    if (hit !== undefined) return hit;
    // Both children lie in the same tile band (level - 1 ≥ 8·L).
    const h = nodeHash(this.node(level - 1, 2 * index), this.node(level - 1, 2 * index + 1));
    if (this.nodes.size < PAGE_NODES_MAX) this.nodes.set(key, h);
    return h;
  }
}

/** Proofs of `indexes` in the tree of `size` leaves, in order (each equal to inclusionProof's). */
export async function pageProofs(reader: TileReader, indexes: readonly number[], size: number): Promise<Uint8Array[][]> {
  const hasher = new PageHasher(reader, size);
  const out: Uint8Array[][] = [];
  for (const i of indexes) {
    if (!Number.isSafeInteger(i) || i < 0 || i >= size) throw new MerkleError('BAD_INDEX', `leaf index ${i} is not below tree size ${size}`);
    const ranges = inclusionPlan(i, size).map(([lo, hi]) => perfectNodes(lo, hi));
    await hasher.load(ranges.flat());
    out.push(
      ranges.map((nodes) => {
        // RFC 9162 §2.1.1: MTH of a range folds its perfect subtrees right to left.
        let h = hasher.node(nodes[nodes.length - 1]!.level, nodes[nodes.length - 1]!.index);
        for (let k = nodes.length - 2; k >= 0; k--) h = nodeHash(hasher.node(nodes[k]!.level, nodes[k]!.index), h);
        return h;
      }),
    );
  }
  return out;
}

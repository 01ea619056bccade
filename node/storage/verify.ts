// Full audit of a store's Merkle log: recompute every hash from the stored leaves and compare it
// with what the store serves. Used by `cairn audit`-style checks and the corrupted-store tests.
//
// Streaming, bounded memory: leaves are read `chunkLeaves` at a time; the running state is an
// RFC 9162 §2.1.1 compact range (one perfect-subtree root per set bit of the size, ≤ 53 hashes)
// plus one cached tile per tile level. Each leaf hash SHA-256(0x00 ‖ entry) is compared with the
// level-0 tile, and every node completed at tree levels 8, 16, … (the hashes C2SP tlog-tiles
// stores) with the tile of its level, so the FIRST inconsistency is reported where it is, not
// only as a wrong root at the end.

import { bytesEqual } from '../../src/encoding/bytes.js';
import {
  HASH_BYTES,
  TILE_HEIGHT,
  TILE_WIDTH,
  encodeState,
  leafHash,
  nodeHash,
  rootOf,
  tileWidthAt,
} from '../../src/merkle/index.js';
import { StoreError } from './errors.js';
import type { Store } from './store.js';

export type VerifyStoreCode =
  /** A leaf below the tree size is not stored. */
  | 'LEAF_MISSING'
  /** A leaf does not hash to the level-0 tile hash at its index (the leaf bytes were altered). */
  | 'LEAF_HASH_MISMATCH'
  /** The leaf-hash index does not map a leaf's hash to that leaf (or an earlier identical one). */
  | 'LEAF_INDEX_MISMATCH'
  /** A tile the tree size implies is not stored. */
  | 'TILE_MISSING'
  /** A stored tile hash differs from the hash recomputed from the leaves (the tile was altered). */
  | 'TILE_MISMATCH'
  /** The recomputed compact range differs from the head's log state. */
  | 'STATE_MISMATCH'
  /** The recomputed root differs from the head root. */
  | 'ROOT_MISMATCH'
  /** Reading the store failed for another reason. */
  | 'READ_FAILED'
  /** opts.signal was aborted. */
  | 'ABORTED';

export type VerifyStoreResult =
  | { ok: true; treeSize: number; root: Uint8Array; leavesChecked: number }
  | {
      ok: false;
      code: VerifyStoreCode;
      /** The first inconsistent leaf index (for a tile hash: the first leaf under that node); null when no leaf is to blame. */
      index: number | null;
      message: string;
      /** For tile failures: the tile level and tile index. */
      tile?: { level: number; index: number };
    };

export interface VerifyStoreOptions {
  /** Leaves read per step (default 1024; each leaf ≤ 64 KiB so a step holds ≤ 64 MiB). */
  chunkLeaves?: number;
  /** Also check the leaf-hash index for every leaf (default true). */
  checkLeafHashIndex?: boolean;
  signal?: AbortSignal;
  /** Called after every chunk with the number of leaves checked so far. */
  onProgress?: (checked: number, treeSize: number) => void;
}

/** Most leaves per chunk, so memory stays bounded whatever the caller passes. */
export const MAX_VERIFY_CHUNK_LEAVES = 16_384;

type Failure = Extract<VerifyStoreResult, { ok: false }>;

class VerifyFailed extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

function fail(code: VerifyStoreCode, index: number | null, message: string, tile?: { level: number; index: number }): never {
  throw new VerifyFailed(tile === undefined ? { ok: false, code, index, message } : { ok: false, code, index, message, tile });
}

export async function verifyStore(store: Store, opts: VerifyStoreOptions = {}): Promise<VerifyStoreResult> {
  const chunk = opts.chunkLeaves ?? 1024;
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > MAX_VERIFY_CHUNK_LEAVES) {
    throw new StoreError('BAD_ARGUMENT', `chunkLeaves must be an integer in 1..${MAX_VERIFY_CHUNK_LEAVES} (MAX_VERIFY_CHUNK_LEAVES), got ${String(chunk)}`);
  }
  const checkIndex = opts.checkLeafHashIndex ?? true;
  const head = store.head();
  if (head === null) return { ok: true, treeSize: 0, root: rootOf({ size: 0, roots: [] }), leavesChecked: 0 };
  const size = head.treeSize;

  // One cached tile per tile level: nodes complete left to right, so each level's tile only moves forward.
  const tiles = new Map<number, { index: number; bytes: Uint8Array }>();
  const tileHashAt = async (level: number, pos: number, firstLeaf: number): Promise<Uint8Array> => {
    const index = Math.floor(pos / TILE_WIDTH);
    let t = tiles.get(level);
    if (t === undefined || t.index !== index) {
      let bytes: Uint8Array | undefined;
      try {
        bytes = await store.readTile(level, index, tileWidthAt(size, level, index));
      } catch (e) {
        fail('TILE_MISSING', firstLeaf, `tile ${level}/${index} cannot be read at tree size ${size}: ${(e as Error).message}`, { level, index });
      }
      if (bytes === undefined) fail('TILE_MISSING', firstLeaf, `tile ${level}/${index} is not served at tree size ${size}`, { level, index });
      t = { index, bytes };
      tiles.set(level, t);
    }
    const off = (pos % TILE_WIDTH) * HASH_BYTES;
    return t.bytes.subarray(off, off + HASH_BYTES);
  };

  const roots: Uint8Array[] = [];
  try {
    for (let start = 0; start < size; start += chunk) {
      if (opts.signal?.aborted) fail('ABORTED', start, `verification aborted after ${start} of ${size} leaves`);
      const count = Math.min(chunk, size - start);
      const leaves = await readLeaves(store, start, count);
      const hashes = leaves.map((l) => leafHash(l));
      const indexes = checkIndex ? await Promise.all(hashes.map((h) => store.indexOfLeafHash(h))) : null;
      for (let k = 0; k < count; k++) {
        const i = start + k;
        let h = hashes[k]!;
        const stored = await tileHashAt(0, i, i);
        if (!bytesEqual(h, stored)) {
          // Blame the tile rather than the leaf when the leaf-hash index (written in the same
          // batch as the leaf) agrees with the leaf.
          const idx = indexes?.[k] ?? (await store.indexOfLeafHash(h));
          if (idx === i) fail('TILE_MISMATCH', i, `level-0 tile hash ${i} differs from the hash of leaf ${i}, which the leaf-hash index confirms`, { level: 0, index: Math.floor(i / TILE_WIDTH) });
          fail('LEAF_HASH_MISMATCH', i, `leaf ${i} does not hash to the stored level-0 tile hash (the leaf bytes differ from what was logged)`);
        }
        if (indexes !== null) {
          const idx = indexes[k];
          if (idx === undefined || idx > i) {
            fail('LEAF_INDEX_MISMATCH', i, `leaf-hash index maps the hash of leaf ${i} to ${idx === undefined ? 'nothing' : idx}`);
          }
        }
        // Append leaf i to the compact range (Go tlog StoredHashes): each trailing 1-bit of i
        // completes one node, the merge of the root to its left with the new subtree.
        let n = i;
        let level = 0;
        while (n % 2 === 1) {
          h = nodeHash(roots.pop()!, h);
          level++;
          n = (n - 1) / 2;
          if (level % TILE_HEIGHT === 0) {
            const tileLevel = level / TILE_HEIGHT;
            const firstLeaf = n * 2 ** level;
            const want = await tileHashAt(tileLevel, n, firstLeaf);
            if (!bytesEqual(h, want)) {
              fail('TILE_MISMATCH', firstLeaf, `tile ${tileLevel}/${Math.floor(n / TILE_WIDTH)} hash ${n % TILE_WIDTH} (level ${level} node ${n}, leaves ${firstLeaf}..${firstLeaf + 2 ** level - 1}) differs from the hash recomputed from the leaves`, {
                level: tileLevel,
                index: Math.floor(n / TILE_WIDTH),
              });
            }
          }
        }
        roots.push(h);
      }
      opts.onProgress?.(start + count, size);
    }
  } catch (e) {
    if (e instanceof VerifyFailed) return e.failure;
    return { ok: false, code: 'READ_FAILED', index: null, message: `reading the store failed: ${(e as Error).message}` };
  }
  const state = { size, roots };
  if (!bytesEqual(encodeState(state), head.logState)) {
    return { ok: false, code: 'STATE_MISMATCH', index: null, message: `the compact range recomputed from ${size} leaves differs from the head's log state` };
  }
  const root = rootOf(state);
  if (!bytesEqual(root, head.root)) {
    return { ok: false, code: 'ROOT_MISMATCH', index: null, message: `the root recomputed from ${size} leaves differs from the head root` };
  }
  return { ok: true, treeSize: size, root, leavesChecked: size };
}

/** Leaves [start, start+count); on a gap, names the first missing index. */
async function readLeaves(store: Store, start: number, count: number): Promise<Uint8Array[]> {
  try {
    return await store.getLeaves(start, count);
  } catch (e) {
    if (!(e instanceof StoreError) || e.code !== 'CORRUPT_RECORD') throw e;
    for (let i = start; i < start + count; i++) {
      if ((await store.getLeaf(i)) === undefined) fail('LEAF_MISSING', i, `leaf ${i} is missing below the tree size`);
    }
    throw e;
  }
}

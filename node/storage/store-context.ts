// What the store's modules share of one open store: the LevelDB handle, its directory and limits,
// the open check and the cached head; plus the small helpers every module uses on LevelDB values.

import type { ClassicLevel } from 'classic-level';
import type { StoreHead } from './codec.js';
import { tileKey } from './keys.js';
import type { StoreLimits } from './store-limits.js';

export type Db = ClassicLevel<Uint8Array, Uint8Array>;

/** One open store as its modules see it (store.ts owns the state and hands this out). */
export interface StoreContext {
  readonly db: Db;
  readonly dir: string;
  readonly limits: Readonly<StoreLimits>;
  /** Throws StoreError('CLOSED') once the store is closed. */
  assertOpen(): void;
  /** The state after the last applied block (cached in memory), or null for an empty store. */
  head(): StoreHead | null;
  /**
   * The partial (right-edge) tile of each level as applied blocks wrote it ('level/index' → bytes,
   * at most one per level), updated once a block's batch is durable. The next blocks extend these,
   * so the ledger's tile computation and applyBlock's check read them from here instead of LevelDB
   * (a read round trip per block on the catch-up path). Tiles only grow and only applyBlock writes
   * them, so a copy is never stale; a tile that becomes full leaves the map.
   */
  readonly edgeTiles: Map<string, Uint8Array>;
}

/** LevelDB hands back Buffers; callers get plain Uint8Array views (no copy). */
export function plain(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * The stored bytes of each tile (undefined when absent): the right-edge tiles from memory
 * (StoreContext.edgeTiles), the rest in one LevelDB getMany. `copyEdge` copies the memory ones, for
 * callers that hand the bytes out (a caller's write must not reach the map).
 */
export async function readStoredTiles(ctx: StoreContext, tiles: readonly { level: number; index: number }[], copyEdge: boolean): Promise<(Uint8Array | undefined)[]> {
  const values = tiles.map((t) => {
    const e = ctx.edgeTiles.get(`${t.level}/${t.index}`);
    return copyEdge ? e?.slice() : e;
  });
  const unread = tiles.flatMap((t, i) => (values[i] === undefined ? [i] : []));
  if (unread.length > 0) {
    const got = await ctx.db.getMany(unread.map((i) => tileKey(tiles[i]!.level, tiles[i]!.index)));
    unread.forEach((i, k) => (values[i] = got[k]));
  }
  return values;
}

/** Runs async critical sections one at a time, in call order. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

// What the search modules may do with the peer's LevelDB, handed out by Store.searchAccess():
// range reads anywhere in the search key range, leaf reads, and — under the store's block lock, so
// never interleaved with applyBlock — synced writes and clears confined to the search key range.
import type { ClassicLevel } from 'classic-level';
import { durableBatch, durablePut, type BatchOp } from '../storage/durable.js';
import { P_LEAF, u64Key } from '../storage/keys.js';
import { StoreError } from '../storage/errors.js';
import { SEARCH_GTE, SEARCH_LT, STATE_KEY, encodeU64 } from './keys.js';
import type { SearchIndexer } from './index-writer.js';

type Db = ClassicLevel<Uint8Array, Uint8Array>;

/** Leaf reads of at least twice this many keys are split into parallel getMany calls ... */
const LEAF_READ_SPLIT_MIN = 32;
/** ... at most this many (libuv's default thread pool has 4 threads). */
const LEAF_READ_SPLIT_MAX = 4;

export interface SearchRange {
  gte: Uint8Array;
  lt: Uint8Array;
  reverse?: boolean;
  limit: number;
}

export interface SearchWriter {
  /** Tree size of the store's head now (stable while the lock is held). */
  treeSize(): number;
  /** One synced batch; every key must lie in the search key range. */
  write(ops: BatchOp[]): Promise<void>;
  /** Marks the indexes empty (synced) and deletes every search record. */
  clearAll(): Promise<void>;
  /** Records (synced, with `ops`) that leaves [0, n) are indexed. */
  writeIndexed(n: number, ops: BatchOp[]): Promise<void>;
}

export interface SearchAccess {
  /** Leaves [0, indexedSize) are indexed; 0 when indexing is off. */
  indexedSize(): number;
  /** False when the store was opened with searchIndexes: false. */
  readonly enabled: boolean;
  treeSize(): number;
  records(r: SearchRange): Promise<{ key: Uint8Array; value: Uint8Array }[]>;
  get(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
  /**
   * For each range, its first record (undefined when the range is empty): one iterator seeking
   * through the ranges in key order, a range whose answer the previous seek found already costing
   * no read (the posting group holding each of many leaves). At most SEEKS_MAX ranges.
   */
  firstRecords(ranges: readonly { gte: Uint8Array; lt: Uint8Array }[]): Promise<({ key: Uint8Array; value: Uint8Array } | undefined)[]>;
  /** Leaves by index (undefined when not stored). */
  leaves(indexes: readonly number[]): Promise<(Uint8Array | undefined)[]>;
  /** Runs fn under the store's block lock (no block is applied meanwhile). */
  exclusive<T>(fn: (w: SearchWriter) => Promise<T>): Promise<T>;
}

/** Most ranges one firstRecords call takes. */
export const SEEKS_MAX = 100_000;

function plain(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function inRange(k: Uint8Array): boolean {
  return k.length >= 2 && k[0] === SEARCH_GTE[0];
}

function checkRange(r: SearchRange): void {
  if (!inRange(r.gte) || r.lt.length < 1 || r.lt[0]! > SEARCH_LT[0]! || (r.lt[0] === SEARCH_LT[0] && r.lt.length > 1)) {
    throw new StoreError('BAD_ARGUMENT', 'search reads must stay in the search key range');
  }
  if (!Number.isSafeInteger(r.limit) || r.limit < 1 || r.limit > 100_000) throw new StoreError('BAD_ARGUMENT', `search read limit ${r.limit} is not in 1..100000`);
}

export function makeSearchAccess(
  db: Db,
  runLocked: <T>(fn: () => Promise<T>) => Promise<T>,
  treeSize: () => number,
  indexer: SearchIndexer | null,
): SearchAccess {
  const writer: SearchWriter = {
    treeSize,
    async write(ops) {
      for (const op of ops) if (!inRange(op.key) || op.key[1] === STATE_KEY[1]) throw new StoreError('BAD_ARGUMENT', 'search writes must stay in the search key range (state via writeIndexed)');
      indexer?.forgetRecent();
      if (ops.length > 0) await durableBatch(db, ops);
    },
    async clearAll() {
      await durablePut(db, STATE_KEY, encodeU64(0));
      indexer?.setIndexedSize(0);
      // Not synced itself: the synced state record above already says "nothing indexed", so a
      // clear lost in a crash leaves stale records that the next reindex rewrites or verify reports.
      await db.clear({ gte: Uint8Array.of(SEARCH_GTE[0]!, STATE_KEY[1]! + 1), lt: SEARCH_LT });
    },
    async writeIndexed(n, ops) {
      for (const op of ops) if (!inRange(op.key)) throw new StoreError('BAD_ARGUMENT', 'search writes must stay in the search key range');
      indexer?.forgetRecent();
      await durableBatch(db, [...ops, { type: 'put', key: STATE_KEY, value: encodeU64(n) }]);
      indexer?.setIndexedSize(n);
    },
  };
  return {
    enabled: indexer !== null,
    indexedSize: () => indexer?.indexedSize ?? 0,
    treeSize,
    async records(r) {
      checkRange(r);
      const out = await db.iterator({ gte: r.gte, lt: r.lt, reverse: r.reverse === true, limit: r.limit }).all();
      return out.map(([key, value]) => ({ key: plain(key), value: plain(value) }));
    },
    async get(keys) {
      for (const k of keys) if (!inRange(k)) throw new StoreError('BAD_ARGUMENT', 'search reads must stay in the search key range');
      return (await db.getMany(keys)).map((v) => (v === undefined ? undefined : plain(v)));
    },
    async firstRecords(ranges) {
      if (ranges.length > SEEKS_MAX) throw new StoreError('BAD_ARGUMENT', `${ranges.length} ranges in one read: at most ${SEEKS_MAX}`);
      for (const r of ranges) checkRange({ gte: r.gte, lt: r.lt, limit: 1 });
      const out: ({ key: Uint8Array; value: Uint8Array } | undefined)[] = new Array(ranges.length).fill(undefined);
      if (ranges.length === 0) return out;
      const order = ranges.map((_, i) => i).sort((x, y) => Buffer.compare(ranges[x]!.gte, ranges[y]!.gte));
      const it = db.iterator({ gte: SEARCH_GTE, lt: SEARCH_LT });
      try {
        // The first record at or after the previous target; still the answer for a later target
        // at or before it (nothing lies between the two targets and it).
        let found: { key: Uint8Array; value: Uint8Array } | undefined;
        let sought = false;
        for (const i of order) {
          const r = ranges[i]!;
          if (!sought || (found !== undefined && Buffer.compare(found.key, r.gte) < 0)) {
            it.seek(r.gte as Uint8Array<ArrayBuffer>);
            const e = await it.next();
            found = e === undefined ? undefined : { key: plain(e[0]), value: plain(e[1]) };
            sought = true;
          }
          if (found !== undefined && Buffer.compare(found.key, r.lt) < 0) out[i] = found;
        }
      } finally {
        await it.close();
      }
      return out;
    },
    async leaves(indexes) {
      const size = treeSize();
      const ask = indexes.map((i) => u64Key(P_LEAF, i));
      // One getMany runs its gets one after another on one worker thread; the leaves of a page lie
      // far apart (one block read each), so a large ask is split into a few getMany running on
      // several threads at once. Leaves below the tree size never change: no common snapshot needed.
      const parts = Math.min(LEAF_READ_SPLIT_MAX, Math.floor(ask.length / LEAF_READ_SPLIT_MIN));
      let got: (Uint8Array | undefined)[];
      if (parts < 2) got = await db.getMany(ask);
      else {
        const per = Math.ceil(ask.length / parts);
        const chunks = await Promise.all(Array.from({ length: parts }, (_, c) => db.getMany(ask.slice(c * per, (c + 1) * per))));
        got = chunks.flat();
      }
      return got.map((v, k) => (v === undefined || indexes[k]! >= size ? undefined : plain(v)));
    },
    exclusive: (fn) => runLocked(() => fn(writer)),
  };
}

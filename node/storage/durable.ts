// The one place where the store makes a LevelDB write durable. A synced write (`sync: true`)
// makes LevelDB fsync its log before the write resolves, so the record survives a power loss or
// an OS crash, not only a killed process (after SIGKILL the kernel still holds unsynced pages and
// writes them out; a test that kills the process cannot tell a synced write from an unsynced one).
//
// Every write that must survive a power loss calls durablePut / durableBatch (or writeBatch with
// `durable: true`), so `git grep -n 'durable\(Put\|Batch\)\|writeBatch' node/` lists them all, and
// test/unit/storage-durable.test.ts checks that no `sync: true` or direct db.put / db.batch is
// left elsewhere in node/storage.
import type { ClassicLevel } from 'classic-level';

/** One operation of a batch, keys and values as bytes (the store's encodings). */
export type BatchOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

/** The part of a classic-level database the helpers use. */
export type WritableDb = Pick<ClassicLevel<Uint8Array, Uint8Array>, 'put' | 'batch'>;

/** Puts one record; resolves only once LevelDB has synced it to disk. */
export async function durablePut(db: WritableDb, key: Uint8Array, value: Uint8Array): Promise<void> {
  await db.put(key, value, { sync: true });
}

/** Writes `ops` atomically; resolves only once LevelDB has synced them to disk. */
export async function durableBatch(db: WritableDb, ops: BatchOp[]): Promise<void> {
  await batchWrite(db, ops, true);
}

/**
 * One atomic LevelDB write batch, built with the chained batch API (db.batch() then put/del and
 * write). abstract-level's array form (db.batch(ops, options)) copies every operation with the
 * options spread into it and re-checks it in JavaScript: measured on this store's keys, about
 * 20 µs of CPU per operation against 7 µs chained. A block writes 10-20 operations per entry
 * (leaf, indexes, tiles, search postings) on the event loop consensus shares, so the array form
 * alone cost a peer ~0.15 ms per entry. Same LevelDB WriteBatch either way: all or nothing.
 */
async function batchWrite(db: WritableDb, ops: BatchOp[], sync: boolean): Promise<void> {
  if (ops.length === 0) return;
  const b = db.batch();
  addOps(b, ops);
  await b.write({ sync });
}

/** Arrays of at most this many bytes live inside V8's heap (V8's typed-array on-heap limit). */
const ON_HEAP_BYTES_MAX = 64;

/**
 * Hands `ops` to a native batch. A small Uint8Array (a key, an index's u64 value) lives inside
 * V8's heap, and handing it to native code makes V8 move it out first: a new ArrayBuffer and
 * backing store per key, which the garbage collector then has to track and free. A block puts
 * about five such arrays per entry. They are copied into one off-heap buffer per call instead
 * (LevelDB copies each key and value into its own batch at put; the buffer is never written
 * again, so whatever still refers to a copy reads the same bytes).
 */
function addOps(b: ReturnType<WritableDb['batch']>, ops: readonly BatchOp[]): void {
  let small = 0;
  for (const op of ops) {
    if (op.key.length <= ON_HEAP_BYTES_MAX) small += op.key.length;
    if (op.type === 'put' && op.value.length <= ON_HEAP_BYTES_MAX) small += op.value.length;
  }
  // Larger than the on-heap limit itself, so this buffer is off-heap.
  const slab = new Uint8Array(Math.max(small, ON_HEAP_BYTES_MAX + 1));
  let at = 0;
  const offHeap = (x: Uint8Array): Uint8Array => {
    if (x.length > ON_HEAP_BYTES_MAX) return x;
    const y = slab.subarray(at, at + x.length);
    y.set(x);
    at += x.length;
    return y;
  };
  for (const op of ops) {
    if (op.type === 'put') b.put(offHeap(op.key), offHeap(op.value));
    else b.del(offHeap(op.key));
  }
}

/**
 * One synced batch filled in parts (the blocks of a catch-up range): add() each part once it is
 * checked, write() once — one fsync, all or nothing — or close() to drop it unwritten. Each add
 * hands the operations to LevelDB's native batch at once, so their JS objects die young instead
 * of piling up for the whole range (garbage collection was a fifth of a range's CPU).
 */
export function durableBatchWriter(db: WritableDb): { add(ops: readonly BatchOp[]): void; write(): Promise<void>; close(): Promise<void> } {
  const b = db.batch();
  return {
    add(ops) {
      addOps(b, ops);
    },
    write: () => b.write({ sync: true }),
    close: () => b.close(),
  };
}

/**
 * Writes `ops` atomically, synced when `durable` (as durableBatch). `durable: false` is for
 * records whose loss in a crash is harmless by design (the caller says why at its call site).
 */
export async function writeBatch(db: WritableDb, ops: BatchOp[], opts: { durable: boolean }): Promise<void> {
  if (opts.durable) await durableBatch(db, ops);
  else await batchWrite(db, ops, false);
}

// The search indexes are derived data: reindex rebuilds them from the stored log, verifyIndexes
// checks them against it (run by `cairn verify store`). Both work in bounded batches.
import type { Store } from '../storage/store.js';
import { indexOpsForLeaves, postingBasesOf, fieldsOfLeaf, timeSummariesOf } from './index-writer.js';
import { K_STATE, K_TIME, SEARCH_LT, TIME_CHUNK, chunkOfTimeKey, decodeTimeSummary, indexOfPostingKey, postingKey, timeKey, P_SEARCH } from './keys.js';
import { SearchError } from './errors.js';
import { toHex } from '../../src/encoding/bytes.js';

/** Leaves per reindex / verify batch (a multiple of TIME_CHUNK, so time summaries are whole). */
export const INDEX_BATCH_LEAVES = 4096;
/** Keys per range read when scanning the index records. */
const SCAN_KEYS = 10_000;

export interface IndexProgress {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Deletes every search record and rebuilds them from leaf 0 to the head, one synced batch of
 * INDEX_BATCH_LEAVES leaves at a time under the store's block lock (blocks applied meanwhile are
 * indexed as they come; the indexed size catches up with the head at the end). Queries answer
 * INDEX_INCOMPLETE until it has.
 */
export async function reindex(store: Store, opts: IndexProgress = {}): Promise<{ indexed: number }> {
  const access = store.searchAccess();
  if (!access.enabled) throw new SearchError('INDEX_INCOMPLETE', 'this store was opened without search indexes');
  await access.exclusive((w) => w.clearAll());
  let pos = 0;
  for (;;) {
    if (opts.signal?.aborted === true) throw new SearchError('BAD_ARGUMENT', `reindex aborted after ${pos} leaves (indexes stay incomplete; run it again)`);
    const done = await access.exclusive(async (w) => {
      const size = w.treeSize();
      if (pos >= size) {
        await w.writeIndexed(size, []);
        pos = size;
        return true;
      }
      const end = Math.min(pos + INDEX_BATCH_LEAVES, size);
      const leaves = await store.getLeaves(pos, end - pos);
      const ops = await indexOpsForLeaves((keys) => access.get(keys), pos, leaves);
      await w.writeIndexed(end, ops);
      opts.onProgress?.(end, size);
      pos = end;
      return false;
    });
    if (done) return { indexed: pos };
  }
}

export type VerifyIndexesCode = 'INDEX_INCOMPLETE' | 'INDEX_MISSING' | 'INDEX_EXTRA' | 'TIME_SUMMARY_MISMATCH';

export type VerifyIndexesResult =
  | { ok: true; treeSize: number; postings: number; summaries: number }
  | { ok: false; code: VerifyIndexesCode; index: number | null; message: string };

/**
 * Checks that the search records are exactly those the stored leaves imply: every expected posting
 * and time summary is present (first missing one named), and no other record exists (first extra
 * one named). O(size) reads; memory bounded by one batch.
 */
export async function verifyIndexes(store: Store, opts: IndexProgress = {}): Promise<VerifyIndexesResult> {
  const access = store.searchAccess();
  const size = access.treeSize();
  const indexed = access.indexedSize();
  if (indexed !== size) {
    return { ok: false, code: 'INDEX_INCOMPLETE', index: Math.min(indexed, size), message: `indexes cover ${indexed} of ${size} leaves: run \`cairn reindex\`` };
  }
  // Pass 1: everything the leaves imply is stored.
  let expected = 0;
  let summaries = 0;
  for (let a = 0; a < size; a += INDEX_BATCH_LEAVES) {
    if (opts.signal?.aborted === true) throw new SearchError('BAD_ARGUMENT', 'verification aborted');
    const b = Math.min(a + INDEX_BATCH_LEAVES, size);
    const leaves = await store.getLeaves(a, b - a);
    const fields = leaves.map(fieldsOfLeaf);
    const keys: Uint8Array[] = [];
    const owner: number[] = [];
    fields.forEach((f, i) => {
      for (const base of postingBasesOf(f)) {
        keys.push(postingKey(base, a + i));
        owner.push(a + i);
      }
    });
    const got = await access.get(keys);
    for (let k = 0; k < keys.length; k++) {
      if (got[k] === undefined) return { ok: false, code: 'INDEX_MISSING', index: owner[k]!, message: `index record ${toHex(keys[k]!.subarray(0, 24))}… of leaf ${owner[k]} is missing` };
    }
    expected += keys.length;
    const want = timeSummariesOf(a, fields);
    const firstChunk = a / TIME_CHUNK;
    const chunks = Math.ceil((b - a) / TIME_CHUNK);
    const stored = await access.get(Array.from({ length: chunks }, (_, c) => timeKey(firstChunk + c)));
    for (let c = 0; c < chunks; c++) {
      const w = want.get(firstChunk + c);
      const s = stored[c] === undefined ? null : decodeTimeSummary(stored[c]!);
      if ((w === undefined) !== (stored[c] === undefined) || (w !== undefined && (s === null || s.min !== w.min || s.max !== w.max))) {
        return { ok: false, code: 'TIME_SUMMARY_MISMATCH', index: (firstChunk + c) * TIME_CHUNK, message: `time summary of leaves ${(firstChunk + c) * TIME_CHUNK}..${(firstChunk + c + 1) * TIME_CHUNK - 1} differs from their entry times` };
      }
      if (w !== undefined) summaries++;
    }
    opts.onProgress?.(b, size);
  }
  // Pass 2: count what is stored; anything beyond the tree or malformed is extra.
  let postings = 0;
  let storedSummaries = 0;
  const extra = async (): Promise<VerifyIndexesResult | null> => {
    // Pass 3 (only when the counts differ): find the first stored posting its leaf does not imply.
    let gte: Uint8Array = Uint8Array.of(P_SEARCH, K_STATE + 1);
    for (;;) {
      const keys = await access.keys({ gte, lt: SEARCH_LT, limit: SCAN_KEYS });
      for (const k of keys) {
        if (k[1] === K_TIME) continue;
        const i = indexOfPostingKey(k);
        const leaf = i < size ? (await access.leaves([i]))[0] : undefined;
        const implied = leaf === undefined ? [] : postingBasesOf(fieldsOfLeaf(leaf)).map((b) => toHex(postingKey(b, i)));
        if (!implied.includes(toHex(k))) return { ok: false, code: 'INDEX_EXTRA', index: i, message: `index record ${toHex(k.subarray(0, 24))}… names leaf ${i}, which does not imply it` };
      }
      if (keys.length < SCAN_KEYS) return null;
      gte = successor(keys[keys.length - 1]!);
    }
  };
  let gte: Uint8Array = Uint8Array.of(P_SEARCH, K_STATE + 1);
  for (;;) {
    const keys = await access.keys({ gte, lt: SEARCH_LT, limit: SCAN_KEYS });
    for (const k of keys) {
      if (k[1] === K_TIME) {
        const c = k.length === 10 ? chunkOfTimeKey(k) : Number.MAX_SAFE_INTEGER;
        if (c * TIME_CHUNK >= size) return { ok: false, code: 'TIME_SUMMARY_MISMATCH', index: null, message: `a time summary exists for chunk ${c}, beyond the tree size ${size}` };
        storedSummaries++;
        continue;
      }
      if (k.length < 12) return { ok: false, code: 'INDEX_EXTRA', index: null, message: `malformed index record ${toHex(k)}` };
      const i = indexOfPostingKey(k);
      if (i >= size) return { ok: false, code: 'INDEX_EXTRA', index: i, message: `index record names leaf ${i}, beyond the tree size ${size}` };
      postings++;
    }
    if (keys.length < SCAN_KEYS) break;
    gte = successor(keys[keys.length - 1]!);
  }
  if (storedSummaries !== summaries) return { ok: false, code: 'TIME_SUMMARY_MISMATCH', index: null, message: `${storedSummaries} time summaries stored, ${summaries} implied by the leaves` };
  if (postings !== expected) {
    const found = await extra();
    return found ?? { ok: false, code: 'INDEX_EXTRA', index: null, message: `${postings} index records stored, ${expected} implied by the leaves` };
  }
  return { ok: true, treeSize: size, postings, summaries };
}

/** The smallest key greater than k (k ‖ 0x00). */
function successor(k: Uint8Array): Uint8Array {
  const out = new Uint8Array(k.length + 1);
  out.set(k, 0);
  return out;
}

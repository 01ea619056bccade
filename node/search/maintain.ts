// The search indexes are derived data: reindex rebuilds them from the stored log, verifyIndexes
// checks them against it (run by `cairn verify store`). Both work in bounded batches.
import type { Store } from '../storage/store.js';
import { indexOpsForLeaves, postingBasesOf, fieldsOfLeaf, timeSummariesOf } from './index-writer.js';
import { K_STATE, K_TIME, SEARCH_LT, TIME_CHUNK, baseOfPostingKey, chunkOfTimeKey, decodeGroup, decodeTimeSummary, indexOfPostingKey, postingEnd, postingKey, timeKey, P_SEARCH } from './keys.js';
import { SearchError } from './errors.js';
import { SEEKS_MAX } from './db.js';
import { toHex } from '../../src/encoding/bytes.js';

/** Leaves per reindex / verify batch (a multiple of TIME_CHUNK, so time summaries are whole). */
export const INDEX_BATCH_LEAVES = 4096;
/** Records per range read when scanning the index records (a posting group is at most a few KiB). */
const SCAN_RECORDS = 512;

export interface IndexProgress {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Deletes every search record and rebuilds them from leaf 0, one synced batch of
 * INDEX_BATCH_LEAVES leaves at a time under the store's block lock. Blocks applied after the clear
 * are indexed by the store as they come, so the rebuild stops at the tree size of the clear (a
 * leaf indexed twice would be in two posting groups); the indexed size then moves to the head.
 * Queries answer INDEX_INCOMPLETE until it has.
 */
export async function reindex(store: Store, opts: IndexProgress = {}): Promise<{ indexed: number }> {
  const access = store.searchAccess();
  if (!access.enabled) throw new SearchError('INDEX_INCOMPLETE', 'this store was opened without search indexes');
  const cleared = await access.exclusive(async (w) => {
    await w.clearAll();
    return w.treeSize();
  });
  let pos = 0;
  for (;;) {
    if (opts.signal?.aborted === true) throw new SearchError('BAD_ARGUMENT', `reindex aborted after ${pos} leaves (indexes stay incomplete; run it again)`);
    const done = await access.exclusive(async (w) => {
      const size = w.treeSize();
      if (pos >= cleared) {
        await w.writeIndexed(size, []);
        pos = size;
        return true;
      }
      const end = Math.min(pos + INDEX_BATCH_LEAVES, cleared);
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
 * one named). Posting groups may be cut anywhere (a block, a catch-up batch, a reindex batch), so
 * what is checked is the postings they hold: every posting the leaves imply is in the group a
 * lookup finds, no group is malformed, overlaps another of its value or names a leaf beyond the
 * tree, and there are as many postings as implied. O(size) reads; memory bounded by one batch.
 */
export async function verifyIndexes(store: Store, opts: IndexProgress = {}): Promise<VerifyIndexesResult> {
  const access = store.searchAccess();
  const size = access.treeSize();
  const indexed = access.indexedSize();
  if (indexed !== size) {
    return { ok: false, code: 'INDEX_INCOMPLETE', index: Math.min(indexed, size), message: `indexes cover ${indexed} of ${size} leaves: run \`cairn reindex\`` };
  }
  const scan = (): Promise<Scanned> => scanRecords(access, size);
  // The first stored posting its leaf does not imply (only read when something is wrong).
  const extra = async (): Promise<VerifyIndexesResult | null> => {
    let gte: Uint8Array = Uint8Array.of(P_SEARCH, K_STATE + 1);
    for (;;) {
      const recs = await access.records({ gte, lt: SEARCH_LT, limit: SCAN_RECORDS });
      for (const { key, value } of recs) {
        if (key[1] === K_TIME || key.length < 12) continue;
        const base = toHex(baseOfPostingKey(key));
        for (const i of (decodeGroup(indexOfPostingKey(key), value) ?? []).reverse()) {
          const leaf = i < size ? (await access.leaves([i]))[0] : undefined;
          const implied = leaf === undefined ? [] : postingBasesOf(fieldsOfLeaf(leaf)).map(toHex);
          if (!implied.includes(base)) return { ok: false, code: 'INDEX_EXTRA', index: i, message: `index record ${toHex(key.subarray(0, 24))}… names leaf ${i}, which does not imply it` };
        }
      }
      if (recs.length < SCAN_RECORDS) return null;
      gte = successor(recs[recs.length - 1]!.key);
    }
  };
  // A lookup that misses may be shadowed by an extra group: the stored records are checked first.
  const explainMissing = async (missing: VerifyIndexesResult): Promise<VerifyIndexesResult> => {
    const s = await scan();
    if ('ok' in s) return s;
    return s.overlap === null ? missing : ((await extra()) ?? s.overlap);
  };
  // Pass 1: everything the leaves imply is stored.
  let expected = 0;
  let summaries = 0;
  for (let a = 0; a < size; a += INDEX_BATCH_LEAVES) {
    if (opts.signal?.aborted === true) throw new SearchError('BAD_ARGUMENT', 'verification aborted');
    const b = Math.min(a + INDEX_BATCH_LEAVES, size);
    const leaves = await store.getLeaves(a, b - a);
    const fields = leaves.map(fieldsOfLeaf);
    const ranges: { gte: Uint8Array; lt: Uint8Array }[] = [];
    const owner: number[] = [];
    fields.forEach((f, i) => {
      for (const base of postingBasesOf(f)) {
        ranges.push({ gte: postingKey(base, a + i), lt: postingEnd(base) });
        owner.push(a + i);
      }
    });
    // A batch implies ~9 postings per leaf, more for actions with many dots: one read per SEEKS_MAX.
    const got: Awaited<ReturnType<typeof access.firstRecords>> = [];
    for (let k = 0; k < ranges.length; k += SEEKS_MAX) got.push(...(await access.firstRecords(ranges.slice(k, k + SEEKS_MAX))));
    const groups = new Map<Uint8Array, Set<number>>();
    for (let k = 0; k < ranges.length; k++) {
      const rec = got[k];
      let g = rec === undefined ? undefined : groups.get(rec.key);
      if (rec !== undefined && g === undefined) {
        g = new Set(decodeGroup(indexOfPostingKey(rec.key), rec.value) ?? []);
        groups.set(rec.key, g);
      }
      if (g === undefined || !g.has(owner[k]!)) {
        return explainMissing({ ok: false, code: 'INDEX_MISSING', index: owner[k]!, message: `index record ${toHex(ranges[k]!.gte.subarray(0, 24))}… of leaf ${owner[k]} is missing` });
      }
    }
    expected += ranges.length;
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
  // Pass 2: what is stored; anything malformed, beyond the tree, overlapping or counted extra is named.
  const s = await scan();
  if ('ok' in s) return s;
  if (s.summaries !== summaries) return { ok: false, code: 'TIME_SUMMARY_MISMATCH', index: null, message: `${s.summaries} time summaries stored, ${summaries} implied by the leaves` };
  if (s.postings !== expected || s.overlap !== null) {
    const found = await extra();
    return found ?? s.overlap ?? { ok: false, code: 'INDEX_EXTRA', index: null, message: `${s.postings} index records stored, ${expected} implied by the leaves` };
  }
  return { ok: true, treeSize: size, postings: s.postings, summaries };
}

/** What a scan of the stored records found: a fault that needs no leaf, or the counts. */
type Scanned = (VerifyIndexesResult & { ok: false }) | { postings: number; summaries: number; overlap: (VerifyIndexesResult & { ok: false }) | null };

async function scanRecords(access: ReturnType<Store['searchAccess']>, size: number): Promise<Scanned> {
  let postings = 0;
  let summaries = 0;
  let overlap: (VerifyIndexesResult & { ok: false }) | null = null;
  let prevBase: Uint8Array | null = null;
  let prevLast = -1;
  let gte: Uint8Array = Uint8Array.of(P_SEARCH, K_STATE + 1);
  for (;;) {
    const recs = await access.records({ gte, lt: SEARCH_LT, limit: SCAN_RECORDS });
    for (const { key: k, value } of recs) {
      if (k[1] === K_TIME) {
        const c = k.length === 10 ? chunkOfTimeKey(k) : Number.MAX_SAFE_INTEGER;
        if (c * TIME_CHUNK >= size) return { ok: false, code: 'TIME_SUMMARY_MISMATCH', index: null, message: `a time summary exists for chunk ${c}, beyond the tree size ${size}` };
        summaries++;
        continue;
      }
      if (k.length < 12) return { ok: false, code: 'INDEX_EXTRA', index: null, message: `malformed index record ${toHex(k)}` };
      const last = indexOfPostingKey(k);
      if (last >= size) return { ok: false, code: 'INDEX_EXTRA', index: last, message: `index record names leaf ${last}, beyond the tree size ${size}` };
      const g = decodeGroup(last, value);
      if (g === null) return { ok: false, code: 'INDEX_EXTRA', index: last, message: `index record ${toHex(k.subarray(0, 24))}… is not a posting group` };
      const base = baseOfPostingKey(k);
      const first = g[g.length - 1]!;
      if (overlap === null && prevBase !== null && Buffer.compare(prevBase, base) === 0 && first <= prevLast) {
        overlap = { ok: false, code: 'INDEX_EXTRA', index: first, message: `index record ${toHex(k.subarray(0, 24))}… lists leaf ${first}, inside the previous record of the same value` };
      }
      prevBase = base;
      prevLast = last;
      postings += g.length;
    }
    if (recs.length < SCAN_RECORDS) break;
    gte = successor(recs[recs.length - 1]!.key);
  }
  return { postings, summaries, overlap };
}

/** The smallest key greater than k (k ‖ 0x00). */
function successor(k: Uint8Array): Uint8Array {
  const out = new Uint8Array(k.length + 1);
  out.set(k, 0);
  return out;
}

// Search index records for a run of leaves, as LevelDB batch operations. The store calls
// SearchIndexer.opsForBlock inside applyBlock and writes the returned operations in the SAME synced
// batch as the block's leaves, so the indexes are never ahead of or behind the log; reindex.ts
// uses the same functions to rebuild them from the stored log.
import type { BatchOp } from '../storage/durable.js';
import { actionPrefixes, fieldsOf, parseLeafJson, type SearchFields } from '../../src/search/fields.js';
import {
  K_ACTION,
  K_ACTION_PREFIX,
  K_ACTOR,
  K_CLIENT,
  K_OUTCOME,
  K_RESOURCE,
  K_RID,
  K_RTYPE,
  K_TENANT,
  STATE_KEY,
  TIME_CHUNK,
  decodeTimeSummary,
  encodeTimeSummary,
  encodeU64,
  postingBase,
  postingKey,
  timeKey,
} from './keys.js';
import { readU64 } from '../storage/keys.js';

/** Reads many keys at once (LevelDB getMany). */
export type SearchReader = (keys: Uint8Array[]) => Promise<(Uint8Array | undefined)[]>;

const EMPTY = new Uint8Array(0);

/** The posting key bases (see keys.ts) an entry with these fields is listed under. */
export function postingBasesOf(f: SearchFields | null): Uint8Array[] {
  if (f === null) return [];
  const out: (Uint8Array | null)[] = [];
  if (f.actor !== undefined) out.push(postingBase(K_ACTOR, f.actor));
  if (f.action !== undefined) {
    out.push(postingBase(K_ACTION, f.action));
    for (const p of actionPrefixes(f.action)) out.push(postingBase(K_ACTION_PREFIX, p));
  }
  if (f.resourceType !== undefined) out.push(postingBase(K_RTYPE, f.resourceType));
  if (f.resourceId !== undefined) out.push(postingBase(K_RID, f.resourceId));
  if (f.resourceType !== undefined && f.resourceId !== undefined) out.push(postingBase(K_RESOURCE, f.resourceType, f.resourceId));
  if (f.tenant !== undefined) out.push(postingBase(K_TENANT, f.tenant));
  if (f.outcome !== undefined) out.push(postingBase(K_OUTCOME, f.outcome));
  if (f.client !== undefined) out.push(postingBase(K_CLIENT, f.client));
  return out.filter((b): b is Uint8Array => b !== null);
}

/** Fields of a stored leaf (null for a leaf that is not a JSON object). */
export function fieldsOfLeaf(leaf: Uint8Array): SearchFields | null {
  return fieldsOf(parseLeafJson(leaf));
}

/** Time summaries (min, max entry time) per chunk of the given leaves (chunks without times absent). */
export function timeSummariesOf(firstIndex: number, fields: (SearchFields | null)[]): Map<number, { min: number; max: number }> {
  const out = new Map<number, { min: number; max: number }>();
  fields.forEach((f, i) => {
    const t = f?.timeMs;
    if (t === undefined) return;
    const chunk = Math.floor((firstIndex + i) / TIME_CHUNK);
    const s = out.get(chunk);
    if (s === undefined) out.set(chunk, { min: t, max: t });
    else {
      if (t < s.min) s.min = t;
      if (t > s.max) s.max = t;
    }
  });
  return out;
}

/** Time summaries by chunk, as written (min, max entry time in ms). */
export type TimeSummaries = Map<number, { min: number; max: number }>;

/**
 * Posting puts and time-summary puts for leaves [firstIndex, firstIndex + leaves.length). A chunk
 * that already has a summary (the block continues a chunk) is merged with it: taken from `known`
 * (the summaries the previous block wrote, when the caller keeps them) or read through `read`.
 * `written` receives the summaries this returns puts for.
 */
export async function indexOpsForLeaves(read: SearchReader, firstIndex: number, leaves: readonly Uint8Array[], known?: TimeSummaries, written?: TimeSummaries): Promise<BatchOp[]> {
  const ops: BatchOp[] = [];
  const fields = leaves.map((l) => fieldsOfLeaf(l));
  fields.forEach((f, i) => {
    for (const base of postingBasesOf(f)) ops.push({ type: 'put', key: postingKey(base, firstIndex + i), value: EMPTY });
  });
  const sums = timeSummariesOf(firstIndex, fields);
  if (sums.size > 0) {
    const chunks = [...sums.keys()];
    const unread = chunks.filter((c) => known?.get(c) === undefined);
    const got = unread.length === 0 ? [] : await read(unread.map((c) => timeKey(c)));
    const stored = new Map<number, { min: number; max: number } | null>();
    unread.forEach((c, i) => stored.set(c, got[i] === undefined ? null : decodeTimeSummary(got[i]!)));
    for (const c of chunks) {
      const s = sums.get(c)!;
      const o = known?.get(c) ?? stored.get(c) ?? null;
      const min = o === null ? s.min : Math.min(o.min, s.min);
      const max = o === null ? s.max : Math.max(o.max, s.max);
      written?.set(c, { min, max });
      ops.push({ type: 'put', key: timeKey(c), value: encodeTimeSummary(min, max) });
    }
  }
  return ops;
}

export function decodeIndexedSize(b: Uint8Array | undefined): number {
  if (b === undefined || b.length !== 8) return 0;
  const n = readU64(b, 0);
  return Number.isSafeInteger(n) ? n : 0;
}

/**
 * The store's view of the search indexes: how far they are complete (leaves [0, indexedSize) are
 * indexed) and the operations a block adds. The indexed size only advances when a block starts
 * exactly where it stands, so a store whose indexes were never built (or were cleared) stays
 * "incomplete" until `reindex` catches up; the query engine refuses to answer past it.
 */
export class SearchIndexer {
  /**
   * The time summaries the last committed block wrote: the next block usually continues the same
   * chunk, so it merges with this copy instead of reading the record back (a LevelDB round trip
   * per block on the catch-up path). Forgotten whenever anything else writes search records.
   */
  private recent: TimeSummaries = new Map();

  private constructor(
    private readonly read: SearchReader,
    private size: number,
  ) {}

  static async load(read: SearchReader): Promise<SearchIndexer> {
    const [v] = await read([STATE_KEY]);
    return new SearchIndexer(read, decodeIndexedSize(v));
  }

  get indexedSize(): number {
    return this.size;
  }

  /** Called by reindex (under the store's block lock) after it wrote the state record. */
  setIndexedSize(n: number): void {
    this.size = n;
    this.recent = new Map();
  }

  /** Called before any search write other than a block's (reindex, clear). */
  forgetRecent(): void {
    this.recent = new Map();
  }

  /** Operations to add to the block's batch; call commit() once that batch is written. */
  opsForBlock(firstIndex: number, leaves: readonly Uint8Array[]): Promise<{ ops: BatchOp[]; commit: () => void }> {
    return this.opsForBlocks([{ firstIndex, leaves }]);
  }

  /**
   * The same for consecutive blocks written in ONE batch: a time summary an earlier block of the
   * batch wrote is not in LevelDB yet, so each block merges with every summary written before it
   * in the batch. Call commit() once that batch is written.
   */
  async opsForBlocks(
    blocks: readonly { firstIndex: number; leaves: readonly Uint8Array[] }[],
    // Takes each block's operations as they are made (the store's batch) instead of collecting them.
    sink?: (ops: BatchOp[]) => void,
  ): Promise<{ ops: BatchOp[]; commit: () => void }> {
    const ops: BatchOp[] = [];
    const put = sink ?? ((o: BatchOp[]) => { for (const op of o) ops.push(op); });
    let known: TimeSummaries = this.recent;
    let written: TimeSummaries = new Map();
    let size = this.size;
    for (const b of blocks) {
      if (b !== blocks[0]) known = new Map([...known, ...written]);
      written = new Map();
      put(await indexOpsForLeaves(this.read, b.firstIndex, b.leaves, known, written));
      if (size === b.firstIndex) size = b.firstIndex + b.leaves.length;
    }
    if (size !== this.size) put([{ type: 'put', key: STATE_KEY, value: encodeU64(size) }]);
    return {
      ops,
      commit: () => {
        this.size = size;
        this.recent = written;
      },
    };
  }
}

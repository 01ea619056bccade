// Search index records for a run of leaves, as LevelDB batch operations. The store calls
// SearchIndexer.opsForBlocks inside applyBlock and writes the returned operations in the SAME synced
// batch as the blocks' leaves, so the indexes are never ahead of or behind the log; maintain.ts
// uses the same functions to rebuild them from the stored log. Postings are written as one group
// per value per write (keys.ts), not one record per entry.
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
  GROUP_LEAVES_MAX,
  encodeGroup,
  postingBase,
  postingKey,
  timeKey,
} from './keys.js';
import { readU64 } from '../storage/keys.js';

/** Reads many keys at once (LevelDB getMany). */
export type SearchReader = (keys: Uint8Array[]) => Promise<(Uint8Array | undefined)[]>;

/** Calls `visit(kind, value[, second value])` for every index value an entry with these fields is listed under. */
function visitPostings(f: SearchFields, visit: (kind: number, a: string, b?: string) => void): void {
  if (f.actor !== undefined) visit(K_ACTOR, f.actor);
  if (f.action !== undefined) {
    visit(K_ACTION, f.action);
    for (const p of actionPrefixes(f.action)) visit(K_ACTION_PREFIX, p);
  }
  if (f.resourceType !== undefined) visit(K_RTYPE, f.resourceType);
  if (f.resourceId !== undefined) visit(K_RID, f.resourceId);
  if (f.resourceType !== undefined && f.resourceId !== undefined) visit(K_RESOURCE, f.resourceType, f.resourceId);
  if (f.tenant !== undefined) visit(K_TENANT, f.tenant);
  if (f.outcome !== undefined) visit(K_OUTCOME, f.outcome);
  if (f.client !== undefined) visit(K_CLIENT, f.client);
}

/** The posting key bases (see keys.ts) an entry with these fields is listed under. */
export function postingBasesOf(f: SearchFields | null): Uint8Array[] {
  if (f === null) return [];
  const out: Uint8Array[] = [];
  visitPostings(f, (kind, a, b) => {
    const base = b === undefined ? postingBase(kind, a) : postingBase(kind, a, b);
    if (base !== null) out.push(base);
  });
  return out;
}

/**
 * The posting groups of leaves [firstIndex, firstIndex + fields.length): one put per index value
 * (per GROUP_LEAVES_MAX leaves of it), keyed by the value's last leaf. The key base is built once
 * per value, not once per entry.
 */
export function postingOpsOf(firstIndex: number, fields: readonly (SearchFields | null)[], ops: BatchOp[]): void {
  const groups = new Map<string, { kind: number; a: string; b: string | undefined; idx: number[] }>();
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (f === null || f === undefined) continue;
    const at = firstIndex + i;
    visitPostings(f, (kind, a, b) => {
      // The kind's number, then the value(s); two-value kinds length-prefix the first.
      const name = b === undefined ? `${kind}:${a}` : `${kind}:${a.length}:${a}${b}`;
      const g = groups.get(name);
      if (g === undefined) groups.set(name, { kind, a, b, idx: [at] });
      else g.idx.push(at);
    });
  }
  for (const g of groups.values()) {
    const base = g.b === undefined ? postingBase(g.kind, g.a) : postingBase(g.kind, g.a, g.b);
    if (base === null) continue;
    for (let s = 0; s < g.idx.length; s += GROUP_LEAVES_MAX) {
      const part = g.idx.length <= GROUP_LEAVES_MAX ? g.idx : g.idx.slice(s, s + GROUP_LEAVES_MAX);
      ops.push({ type: 'put', key: postingKey(base, part[part.length - 1]!), value: encodeGroup(part) });
    }
  }
}

/** Fields of a stored leaf (null for a leaf that is not a JSON object). */
export function fieldsOfLeaf(leaf: Uint8Array): SearchFields | null {
  return fieldsOf(parseLeafJson(leaf));
}

/** Time summaries (min, max entry time) per chunk of the given leaves (chunks without times absent). */
export function timeSummariesOf(firstIndex: number, fields: readonly (SearchFields | null)[]): Map<number, { min: number; max: number }> {
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
 * Posting groups and time-summary puts for leaves [firstIndex, firstIndex + leaves.length). A chunk
 * that already has a summary (the block continues a chunk) is merged with it: taken from `known`
 * (the summaries the previous block wrote, when the caller keeps them) or read through `read`.
 * `written` receives the summaries this returns puts for.
 */
export async function indexOpsForLeaves(read: SearchReader, firstIndex: number, leaves: readonly Uint8Array[], known?: TimeSummaries, written?: TimeSummaries): Promise<BatchOp[]> {
  const ops: BatchOp[] = [];
  const fields = leaves.map((l) => fieldsOfLeaf(l));
  postingOpsOf(firstIndex, fields, ops);
  await timeOpsOf(read, firstIndex, fields, ops, known, written);
  return ops;
}

/** The time-summary puts of leaves from `firstIndex` with these fields (see indexOpsForLeaves). */
async function timeOpsOf(read: SearchReader, firstIndex: number, fields: readonly (SearchFields | null)[], ops: BatchOp[], known?: TimeSummaries, written?: TimeSummaries): Promise<void> {
  const sums = timeSummariesOf(firstIndex, fields);
  if (sums.size === 0) return;
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
   * in the batch; the postings of consecutive blocks go in one group per value. Call commit() once
   * that batch is written.
   */
  async opsForBlocks(
    // `fields`: parallel to `leaves`, each item fieldsOf the parsed leaf (an undefined one is parsed here).
    blocks: readonly { firstIndex: number; leaves: readonly Uint8Array[]; fields?: readonly (SearchFields | null | undefined)[] }[],
    // Takes the operations as they are made (the store's batch) instead of collecting them.
    sink?: (ops: BatchOp[]) => void,
  ): Promise<{ ops: BatchOp[]; commit: () => void }> {
    const ops: BatchOp[] = [];
    const put = sink ?? ((o: BatchOp[]) => { for (const op of o) ops.push(op); });
    let known: TimeSummaries = this.recent;
    let written: TimeSummaries = new Map();
    let size = this.size;
    // A run of consecutive leaves whose postings are grouped together.
    let runStart = -1;
    let run: (SearchFields | null)[] = [];
    const flushRun = (): void => {
      if (run.length === 0) return;
      const p: BatchOp[] = [];
      postingOpsOf(runStart, run, p);
      put(p);
      run = [];
    };
    for (const b of blocks) {
      if (b !== blocks[0]) known = new Map([...known, ...written]);
      written = new Map();
      const fields = b.leaves.map((l, i) => {
        const f = b.fields?.[i];
        return f !== undefined ? f : fieldsOfLeaf(l);
      });
      if (run.length === 0 || runStart + run.length !== b.firstIndex) {
        flushRun();
        runStart = b.firstIndex;
      }
      for (const f of fields) run.push(f);
      const t: BatchOp[] = [];
      await timeOpsOf(this.read, b.firstIndex, fields, t, known, written);
      put(t);
      if (size === b.firstIndex) size = b.firstIndex + b.leaves.length;
    }
    flushRun();
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

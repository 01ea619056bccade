// The search query engine: filters → index streams → candidates re-checked against the filter,
// the caller's scope and an optional extra predicate → one page of results with inclusion proofs,
// pinned to one final checkpoint, with an opaque cursor for the next page. See docs/search.md.
//
// Plan: every equality filter with an index becomes a posting stream (log order); a time range
// adds a time-summary stream that skips chunks of 256 leaves whose entry times cannot match; a
// scope with index restrictions adds one union stream per restricted field. The streams are
// intersected (leapfrog), so the sparsest one drives the walk. Low-selectivity streams (outcome,
// resource type alone) are only used when nothing more selective is given; they are still checked
// on every candidate. Without any index the plan is a bounded scan of log positions.
//
// Bounded work: a page stops after `limit` results, at the end of the range, or when it has spent
// `maxWork` (LevelDB range reads + candidate leaves loaded), whichever comes first; a stopped page
// returns a cursor to continue. There is never an unbounded scan.
import { sha256 } from '../../src/crypto/hash.js';
import { parseCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { parseNote } from '../../src/checkpoint/note.js';
import { utf8 } from '../../src/encoding/bytes.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { canonicalFilter, fieldsOf, matchesFilter, parseLeafJson, type SearchFilter } from '../../src/search/fields.js';
import type { Store } from '../storage/store.js';
import { CursorKeys, loadCursorKeys, type CursorState } from './cursor.js';
import type { SearchAccess } from './db.js';
import { SearchError } from './errors.js';
import { normalizeFilter } from './filter.js';
import { PageProver } from './proofs.js';
import { K_ACTION, K_ACTION_PREFIX, K_ACTOR, K_CLIENT, K_OUTCOME, K_RESOURCE, K_RID, K_RTYPE, K_TENANT, postingBase } from './keys.js';
import { PostingStream, RangeStream, TimeStream, UnionStream, intersect, type PositionStream, type Work } from './streams.js';

export const SEARCH_LIMIT_MAX = 1000;
export const SEARCH_LIMIT_DEFAULT = 100;
/** Default work budget of one page: LevelDB range reads plus candidate leaves loaded. */
export const SEARCH_WORK_DEFAULT = 10_000;
/** Values one scope restriction may list per field (each is one stream). */
export const SCOPE_RESTRICT_VALUES_MAX = 64;
/** Candidate leaves loaded per LevelDB multi-get (more, up to CANDIDATE_BATCH_MAX, when the page still needs more results). */
const CANDIDATE_BATCH = 64;
const CANDIDATE_BATCH_MAX = 256;

/** The parsed entry of each result's leaf bytes, for callers that need the object (resource history). */
export const parsedResults = new WeakMap<Uint8Array, AuditEntry>();
/**
 * A filter stream this many times denser than the sparsest one is checked per candidate instead of
 * walked: its read-ahead of 256 postings would then cover fewer than ~256/8 = 32 candidates of the
 * sparse stream, so seeking it would cost more reads than one point lookup per candidate batch.
 */
const DENSE_FACTOR = 8;

export type RestrictField = 'actor' | 'tenant' | 'client' | 'resourceType' | 'outcome';

/**
 * The caller's read scope (from access control). `predicate` decides; `restrict`, when given, lists
 * for some fields the values the scope allows, and MUST be implied by the predicate (every entry
 * the predicate accepts has one of those values). The engine then only ever examines entries
 * within the restriction, so neither page boundaries nor work reveal anything about entries of
 * other tenants/clients/... `key` identifies the scope (principal + policy) and is bound into cursors.
 */
export interface SearchScope {
  key: string;
  predicate: (entry: AuditEntry) => boolean;
  restrict?: Partial<Record<RestrictField, readonly string[]>>;
}

/** A further predicate (e.g. a filter-language expression); `key` is its text, bound into cursors. */
export interface ExtraFilter {
  key: string;
  predicate: (entry: AuditEntry) => boolean;
}

export interface SearchOptions {
  order?: 'oldest' | 'newest';
  limit?: number;
  cursor?: string;
  scope?: SearchScope;
  extra?: ExtraFilter;
  /** Work budget of this page (default SEARCH_WORK_DEFAULT). */
  maxWork?: number;
}

export interface SearchResult {
  index: number;
  /** The leaf bytes as stored (JCS of the signed entry). */
  entry: Uint8Array;
  /** RFC 9162 inclusion proof of `index` in the tree of the pinned checkpoint. */
  proof: Uint8Array[];
}

export interface SearchPage {
  /** The final checkpoint the answer is pinned to (signed note, verbatim from the store). */
  checkpoint: Uint8Array;
  treeSize: number;
  order: 'oldest' | 'newest';
  filter: SearchFilter;
  results: SearchResult[];
  /**
   * Half-open range of log positions [from, to) this page speaks for: every entry in it that
   * matches the filter (and the caller's scope and extra filter) is in `results`. Consecutive pages
   * cover adjacent ranges; the last page ends at the tree size (oldest) or 0 (newest).
   */
  covered: { from: number; to: number };
  /** Why the page ended: limit reached, work budget spent, or no more matches in the pinned tree. */
  stop: 'limit' | 'budget' | 'end';
  /** Cursor for the next page (absent when stop is 'end'). */
  next?: string;
  plan: SearchPlan;
}

export interface SearchPlan {
  /** Index streams intersected ('time' is the time-summary bound; 'scope:<field>' a scope restriction). */
  streams: string[];
  /** True when no index applies: the page scans log positions, at most the work budget per page. */
  scan: boolean;
}

/** Hash binding a cursor to its query: filter, scope identity and extra-filter text. */
export function queryHash(filter: SearchFilter, scope: SearchScope | undefined, extra: ExtraFilter | undefined): Uint8Array {
  const restrict = scope?.restrict === undefined ? null : Object.fromEntries(Object.entries(scope.restrict).sort(([a], [b]) => (a < b ? -1 : 1)));
  return sha256(utf8(JSON.stringify({ v: 1, filter: canonicalFilter(filter), scope: scope?.key ?? null, restrict, extra: extra?.key ?? null })));
}

export { filterFromParams, normalizeFilter } from './filter.js';

const RESTRICT_KIND: Record<RestrictField, number> = { actor: K_ACTOR, tenant: K_TENANT, client: K_CLIENT, resourceType: K_RTYPE, outcome: K_OUTCOME };

export class SearchEngine {
  private readonly access: SearchAccess;
  constructor(
    private readonly store: Store,
    private readonly keys: CursorKeys,
  ) {
    this.access = store.searchAccess();
  }

  /** An engine with the peer's cursor secret (created in the store's metadata on first use). */
  static async open(store: Store): Promise<SearchEngine> {
    return new SearchEngine(store, await loadCursorKeys(store));
  }

  /** The final checkpoint to pin to: the latest one, or the cursor's. */
  private async pin(size: number | undefined): Promise<{ note: Uint8Array; size: number }> {
    let note: Uint8Array | undefined;
    if (size === undefined) note = await this.store.latestFinalCheckpoint();
    else {
      const rec = await this.store.getCheckpoint(size);
      note = rec?.final === true ? rec.note : undefined;
    }
    if (note === undefined) throw new SearchError('NO_CHECKPOINT', size === undefined ? 'no final checkpoint yet: nothing is searchable' : `the final checkpoint of size ${size} this cursor is pinned to is not stored`);
    const n = parseNote(note);
    const cp = n.ok ? parseCheckpoint(n.note.text) : n;
    if (!cp.ok) throw new SearchError('NO_CHECKPOINT', `stored final checkpoint does not parse: ${cp.message}`);
    return { note, size: cp.checkpoint.size };
  }

  private plan(f: SearchFilter, scope: SearchScope | undefined, size: number, asc: boolean, work: Work): { streams: PositionStream[]; filterStreams: PositionStream[]; plan: SearchPlan } {
    const names: string[] = [];
    const streams: PositionStream[] = [];
    const add = (name: string, kind: number, ...values: string[]): void => {
      const base = postingBase(kind, ...values);
      // A value too long to be indexed is never produced by a valid entry: nothing can match.
      names.push(name);
      streams.push(base === null ? new UnionStream([], asc) : new PostingStream(this.access, base, size, asc, work));
    };
    // (The filter's posting streams come first; scope restrictions and time are added below.)
    if (f.resourceType !== undefined && f.resourceId !== undefined) add('resource', K_RESOURCE, f.resourceType, f.resourceId);
    else if (f.resourceId !== undefined) add('resource.id', K_RID, f.resourceId);
    if (f.actor !== undefined) add('actor', K_ACTOR, f.actor);
    if (f.action !== undefined) add('action', K_ACTION, f.action);
    if (f.client !== undefined) add('client', K_CLIENT, f.client);
    if (f.tenant !== undefined) add('tenant', K_TENANT, f.tenant);
    const selective = streams.length > 0;
    if (!selective && f.actionPrefix !== undefined) add('action.prefix', K_ACTION_PREFIX, f.actionPrefix);
    if (!selective && f.resourceType !== undefined && f.resourceId === undefined) add('resource.type', K_RTYPE, f.resourceType);
    if (!selective && f.outcome !== undefined) add('outcome', K_OUTCOME, f.outcome);
    const filterStreams = streams.slice();
    for (const [field, values] of Object.entries(scope?.restrict ?? {}) as [RestrictField, readonly string[]][]) {
      if (!Array.isArray(values) || values.length > SCOPE_RESTRICT_VALUES_MAX) throw new SearchError('BAD_ARGUMENT', `scope restriction of ${field} lists more than SCOPE_RESTRICT_VALUES_MAX = ${SCOPE_RESTRICT_VALUES_MAX} values`);
      const kind = RESTRICT_KIND[field];
      if (kind === undefined) throw new SearchError('BAD_ARGUMENT', `scope restriction on unknown field ${field}`);
      const parts = values.map((v) => postingBase(kind, v)).filter((b): b is Uint8Array => b !== null);
      names.push(`scope:${field}`);
      streams.push(new UnionStream(parts.map((b) => new PostingStream(this.access, b, size, asc, work)), asc));
    }
    if (f.fromMs !== undefined || f.toMs !== undefined) {
      names.push('time');
      streams.push(new TimeStream(this.access, f.fromMs ?? -Number.MAX_VALUE, f.toMs ?? Number.MAX_VALUE, size, asc, work));
    }
    const scan = streams.length === 0;
    if (scan) streams.push(new RangeStream(size));
    return { streams, filterStreams, plan: { streams: names, scan } };
  }

  async search(filterIn: SearchFilter, opts: SearchOptions = {}): Promise<SearchPage> {
    const filter = normalizeFilter(filterIn);
    const limit = opts.limit ?? SEARCH_LIMIT_DEFAULT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > SEARCH_LIMIT_MAX) throw new SearchError('BAD_ARGUMENT', `limit must be an integer in 1..${SEARCH_LIMIT_MAX}`);
    const maxWork = opts.maxWork ?? SEARCH_WORK_DEFAULT;
    if (!Number.isSafeInteger(maxWork) || maxWork < 1 || maxWork > 1_000_000) throw new SearchError('BAD_ARGUMENT', 'maxWork must be an integer in 1..1000000');
    const qh = queryHash(filter, opts.scope, opts.extra);
    let cur: CursorState | undefined;
    if (opts.cursor !== undefined) {
      cur = this.keys.open(opts.cursor);
      if (!bytesEq(cur.queryHash, qh)) throw new SearchError('CURSOR_MISMATCH', 'cursor belongs to another query or scope');
      if (opts.order !== undefined && opts.order !== cur.order) throw new SearchError('CURSOR_MISMATCH', `cursor pages ${cur.order} first, not ${opts.order}`);
    }
    const order = cur?.order ?? opts.order ?? 'newest';
    const asc = order === 'oldest';
    const pinned = await this.pin(cur?.pinnedSize);
    const size = pinned.size;
    if (cur !== undefined && (cur.resume > size || cur.claimed > size)) throw new SearchError('CURSOR_MALFORMED', 'cursor positions lie beyond its pinned size');
    if (!this.access.enabled) throw new SearchError('INDEX_INCOMPLETE', 'this store was opened without search indexes');
    if (this.access.indexedSize() < size) {
      throw new SearchError('INDEX_INCOMPLETE', `indexes cover ${this.access.indexedSize()} of ${size} leaves: run \`cairn reindex\` (or wait for it to finish)`);
    }

    const work: Work = { reads: 0 };
    const { streams, filterStreams, plan } = this.plan(filter, opts.scope, size, asc, work);
    // Positions: ascending pages walk t = resume, resume+1, ...; descending pages t = resume-1, ... .
    const start = cur?.resume ?? (asc ? 0 : size);
    const claimStart = cur?.claimed ?? start;
    const results: { index: number; entry: Uint8Array }[] = [];
    let t = asc ? start : start - 1;
    const inRange = (x: number): boolean => (asc ? x < size : x >= 0);
    const { walk, check } = inRange(t) ? await splitStreams(streams, filterStreams, t) : { walk: streams, check: [] };
    // Measuring the filter streams (one read each, at most one per filter field) is a fixed cost of
    // the page, outside its budget: a page with the smallest budget still makes progress.
    work.reads = 0;

    /**
     * The next candidates from t on: positions in every walked stream (up to CANDIDATE_BATCH, within
     * `budget`), then only those the checked streams also hold. `exhausted`: no candidate remains.
     */
    const collect = async (budget: number, max = CANDIDATE_BATCH): Promise<{ members: number[]; exhausted: boolean }> => {
      const batch: number[] = [];
      let exhausted = false;
      while (batch.length < max && work.reads + batch.length < budget) {
        // One intersection step may skip far through sparse streams: it pauses when the budget is spent.
        const p = inRange(t) ? await intersect(walk, t, () => work.reads >= budget) : undefined;
        if (p === undefined) {
          exhausted = true;
          break;
        }
        if (typeof p !== 'number') {
          t = p.paused;
          break;
        }
        batch.push(p);
        t = asc ? p + 1 : p - 1;
      }
      work.reads += batch.length;
      if (check.length === 0 || batch.length === 0) return { members: batch, exhausted };
      const held = await Promise.all(check.map((s) => s.containsMany!(batch)));
      return { members: batch.filter((_, k) => held.every((h) => h[k])), exhausted };
    };

    // Each batch's results are proved as soon as the batch is filtered, after a yield to the event
    // loop: the next batch's LevelDB reads (on worker threads) then overlap the proof work.
    const prover = new PageProver(this.store, size);
    const proofJobs: Promise<Uint8Array[][]>[] = [];
    const prove = (from: number): void => {
      if (results.length === from) return;
      const indexes = results.slice(from).map((r) => r.index);
      const job = new Promise<void>((resolve) => setImmediate(resolve)).then(() => prover.prove(indexes));
      // Awaited below; marked handled now so that a failure is not an unhandled rejection meanwhile.
      job.catch(() => undefined);
      proofJobs.push(job);
    };

    let stop: SearchPage['stop'] = 'end';
    while (results.length < limit) {
      if (work.reads >= maxWork) {
        stop = 'budget';
        break;
      }
      // Collect a batch of candidates, then load their leaves in one multi-get.
      // As many candidates as results still wanted (a page of 1,000 is 4 multi-gets, not 16).
      const { members, exhausted } = await collect(maxWork, Math.min(CANDIDATE_BATCH_MAX, Math.max(CANDIDATE_BATCH, limit - results.length)));
      const before = results.length;
      if (members.length > 0) {
        const leaves = await this.access.leaves(members);
        for (let k = 0; k < members.length; k++) {
          const leaf = leaves[k];
          if (leaf === undefined) throw new SearchError('INDEX_INCOMPLETE', `index lists leaf ${members[k]} which is not stored below size ${size}`);
          const e = this.accepts(leaf, filter, opts);
          if (e !== null) {
            parsedResults.set(leaf, e);
            results.push({ index: members[k]!, entry: leaf });
            if (results.length === limit) {
              // Resume right after this result; the rest of the batch is examined again next page.
              t = asc ? members[k]! + 1 : members[k]! - 1;
              stop = 'limit';
              break;
            }
          }
        }
      }
      prove(before);
      if (stop === 'limit' || exhausted) break;
    }
    if (stop === 'limit' && !inRange(t)) stop = 'end';
    // Another page only if a candidate remains. Not asked under an unrestricted scope predicate:
    // the remaining candidate may lie outside the scope, and "no cursor" would tell that it does not exist.
    const unrestricted = opts.scope !== undefined && opts.scope.restrict === undefined;
    if (stop === 'limit' && !unrestricted) {
      // Bounded like the page (one more batch at most): a paused or inconclusive look keeps the cursor.
      const resumeAt = t;
      const ahead = await collect(maxWork + CANDIDATE_BATCH + 2, check.length === 0 ? 1 : CANDIDATE_BATCH);
      if (ahead.members.length === 0 && ahead.exhausted) stop = 'end';
      t = resumeAt;
    }
    const resume = asc ? t : t + 1;
    const last = results.length === 0 ? undefined : results[results.length - 1]!.index;
    let claimed: number;
    if (stop === 'end') claimed = asc ? size : 0;
    else if (stop === 'limit') claimed = asc ? last! + 1 : last!;
    // Budget: with an unrestricted scope predicate the resume position may sit on an entry outside
    // the scope, so the claim (which the caller sees) only extends to the last result returned.
    else if (unrestricted) claimed = last === undefined ? claimStart : asc ? last + 1 : last;
    else claimed = resume;
    const proofs = (await Promise.all(proofJobs)).flat();
    const page: SearchPage = {
      checkpoint: pinned.note,
      treeSize: size,
      order,
      filter,
      results: results.map((r, i) => ({ index: r.index, entry: r.entry, proof: proofs[i]! })),
      covered: asc ? { from: claimStart, to: claimed } : { from: claimed, to: claimStart },
      stop,
      plan,
    };
    if (stop !== 'end') page.next = this.keys.seal({ pinnedSize: size, order, queryHash: qh, resume, claimed });
    return page;
  }

  /** The parsed entry when the leaf matches the filter, scope and extra predicate, else null. */
  private accepts(leaf: Uint8Array, filter: SearchFilter, opts: SearchOptions): AuditEntry | null {
    const e = parseLeafJson(leaf);
    if (!matchesFilter(fieldsOf(e), filter)) return null;
    try {
      if (opts.scope !== undefined && opts.scope.predicate(e as AuditEntry) !== true) return null;
      if (opts.extra !== undefined && opts.extra.predicate(e as AuditEntry) !== true) return null;
    } catch {
      // A predicate that fails on an entry does not select it.
      return null;
    }
    return e as AuditEntry;
  }
}

/**
 * Splits the plan's streams into those the walk seeks along (leapfrog) and dense filter streams
 * that are cheaper to test on each candidate: seeking a posting list far ahead costs one LevelDB
 * range read per seek, so a dense list intersected with a sparse one costs a read per candidate of
 * the sparse one; a batched point lookup per CANDIDATE_BATCH candidates replaces them. Only the
 * filter's own posting streams are ever checked: scope restrictions and the time bound stay in the
 * walk, so a candidate outside a restricted scope is still never examined. Each filter stream is
 * read once at t (in parallel) to measure its density; the sparsest one leads the walk.
 */
async function splitStreams(streams: PositionStream[], filterStreams: PositionStream[], t: number): Promise<{ walk: PositionStream[]; check: PositionStream[] }> {
  if (filterStreams.length < 2) return { walk: streams, check: [] };
  await Promise.all(filterStreams.map((s) => s.seek(t)));
  const density = new Map(filterStreams.map((s) => [s, s.density?.() ?? 1]));
  const lead = filterStreams.reduce((a, s) => (density.get(s)! < density.get(a)! ? s : a));
  const dmin = density.get(lead)!;
  const check = filterStreams.filter((s) => s !== lead && s.containsMany !== undefined && density.get(s)! > DENSE_FACTOR * dmin);
  const walk = [lead, ...streams.filter((s) => s !== lead && !check.includes(s))];
  return { walk, check };
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

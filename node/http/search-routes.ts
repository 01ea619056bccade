// Search and resource history (docs/search.md):
//   GET /v1/search?actor=&action=&resource.type=&resource.id=&tenant=&outcome=&client=&from=&to=
//                 &order=newest|oldest&limit=1..1000&cursor=&newer=<treeSize>&timeout=10s
//   GET /v1/resources/{type}/{id}/history?limit=&cursor=&order=oldest
// Each answer is one page pinned to a final checkpoint, every result with its inclusion proof
// (wire format: src/search/wire.ts), so the client verifies it instead of trusting this peer.
//
// Order of checks, cheapest first: query-string bytes → parameter names, repetitions and shapes →
// access gate (401/403) → searches in flight (per address, then overall) → engine (bounded by its
// per-page work budget) → meta-audit record of the read → answer. A scoped reader's query runs
// with its scope as the engine's scope: out-of-scope entries are never returned nor counted, and
// when the scope names tenants/clients/actors/... the engine never even examines other entries.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiErrorCode } from '../../src/client/types.js';
import type { SearchFilter } from '../../src/search/fields.js';
import { encodePage, filterToParams } from '../../src/search/wire.js';
import { KIND_ACTIONS, type Principal } from '../auth/index.js';
import { CURSOR_TEXT_MAX } from '../search/cursor.js';
import { isSearchError, type SearchErrorCode } from '../search/errors.js';
import { resourceHistory } from '../search/history.js';
import { filterFromParams, SEARCH_LIMIT_MAX, SearchEngine, type SearchOptions, type SearchScope } from '../search/query.js';
import { searchScopeOf } from '../search/scope.js';
import { clientAddress } from './admission.js';
import { clientGone, type RouteContext } from './context.js';
import { sendError } from './errors.js';
import { parseTimeout } from './entries.js';

/** Node's base64 (same text as the portable encoder, much faster on a page of 1,000 results). */
const nodeBase64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/** Longest query string (bytes after '?') a search or history request may carry. */
export const SEARCH_QUERY_BYTES_MAX = 4096;
/** Searches computed at once on this peer (each may cost up to a page's work budget and proofs). */
export const SEARCHES_IN_FLIGHT_MAX = 8;
/** The same, per client address. */
export const SEARCHES_PER_ADDRESS_MAX = 2;

const FILTER_PARAMS = ['actor', 'action', 'resource.type', 'resource.id', 'tenant', 'outcome', 'client', 'from', 'to'];
const SEARCH_PARAMS = new Set([...FILTER_PARAMS, 'order', 'limit', 'cursor', 'newer', 'timeout']);
const HISTORY_PARAMS = new Set(['limit', 'cursor', 'order']);

/** Engine error → API code (stable, docs/api.md). */
const SEARCH_ERROR_CODE: Record<SearchErrorCode, ApiErrorCode> = {
  BAD_ARGUMENT: 'bad_request',
  CURSOR_MALFORMED: 'cursor_malformed',
  CURSOR_TAMPERED: 'cursor_tampered',
  CURSOR_MISMATCH: 'cursor_mismatch',
  NO_CHECKPOINT: 'no_checkpoint',
  INDEX_INCOMPLETE: 'index_incomplete',
};

class BadParam extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Query parameters, each at most once, only known names; BadParam otherwise. */
function queryParams(req: FastifyRequest, known: ReadonlySet<string>): Map<string, string> {
  const q = req.url.indexOf('?');
  const raw = q === -1 ? '' : req.url.slice(q + 1);
  if (Buffer.byteLength(raw) > SEARCH_QUERY_BYTES_MAX) throw new BadParam('bad_request', `query string longer than ${SEARCH_QUERY_BYTES_MAX} bytes (SEARCH_QUERY_BYTES_MAX)`);
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(raw)) {
    if (!known.has(k)) throw new BadParam('bad_request', `unknown parameter ${JSON.stringify(k.slice(0, 64))}; known: ${[...known].join(', ')}`, k.slice(0, 64));
    if (out.has(k)) throw new BadParam('bad_request', `parameter ${k} given more than once`, k);
    out.set(k, v);
  }
  return out;
}

function pageOptions(p: Map<string, string>): Pick<SearchOptions, 'limit' | 'cursor'> {
  const o: Pick<SearchOptions, 'limit' | 'cursor'> = {};
  const limit = p.get('limit');
  if (limit !== undefined) {
    if (!/^[1-9][0-9]{0,3}$/.test(limit) || Number(limit) > SEARCH_LIMIT_MAX) throw new BadParam('bad_request', `limit must be an integer in 1..${SEARCH_LIMIT_MAX}`, 'limit');
    o.limit = Number(limit);
  }
  const cursor = p.get('cursor');
  if (cursor !== undefined) {
    // Checked again by the engine; refused here before any work when plainly too long.
    if (cursor.length > CURSOR_TEXT_MAX) throw new BadParam('cursor_malformed', `cursor longer than ${CURSOR_TEXT_MAX} characters`, 'cursor');
    o.cursor = cursor;
  }
  return o;
}

/** Stable text naming the query (the meta-audit record's resource id). */
function canonicalQuery(f: SearchFilter, order: string | undefined): string {
  const p = new URLSearchParams(Object.entries(filterToParams(f)).sort(([a], [b]) => (a < b ? -1 : 1)));
  if (order !== undefined) p.set('order', order);
  return p.toString();
}

/** Bounds concurrent searches overall and per address. */
class SearchSlots {
  private total = 0;
  private readonly perAddress = new Map<string, number>();
  /** The release function, or the refusal. */
  take(address: string): (() => void) | { code: ApiErrorCode; message: string } {
    const mine = this.perAddress.get(address) ?? 0;
    if (mine >= SEARCHES_PER_ADDRESS_MAX) return { code: 'too_many_requests', message: `this client address has ${mine} searches running (SEARCHES_PER_ADDRESS_MAX ${SEARCHES_PER_ADDRESS_MAX}); retry later` };
    if (this.total >= SEARCHES_IN_FLIGHT_MAX) return { code: 'busy', message: `${this.total} searches running (SEARCHES_IN_FLIGHT_MAX ${SEARCHES_IN_FLIGHT_MAX}); retry later` };
    this.total++;
    this.perAddress.set(address, mine + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.total--;
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n === 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    };
  }
}

/** The engine's scope for this request: undefined when the principal sees every entry. */
async function engineScope(ctx: RouteContext, req: FastifyRequest, p: Principal): Promise<SearchScope | undefined> {
  const s = await ctx.gate.scope(req);
  if (s.full) return undefined;
  // The reading roles' expressions give the index restriction; the gate's predicate stays the judge.
  const sources = p.roles.filter((r) => KIND_ACTIONS[r.kind].includes('read.entry')).map((r) => r.scope.source);
  const key = JSON.stringify({ principal: p.id, scopes: [...sources].sort() });
  return searchScopeOf(key, s.matches, sources);
}

export function registerSearchRoutes(app: FastifyInstance, ctx: RouteContext): void {
  let engine: Promise<SearchEngine> | null = null;
  // Opened on first use (loads or creates the cursor secret in the store's metadata).
  const getEngine = (): Promise<SearchEngine> => {
    engine ??= SearchEngine.open(ctx.peer.internals.store).catch((e: unknown) => {
      engine = null;
      throw e;
    });
    return engine;
  };
  const slots = new SearchSlots();

  // The proof cache is warmed by the peer itself (node/peer/proof-warm.ts), once per peer start.

  /** Gate, slot, engine, record, answer: the common path of both routes. */
  async function answer(
    req: FastifyRequest,
    reply: FastifyReply,
    auditId: () => string,
    run: (e: SearchEngine, scope: SearchScope | undefined) => Promise<Parameters<typeof encodePage>[0]>,
    waitNewer?: { size: number; timeoutMs: number },
  ): Promise<FastifyReply> {
    const principal = await ctx.gate.require(req, reply, 'read.search');
    if (principal === null) return reply;
    const scope = await engineScope(ctx, req, principal);
    if (waitNewer !== undefined && ctx.peer.status().finalSize <= waitNewer.size) {
      // Long-poll: until a final checkpoint beyond `newer`, the timeout, or the client leaves.
      const since = ctx.waiters.generation;
      const gone = clientGone(req);
      if (gone.aborted) return reply;
      if (!ctx.waiters.hasRoom()) return sendError(reply, 'too_many_waiters', `${ctx.waiters.size} long-polls already waiting (waitersMax ${ctx.waiters.max}); retry later`);
      await ctx.waiters.wait(async () => ctx.peer.status().finalSize > waitNewer.size, waitNewer.timeoutMs, gone, since);
      if (reply.raw.destroyed) return reply;
    }
    const release = slots.take(clientAddress(req.raw.socket?.remoteAddress));
    if (typeof release !== 'function') return sendError(reply, release.code, release.message);
    let page: Parameters<typeof encodePage>[0];
    try {
      page = await run(await getEngine(), scope);
    } catch (e) {
      if (isSearchError(e)) return sendError(reply, SEARCH_ERROR_CODE[e.code], e.message);
      throw e;
    } finally {
      release();
    }
    // The read is recorded durably before anything is sent; a full queue that fails closed sends nothing.
    if (!(await ctx.gate.recordRead(req, principal, { action: 'cairn.read.search', resource: { type: 'query', id: auditId() } }))) {
      return sendError(reply, 'unavailable', 'the meta-audit log cannot record this read now; retry later');
    }
    return reply.code(200).header('cache-control', 'no-store').send(encodePage(page, nodeBase64));
  }

  const fail = (reply: FastifyReply, e: unknown): FastifyReply => {
    if (e instanceof BadParam) return sendError(reply, e.code, e.message, e.field);
    if (isSearchError(e)) return sendError(reply, SEARCH_ERROR_CODE[e.code], e.message);
    throw e;
  };

  app.get('/v1/search', async (req, reply) => {
    let filter: SearchFilter;
    let opts: SearchOptions;
    let waitNewer: { size: number; timeoutMs: number } | undefined;
    let order: 'oldest' | 'newest' | undefined;
    try {
      const p = queryParams(req, SEARCH_PARAMS);
      filter = filterFromParams(Object.fromEntries(FILTER_PARAMS.filter((k) => p.has(k)).map((k) => [k, p.get(k)!])));
      opts = pageOptions(p);
      const o = p.get('order');
      if (o !== undefined) {
        if (o !== 'oldest' && o !== 'newest') throw new BadParam('bad_request', 'order must be newest or oldest', 'order');
        order = o;
        opts.order = o;
      }
      const newer = p.get('newer');
      const timeout = p.get('timeout');
      if (newer !== undefined) {
        if (!/^(0|[1-9][0-9]{0,14})$/.test(newer)) throw new BadParam('bad_request', 'newer must be a tree size (a non-negative integer)', 'newer');
        if (opts.cursor !== undefined) throw new BadParam('bad_request', 'newer applies to a first page only (a cursor is pinned already)', 'newer');
        let timeoutMs = 10_000;
        if (timeout !== undefined) {
          const t = parseTimeout(timeout);
          if (t === null) throw new BadParam('bad_request', 'timeout must look like 10s, 500ms or 10 (seconds)', 'timeout');
          if (t > ctx.limits.waitTimeoutMsMax) throw new BadParam('bad_request', `timeout ${t} ms exceeds ${ctx.limits.waitTimeoutMsMax} ms (waitTimeoutMsMax)`, 'timeout');
          timeoutMs = t;
        }
        waitNewer = { size: Number(newer), timeoutMs };
      } else if (timeout !== undefined) {
        throw new BadParam('bad_request', 'timeout is only meaningful with newer', 'timeout');
      }
    } catch (e) {
      return fail(reply, e);
    }
    return answer(
      req,
      reply,
      () => `search?${canonicalQuery(filter, order)}`,
      (engine, scope) => engine.search(filter, { ...opts, ...(scope !== undefined ? { scope } : {}) }),
      waitNewer,
    );
  });

  app.get<{ Params: { type: string; id: string } }>('/v1/resources/:type/:id/history', async (req, reply) => {
    const { type, id } = req.params;
    let opts: SearchOptions;
    try {
      const p = queryParams(req, HISTORY_PARAMS);
      opts = pageOptions(p);
      // History is in log order, oldest first; saying so is allowed, asking otherwise is not.
      if (p.has('order') && p.get('order') !== 'oldest') throw new BadParam('bad_request', 'history is oldest first: order may only be oldest', 'order');
      // Same bounds as the filter values of a search.
      filterFromParams({ 'resource.type': type, 'resource.id': id });
    } catch (e) {
      return fail(reply, e);
    }
    return answer(
      req,
      reply,
      () => `history?${canonicalQuery({ resourceType: type, resourceId: id }, undefined)}`,
      (engine, scope) => resourceHistory(engine, type, id, { ...opts, ...(scope !== undefined ? { scope } : {}) }),
    );
  });
}

/** Paths and methods of these routes (for the server's 405 table). */
export const SEARCH_ROUTE_METHODS: Record<string, string[]> = {
  '/v1/search': ['GET'],
  '/v1/resources/:type/:id/history': ['GET'],
};

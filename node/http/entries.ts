// Entry routes: POST /v1/entries, GET /v1/entries/{hash}, GET /v1/entries/by-id/{client}/{id},
// with ?wait=final long-polls and C2SP tlog-proof receipts (docs/api.md).
import { timeline, timelineOn } from '../timeline/recorder.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { parseNote } from '../../src/checkpoint/note.js';
import { formatReceipt } from '../../src/checkpoint/receipt.js';
import { fromBase64, fromHex, fromUtf8, toBase64 } from '../../src/encoding/bytes.js';
import { ID_LENGTH_MAX } from '../../src/entry/limits.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { WAITED_HEADER, type EntryResponse } from '../../src/client/types.js';
import { locateByClientId, locateByLeafHash } from '../peer/entry-locate.js';
import type { EntryLookup } from '../peer/peer.js';
import { prefersReceipt } from './accept.js';
import { allowRead, clientGone, type RouteContext } from './context.js';
import { RETRY_AFTER_S, sendError } from './errors.js';
import { WAIT_TIMEOUT_MS_DEFAULT } from './limits.js';
import { parseSubmitBody, submitResponse } from './submit.js';

const HEX64_RE = /^[0-9a-fA-F]{64}$/;
// Entry ids: RFC 3986 unreserved characters (docs/entry-format.md), not "." or "..".
const ID_RE = /^[A-Za-z0-9._~-]+$/;
const TIMEOUT_RE = /^(0|[1-9][0-9]{0,8})(ms|s)?$/;

/** `10s`, `500ms` or `10` (seconds) -> milliseconds; null when malformed. */
export function parseTimeout(s: string): number | null {
  const m = TIMEOUT_RE.exec(s);
  if (m === null) return null;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : n * 1000;
}

function isJsonMediaType(ct: string | undefined): boolean {
  if (ct === undefined) return false;
  const media = ct.split(';')[0]!.trim().toLowerCase();
  return media === 'application/json';
}

/** A client preferring text/plain over JSON wants the tlog-proof receipt. */
function wantsReceipt(req: FastifyRequest): boolean {
  return prefersReceipt(req.headers.accept);
}

type Key = { leafHash: string } | { client: string; id: string };

async function lookupKey(ctx: RouteContext, key: Key): Promise<EntryLookup> {
  return 'leafHash' in key ? ctx.peer.getEntry(key.leafHash) : ctx.peer.getEntryByClientId(key.client, key.id);
}

/** What the caller may see; `hidden` is set when an existing entry was out of scope. */
interface Visibility {
  matches: ((e: AuditEntry) => boolean) | null;
  hidden: boolean;
}

/**
 * For a scoped caller, the scope is checked before the full lookup (which computes an inclusion
 * proof), with the same work whether the key names an entry outside the scope or nothing: one
 * index lookup, one leaf read, one parse and one scope evaluation (of the log's first leaf when
 * the key matches nothing). So neither the answer nor its time tells the two cases apart.
 * 'absent': nothing under this key yet (an entry arriving in between is still checked again by
 * currentEntry after the full lookup).
 */
async function scopePrecheck(ctx: RouteContext, key: Key, matches: (e: AuditEntry) => boolean): Promise<'visible' | 'hidden' | 'absent'> {
  const { store, mempool } = ctx.peer.internals;
  const l = 'leafHash' in key ? await locateByLeafHash(store, mempool, fromHex(key.leafHash)!) : await locateByClientId(store, mempool, key.client, key.id);
  const leaf = l === null ? undefined : 'pending' in l ? l.pending.leaf : await store.getLeaf(l.logged.index);
  if (leaf === undefined) {
    const decoy = ctx.peer.internals.ledger.getHead().treeSize > 0 ? await store.getLeaf(0) : undefined;
    if (decoy !== undefined) matches(JSON.parse(fromUtf8(decoy)) as AuditEntry);
    return 'absent';
  }
  return matches(JSON.parse(fromUtf8(leaf)) as AuditEntry) ? 'visible' : 'hidden';
}

/**
 * The current state of an entry as the API shows it; null when this peer does not know it, or
 * when the entry is outside the caller's scope: the scope is checked right after the leaf is read,
 * before any proof is computed, so both cases answer the same and cost about the same.
 */
async function currentEntry(ctx: RouteContext, key: Key, vis: Visibility): Promise<EntryResponse | null> {
  if (vis.matches !== null) {
    const pre = await scopePrecheck(ctx, key, vis.matches);
    if (pre !== 'visible') {
      vis.hidden = pre === 'hidden';
      return null;
    }
  }
  // Two attempts: an entry can move from the mempool into a block between the lookup and the read.
  for (let attempt = 0; attempt < 2; attempt++) {
    const l = await lookupKey(ctx, key);
    if (l.status === 'unknown') return null;
    let leaf: Uint8Array | undefined;
    if (l.status === 'pending') leaf = ctx.peer.internals.mempool.getPending(l.leafHash)?.leaf;
    else if (l.status === 'final') leaf = l.leaf;
    else leaf = await ctx.peer.getLeaf(l.index);
    if (leaf === undefined) continue;
    const entry = JSON.parse(fromUtf8(leaf)) as AuditEntry;
    if (vis.matches !== null && !vis.matches(entry)) {
      vis.hidden = true;
      return null;
    }
    const base = { leafHash: l.leafHash, entry, leaf: toBase64(leaf) };
    if (l.status === 'pending') return { ...base, status: 'pending' };
    if (l.status === 'logged') return { ...base, status: 'logged', index: l.index };
    // Final: the proof must be relative to exactly the checkpoint we return.
    const size = checkpointSize(l.checkpoint);
    if (size === null || l.index >= size) return { ...base, status: 'logged', index: l.index };
    const proof = size === l.treeSize ? l.proof : (await ctx.peer.inclusionProof(l.index, size)).map(toBase64);
    return { ...base, status: 'final', index: l.index, treeSize: size, proof, checkpoint: l.checkpoint };
  }
  return null;
}

/** Tree size of a signed checkpoint note (C2SP tlog-checkpoint body inside a signed note). */
function checkpointSize(note: string): number | null {
  const n = parseNote(note);
  if (!n.ok) return null;
  const cp = parseCheckpoint(n.note.text);
  return cp.ok ? cp.checkpoint.size : null;
}

function receiptOf(e: EntryResponse): string {
  return formatReceipt({ index: e.index!, proof: e.proof!.map((b) => fromBase64(b)!), checkpoint: e.checkpoint! });
}

async function getEntry(ctx: RouteContext, req: FastifyRequest, reply: FastifyReply, key: Key): Promise<FastifyReply> {
  const receipt = wantsReceipt(req);
  if (!(await allowRead(ctx, req, reply, { kind: receipt ? 'receipt' : 'entry', ...key }))) return reply;
  const principal = await ctx.gate.require(req, reply, 'read.entry');
  if (principal === null) return reply;
  const scope = await ctx.gate.scope(req);
  const vis: Visibility = { matches: scope.full ? null : scope.matches, hidden: false };
  const q = (req.query ?? {}) as Record<string, unknown>;
  let waitMs = 0;
  if (q.wait !== undefined) {
    if (q.wait !== 'final') return sendError(reply, 'bad_request', 'wait must be "final"', 'wait');
    waitMs = WAIT_TIMEOUT_MS_DEFAULT;
    if (q.timeout !== undefined) {
      const t = typeof q.timeout === 'string' ? parseTimeout(q.timeout) : null;
      if (t === null) return sendError(reply, 'bad_request', 'timeout must look like 10s, 500ms or 10 (seconds)', 'timeout');
      if (t > ctx.limits.waitTimeoutMsMax) {
        return sendError(reply, 'bad_request', `timeout ${t} ms exceeds ${ctx.limits.waitTimeoutMsMax} ms (waitTimeoutMsMax)`, 'timeout');
      }
      waitMs = t;
    }
  } else if (q.timeout !== undefined) {
    return sendError(reply, 'bad_request', 'timeout is only meaningful with wait=final', 'timeout');
  }

  const since = ctx.waiters.generation;
  let current = await currentEntry(ctx, key, vis);
  if (current?.status !== 'final' && waitMs > 0) {
    // The client may have left during the lookup: then there is nobody to wait for.
    const gone = clientGone(req);
    if (gone.aborted) return reply;
    if (!ctx.waiters.hasRoom()) {
      return sendError(reply, 'too_many_waiters', `${ctx.waiters.size} long-polls already waiting (waitersMax ${ctx.waiters.max}); retry later`);
    }
    const t0 = Date.now();
    await ctx.waiters.wait(
      async () => {
        vis.hidden = false;
        current = await currentEntry(ctx, key, vis);
        const final = current?.status === 'final';
        // The long-poll answers now (timeline: submit-to-final as a client sees it).
        if (final) timeline('http.final');
        return final;
      },
      waitMs,
      gone,
      since,
    );
    reply.header(WAITED_HEADER, String(Date.now() - t0));
    if (reply.raw.destroyed) return reply;
  }
  const action = receipt ? 'cairn.read.receipt' : 'cairn.read.entry';
  const resource = { type: 'entry', id: 'leafHash' in key ? key.leafHash : `${key.client}/${key.id}` };
  if (current === null) {
    // An entry outside the scope is answered exactly as one that does not exist; both misses are
    // recorded the same way (the reason is only in the meta-audit record).
    await ctx.gate.recordDenied?.(req, principal, { action, resource, reason: vis.hidden ? 'out_of_scope' : 'entry_not_found' });
    return sendError(reply, 'entry_not_found', 'no entry with this key is pending or logged on this peer');
  }
  if (receipt && current.status !== 'final') {
    return sendError(reply, 'not_final', `the entry is ${current.status}; a receipt exists once a final checkpoint covers it (use ?wait=final)`);
  }
  if (!(await ctx.gate.recordRead(req, principal, { action, resource: { type: 'entry', id: current.leafHash } }))) {
    return sendError(reply, 'unavailable', 'the meta-audit queue is full and this peer fails closed: retry later');
  }
  if (!receipt) return reply.code(200).send(current);
  return reply.code(200).type('text/plain; charset=utf-8').send(receiptOf(current));
}

export function registerEntryRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post('/v1/entries', {
    // Checked before the body is read: a wrong content type is refused without buffering it.
    onRequest: async (req, reply) => {
      if (!isJsonMediaType(req.headers['content-type'])) {
        return sendError(reply, 'unsupported_media_type', `Content-Type must be application/json, got ${JSON.stringify(req.headers['content-type'] ?? null)}`);
      }
      return undefined;
    },
    handler: async (req, reply) => {
      const parsed = parseSubmitBody(req.body, ctx.limits.entriesPerRequestMax);
      if (!parsed.ok) return sendError(reply, parsed.code, parsed.message);
      timeline('http.submit');
      const results = await ctx.peer.submit(parsed.entries);
      if (timelineOn) timeline('http.submitted', `n=${results.filter((r) => 'status' in r).length}`);
      ctx.metrics.observeSubmit(results);
      const { status, body } = submitResponse(results, parsed.isArray);
      if (status === 429 || status === 503) reply.header('retry-after', String(RETRY_AFTER_S));
      return reply.code(status).send(body);
    },
  });

  app.get<{ Params: { hash: string } }>('/v1/entries/:hash', async (req, reply) => {
    const h = req.params.hash;
    if (!HEX64_RE.test(h)) return sendError(reply, 'bad_request', 'the leaf hash must be 64 hex digits', 'hash');
    return getEntry(ctx, req, reply, { leafHash: h.toLowerCase() });
  });

  app.get<{ Params: { client: string; id: string } }>('/v1/entries/by-id/:client/:id', async (req, reply) => {
    const { client, id } = req.params;
    if (!HEX64_RE.test(client)) return sendError(reply, 'bad_request', 'client must be the 64 hex digits of the client key', 'client');
    if (id.length > ID_LENGTH_MAX || !ID_RE.test(id) || id === '.' || id === '..') {
      return sendError(reply, 'bad_request', `id must be 1..${ID_LENGTH_MAX} (ID_LENGTH_MAX) RFC 3986 unreserved characters`, 'id');
    }
    return getEntry(ctx, req, reply, { client: client.toLowerCase(), id });
  });
}

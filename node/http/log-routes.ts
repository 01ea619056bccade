// C2SP tlog-tiles read routes (c2sp.org/tlog-tiles): GET /checkpoint, /tile/<L>/<N>[.p/<W>],
// /tile/entries/<N>[.p/<W>]; and GET /v1/proofs/consistency (RFC 9162 §2.1.4).
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { toBase64 } from '../../src/encoding/bytes.js';
import { parseTilePath, TILE_WIDTH } from '../../src/merkle/tiles.js';
import type { ConsistencyResponse } from '../../src/client/types.js';
import { allowRead, type RouteContext } from './context.js';
import { sendError } from './errors.js';

/**
 * Full tiles never change ("Full tiles [...] are immutable" — tlog-tiles), so caches may keep
 * them forever. A partial tile of a given width is also fixed content, but it is superseded as the
 * tree grows and logs may stop serving it, so it is cached briefly.
 */
export const CACHE_FULL_TILE = 'public, max-age=31536000, immutable';
export const CACHE_PARTIAL_TILE = 'public, max-age=10';
/** The checkpoint changes with every final block: cache for a second at most. */
export const CACHE_CHECKPOINT = 'public, max-age=1';
/** Entry bundles under an access policy: only the requester's own cache may keep them. */
export const CACHE_FULL_BUNDLE_PRIVATE = 'private, max-age=31536000, immutable';
export const CACHE_PARTIAL_BUNDLE_PRIVATE = 'private, max-age=10';

const SIZE_RE = /^(0|[1-9][0-9]{0,15})$/;
const gzip = promisify(gzipCb);

/**
 * True when the client accepts gzip (RFC 9110 §12.5.3; "gzip;q=0" refuses it). tlog-tiles: "Entry
 * bundles SHOULD be compressed at the HTTP layer [...] any compression algorithm requested by the
 * client with Accept-Encoding". Hash tiles are random bytes and are never compressed.
 */
export function acceptsGzip(req: FastifyRequest): boolean {
  const h = req.headers['accept-encoding'];
  if (typeof h !== 'string') return false;
  for (const part of h.toLowerCase().split(',')) {
    const [coding, ...params] = part.trim().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

export function registerLogRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/checkpoint', async (req, reply) => {
    if (!(await allowRead(ctx, req, reply, { kind: 'checkpoint' }))) return reply;
    if ((await ctx.gate.require(req, reply, 'read.checkpoint')) === null) return reply;
    const note = await ctx.peer.latestCheckpoint();
    if (note === null) return sendError(reply, 'no_checkpoint', 'no final checkpoint yet');
    return reply.code(200).header('cache-control', CACHE_CHECKPOINT).type('text/plain; charset=utf-8').send(note);
  });

  app.get<{ Params: { '*': string } }>('/tile/*', async (req, reply) => {
    const path = `tile/${req.params['*']}`;
    if (!(await allowRead(ctx, req, reply, { kind: 'tile', path }))) return reply;
    const p = parseTilePath(path);
    if (!p.ok) return sendError(reply, 'bad_tile_path', `${p.code}: ${p.message}`);
    const principal = await ctx.gate.require(req, reply, p.kind === 'entries' ? 'read.bundle' : 'read.checkpoint');
    if (principal === null) return reply;
    const width = p.kind === 'hash' ? p.tile.width : p.bundle.width;
    const bytes = p.kind === 'hash' ? await ctx.peer.readTile(p.tile.level, p.tile.index, width) : await ctx.peer.readEntryBundle(p.bundle.index, width);
    if (bytes === undefined) return sendError(reply, 'tile_not_found', `${path} is beyond the current tree (size ${ctx.peer.internals.ledger.getHead().treeSize})`);
    let body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let cache = width === TILE_WIDTH ? CACHE_FULL_TILE : CACHE_PARTIAL_TILE;
    if (p.kind === 'entries') {
      if (!(await ctx.gate.recordRead(req, principal, { action: 'cairn.read.bundle', resource: { type: 'bundle', id: path } }))) {
        return sendError(reply, 'unavailable', 'the meta-audit queue is full and this peer fails closed: retry later');
      }
      if (ctx.gate.restricted === true) cache = width === TILE_WIDTH ? CACHE_FULL_BUNDLE_PRIVATE : CACHE_PARTIAL_BUNDLE_PRIVATE;
      reply.header('vary', 'accept-encoding');
      if (acceptsGzip(req)) {
        // A full bundle is immutable: compressed once and served from the cache afterwards.
        // zlib runs on the libuv thread pool: the event loop stays free for consensus.
        body = width === TILE_WIDTH ? await ctx.bundleGzip.get(p.bundle.index, body) : await gzip(body);
        reply.header('content-encoding', 'gzip');
      }
    }
    return reply
      .code(200)
      .header('cache-control', cache)
      .type('application/octet-stream')
      .send(body);
  });

  app.get('/v1/proofs/consistency', async (req, reply) => {
    if (!(await allowRead(ctx, req, reply, { kind: 'proof' }))) return reply;
    if ((await ctx.gate.require(req, reply, 'read.checkpoint')) === null) return reply;
    const q = (req.query ?? {}) as Record<string, unknown>;
    const sizes: number[] = [];
    for (const k of ['from', 'to'] as const) {
      const v = q[k];
      if (typeof v !== 'string' || !SIZE_RE.test(v) || !Number.isSafeInteger(Number(v))) {
        return sendError(reply, 'bad_request', `${k} must be a tree size (decimal, no leading zeros)`, k);
      }
      sizes.push(Number(v));
    }
    const [from, to] = sizes as [number, number];
    const size = ctx.peer.internals.ledger.getHead().treeSize;
    if (from > to || to > size) return sendError(reply, 'bad_range', `need 0 <= from <= to <= tree size ${size}; got from=${from} to=${to}`);
    // RFC 9162 §2.1.4: no proof is needed from the empty tree or between equal sizes.
    const proof = from === 0 || from === to ? [] : await ctx.peer.consistencyProof(from, to);
    const body: ConsistencyResponse = { from, to, proof: proof.map(toBase64) };
    return reply.code(200).send(body);
  });
}

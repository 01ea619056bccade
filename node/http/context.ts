// What every route module needs: the peer, the limits, the long-poll waiters, metrics and the read
// authorization hook.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Peer } from '../peer/peer.js';
import type { AccessGate } from './access-gate.js';
import type { AuthorizeRead, ReadResource } from './auth.js';
import { sendError } from './errors.js';
import type { HttpLimits } from './limits.js';
import type { PeerMetrics } from './metrics.js';
import type { BundleGzipCache } from './gzip-cache.js';
import type { FinalityWaiters } from './waiters.js';

export interface RouteContext {
  peer: Peer;
  limits: HttpLimits;
  waiters: FinalityWaiters;
  metrics: PeerMetrics;
  authorizeRead: AuthorizeRead;
  /** Authentication, authorization, scopes and the meta-audit record of reads (access-gate.ts). */
  gate: AccessGate;
  bundleGzip: BundleGzipCache;
}

const gone = new WeakMap<object, AbortSignal>();
const responses = new WeakMap<object, FastifyReply['raw']>();

/**
 * Aborted when the request's connection closes or its response is done. Set up when the request
 * arrives (server.ts onRequest), so a client that leaves at any later point is seen, even one that
 * left before the code asking had started waiting.
 */
export function watchClient(req: FastifyRequest, reply: FastifyReply): void {
  const ac = new AbortController();
  gone.set(req.raw, ac.signal);
  responses.set(req.raw, reply.raw);
  if (reply.raw.destroyed || req.raw.socket?.destroyed) ac.abort();
  else reply.raw.once('close', () => ac.abort());
}

export function clientGone(req: FastifyRequest): AbortSignal {
  return gone.get(req.raw) ?? AbortSignal.abort();
}

/** Calls `fn` once the request's response is done or its connection closed (now if already so). */
export function whenResponseDone(req: FastifyRequest, fn: () => void): void {
  const res = responses.get(req.raw);
  if (res === undefined || res.destroyed || res.writableFinished) fn();
  else res.once('close', fn);
}

/** Runs the read authorization hook; on refusal sends 403 forbidden and returns false. */
export async function allowRead(ctx: RouteContext, req: FastifyRequest, reply: FastifyReply, resource: ReadResource): Promise<boolean> {
  const d = await ctx.authorizeRead(req, resource);
  if (d.allow) return true;
  sendError(reply, 'forbidden', d.message);
  return false;
}

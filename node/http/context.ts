// What every route module needs: the peer, the limits, the long-poll waiters, metrics and the read
// authorization hook.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Peer } from '../peer/peer.js';
import type { AuthorizeRead, ReadResource } from './auth.js';
import { sendError } from './errors.js';
import type { HttpLimits } from './limits.js';
import type { PeerMetrics } from './metrics.js';
import type { FinalityWaiters } from './waiters.js';

export interface RouteContext {
  peer: Peer;
  limits: HttpLimits;
  waiters: FinalityWaiters;
  metrics: PeerMetrics;
  authorizeRead: AuthorizeRead;
}

/** Runs the read authorization hook; on refusal sends 403 forbidden and returns false. */
export async function allowRead(ctx: RouteContext, req: FastifyRequest, reply: FastifyReply, resource: ReadResource): Promise<boolean> {
  const d = await ctx.authorizeRead(req, resource);
  if (d.allow) return true;
  sendError(reply, 'forbidden', d.message);
  return false;
}

// The single authorization point for reads: every read goes through this one hook, so adding
// access control later is a small change. Today every read is allowed; roles could be added e.g. by
// inspecting a bearer token in `request.headers.authorization` and the resource's tenant.
import type { FastifyRequest } from 'fastify';

/** What is being read; enough for a future role check to decide. */
export type ReadResource =
  | { kind: 'entry'; leafHash?: string; client?: string; id?: string }
  | { kind: 'receipt'; leafHash?: string; client?: string; id?: string }
  | { kind: 'checkpoint' }
  | { kind: 'tile'; path: string }
  | { kind: 'proof' }
  | { kind: 'status' }
  | { kind: 'metrics' };

export type ReadDecision = { allow: true } | { allow: false; message: string };

export type AuthorizeRead = (request: FastifyRequest, resource: ReadResource) => ReadDecision | Promise<ReadDecision>;

/** Allow-all policy: reads are open to anyone who can reach the peer (auditors trust no peer). */
export const authorizeRead: AuthorizeRead = () => ({ allow: true });

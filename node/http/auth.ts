// The single authorization point for reads (issue 5: "Route every read through one authorization
// hook so that change is small"). Today every read is allowed; a later issue adds roles, e.g. by
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

/** Allow-all policy of issue 5: reads are open to anyone who can reach the peer. */
export const authorizeRead: AuthorizeRead = () => ({ allow: true });

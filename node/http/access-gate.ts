// The access gate: the one object every HTTP route asks "may this request do that?". It
// authenticates a request once (the result is cached on the request), authorizes an action,
// answers 401/403 itself on refusal, tells multi-entry routes which entries the principal may see,
// and records restricted reads and denials in the meta-audit log before the answer goes out.
// Without a policy the peer is open (allowAllGate): every read is allowed, nothing is recorded.
import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ANONYMOUS } from '../auth/index.js';
import type { AccessControl, Action, AuthError, Policy, Principal, RequestLike } from '../auth/index.js';
import { forbidden } from '../auth/errors.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { RETRY_AFTER_S } from './errors.js';
import type { Sharing } from './sharing.js';
import type { MetaAudit, MetaAuditEvent } from '../meta-audit/types.js';

export type EntryScope = { full: true } | { full: false; matches: (e: AuditEntry) => boolean };

// The gate records through the meta-audit log's own interface (node/meta-audit implements it);
// re-exported for the HTTP layer that passes one in.
export type { MetaAudit, MetaAuditEvent };

export interface AccessGate {
  /** Authenticates (once per request, cached) and authorizes `action`. On refusal it has already sent
   *  401 (with WWW-Authenticate) or 403 and recorded a cairn.auth.denied meta-audit event; returns null. */
  require(req: FastifyRequest, reply: FastifyReply, action: Action): Promise<Principal | null>;
  /** The entries this request's principal may see (already includes the genesis sharing mode). */
  scope(req: FastifyRequest): Promise<EntryScope>;
  /** Records a successful restricted read durably BEFORE the route sends the answer. Returns false
   *  when the meta-audit queue is full and the policy fails closed: the route must then answer 503
   *  `unavailable` and send no content. */
  recordRead(req: FastifyRequest, principal: Principal, what: { action: string; resource: { type: string; id: string } }): Promise<boolean>;
  /** Records a refused or concealed read (e.g. an entry outside the scope answered as not found). */
  recordDenied?(req: FastifyRequest, principal: Principal, what: { action: string; resource: { type: string; id: string }; reason: string }): Promise<void>;
  /** True when reads are restricted by a policy (answers must not be cached publicly). */
  readonly restricted?: boolean;
}

const FULL: EntryScope = Object.freeze({ full: true }) as EntryScope;

/** No policy configured: everything is open to anyone who reaches the peer, nothing is recorded. */
export function allowAllGate(): AccessGate {
  return {
    require: async () => ANONYMOUS,
    scope: async () => FULL,
    recordRead: async () => true,
  };
}

export interface PolicyGateOptions {
  access: AccessControl;
  sharing: Sharing;
  metaAudit?: MetaAudit;
  log?: { error(fields: Record<string, unknown>, msg: string): void };
}

type Who = Principal | AuthError;

function requestLike(req: FastifyRequest): RequestLike {
  const raw = (req as { rawBody?: unknown }).rawBody;
  return {
    method: req.method,
    url: req.raw.url ?? req.url,
    headers: req.headers,
    body: raw instanceof Uint8Array ? raw : null,
    remoteAddress: req.raw.socket?.remoteAddress ?? '',
    tls: (req.raw.socket as TLSSocket | undefined)?.encrypted === true,
  };
}

/** The route as the meta-audit names it: method and path, query left out, bounded. */
function routeOf(req: FastifyRequest): string {
  const url = req.raw.url ?? req.url;
  const q = url.indexOf('?');
  return `${req.method} ${(q < 0 ? url : url.slice(0, q)).slice(0, 300)}`;
}

/** Sends a 401 / 403 / 503 answer for an authentication or authorization failure. */
export function sendAuthError(reply: FastifyReply, e: AuthError): FastifyReply {
  if (e.wwwAuthenticate !== undefined) reply.header('www-authenticate', e.wwwAuthenticate);
  if (e.status === 503) reply.header('retry-after', String(RETRY_AFTER_S));
  return reply
    .code(e.status)
    .type('application/json; charset=utf-8')
    .send({ error: { code: e.error, message: e.message, reason: e.reason } });
}

/**
 * The gate built from an organization's policy. Authentication runs at most once per request
 * (the result is kept on the request); public routes (hashes and signatures only) skip it unless
 * the policy says `publicRequiresAuth`, so tlog-tiles clients and health checks cost nothing.
 */
export class PolicyGate implements AccessGate {
  readonly restricted = true;
  private readonly who = new WeakMap<object, Promise<Who>>();
  private readonly scopes = new WeakMap<object, Promise<EntryScope>>();

  constructor(private readonly o: PolicyGateOptions) {}

  get policy(): Policy {
    return this.o.access.policy;
  }

  get sharingMode(): Sharing['mode'] {
    return this.o.sharing.mode;
  }

  get access(): AccessControl {
    return this.o.access;
  }

  /** Who sent this request (authenticated once, then cached on the request). */
  principal(req: FastifyRequest): Promise<Who> {
    let p = this.who.get(req.raw);
    if (p === undefined) {
      p = this.o.access.authenticate(requestLike(req));
      this.who.set(req.raw, p);
    }
    return p;
  }

  async require(req: FastifyRequest, reply: FastifyReply, action: Action): Promise<Principal | null> {
    if (action === 'read.checkpoint' && !this.policy.publicRequiresAuth) return ANONYMOUS;
    const who = await this.principal(req);
    if (!who.ok) return this.refuse(req, reply, 'anonymous', who);
    const d = this.o.access.authorize(who, action);
    if (!d.allow) return this.refuse(req, reply, who.id, d.error);
    // Entry bundles mix entries of every client: in own-clients mode even a local auditor's
    // scope is not full, so only consortium auditors may read them.
    if (action === 'read.bundle' && !(await this.scope(req)).full) {
      return this.refuse(req, reply, who.id, forbidden('full_scope_required', 'entry bundles hold every organization\'s entries: they need a role with a full scope (auditor)'));
    }
    return who;
  }

  scope(req: FastifyRequest): Promise<EntryScope> {
    let s = this.scopes.get(req.raw);
    if (s === undefined) {
      s = this.principal(req).then((who) => this.scopeOf(who));
      this.scopes.set(req.raw, s);
    }
    return s;
  }

  /** A principal's scope, with the genesis sharing mode applied. */
  scopeOf(who: Who): EntryScope {
    if (!who.ok) return NOTHING;
    const base = this.o.access.scopeOf(who);
    const sh = this.o.sharing;
    if (sh.mode === 'consortium' || (who.keyName !== undefined && sh.auditorKeys.has(who.keyName))) return base;
    return base.full ? { full: false, matches: (e) => sh.vouched(e) } : { full: false, matches: (e) => sh.vouched(e) && base.matches(e) };
  }

  async recordRead(req: FastifyRequest, principal: Principal, what: { action: string; resource: { type: string; id: string } }): Promise<boolean> {
    const r = await this.record(req, { actor: principal.id, action: what.action, resource: what.resource, outcome: 'success' });
    return r !== 'full' || !this.policy.metaAudit.failClosed;
  }

  async recordDenied(req: FastifyRequest, principal: Principal, what: { action: string; resource: { type: string; id: string }; reason: string }): Promise<void> {
    await this.record(req, { actor: principal.id, action: what.action, resource: what.resource, outcome: 'denied', reason: what.reason });
  }

  /** Records the denial, then answers it (401 with WWW-Authenticate, 403 or 503). */
  async refuse(req: FastifyRequest, reply: FastifyReply, actor: string, e: AuthError): Promise<null> {
    await this.record(req, { actor, action: 'cairn.auth.denied', resource: { type: 'route', id: routeOf(req) }, outcome: 'denied', reason: e.reason });
    sendAuthError(reply, e);
    return null;
  }

  /** A failure to record counts as a full queue: the read is refused if the policy fails closed. */
  private async record(req: FastifyRequest, ev: Omit<MetaAuditEvent, 'address' | 'atMs'>): Promise<'queued' | 'full' | 'none'> {
    const m = this.o.metaAudit;
    if (m === undefined) return 'none';
    try {
      return await m.record({ ...ev, address: clientAddressOf(req), atMs: Date.now() });
    } catch (e) {
      this.o.log?.error({ error: (e as Error).message, action: ev.action }, 'meta-audit record failed');
      return 'full';
    }
  }
}

const NOTHING: EntryScope = Object.freeze({ full: false, matches: () => false }) as EntryScope;

function clientAddressOf(req: FastifyRequest): string {
  return req.raw.socket?.remoteAddress ?? 'unknown';
}

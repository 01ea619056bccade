// The access gate: the one object every HTTP route asks "may this request do that?". It
// authenticates a request once (the result is cached on the request), authorizes an action,
// answers 401/403 itself on refusal, tells multi-entry routes which entries the principal may see,
// and records restricted reads and denials in the meta-audit log before the answer goes out.
// Without a policy the peer is open (allowAllGate): every read is allowed, nothing is recorded.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ANONYMOUS } from '../auth/index.js';
import type { Action, Principal } from '../auth/index.js';
import type { AuditEntry } from '../../src/entry/types.js';

export type EntryScope = { full: true } | { full: false; matches: (e: AuditEntry) => boolean };

/** One meta-audit record: who read what (or was refused), from where. */
export interface MetaAuditEvent {
  /** Principal.id, e.g. "https://idp.example#alice" or "key:auditor". */
  actor: string;
  /** 'cairn.read.entry' | 'cairn.read.bundle' | 'cairn.read.receipt' | 'cairn.read.search' | ... | 'cairn.auth.denied' */
  action: string;
  resource: { type: string; id: string };
  /** The client's network address. */
  address: string;
  outcome: 'success' | 'denied';
  /** The auth reason code, for denials. */
  reason?: string;
  atMs: number;
}

/** What the gate needs from the meta-audit log (node/meta-audit implements it). */
export interface MetaAudit {
  /** Durable before it resolves; 'full' when the queue is at its bound. */
  record(ev: MetaAuditEvent): Promise<'queued' | 'full'>;
  stats(): { queued: number; submitted: number; final: number; coalesced: number };
  close(): Promise<void>;
}

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

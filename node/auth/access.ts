// The one entry point the HTTP server calls for access control:
//   authenticate(request) -> Principal | AuthError   (who is asking; 401 / 503 on failure)
//   authorize(principal, action, resource) -> allow | deny (401 without credentials, else 403)
//   issueToken(principal) -> a short-lived bearer token for a signature principal
// Credentials, one per request: `Authorization: Bearer <OpenID JWT | peer token>`, or an HTTP
// message signature (`Signature-Input` + `Signature`). No credentials: the anonymous principal,
// which may read only what is public (and nothing when the policy says public routes need auth).
import type { AuditEntry } from '../../src/entry/types.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { forbidden, safeText, unauthenticated } from './errors.js';
import type { AuthError } from './errors.js';
import { verifyRequestSignature } from './httpsig.js';
import { OidcVerifier } from './oidc.js';
import type { OidcOptions } from './oidc.js';
import { issuePeerToken, PEER_TOKEN_PREFIX, verifyPeerToken } from './peer-token.js';
import type { IssuedToken } from './peer-token.js';
import { KIND_ACTIONS } from './policy.js';
import type { Action, Policy, Role } from './policy.js';
import { ReplayCache } from './replay.js';
import { TokenCache } from './token-cache.js';
import type { Principal, RequestLike } from './types.js';

export interface AccessOptions extends OidcOptions {
  /** This peer's name (issuer of its tokens), e.g. its organization name. */
  peerName: string;
  /** This peer's own key: signs the bearer tokens it issues. */
  tokenSigner: Ed25519Signer;
  /** `scheme://host[:port]` clients use to reach the peer, when it sits behind a proxy. */
  origin?: string;
}

/** What is being accessed: for `read.entry` the entry itself (its scope is checked). */
export interface Resource {
  entry?: AuditEntry;
}

export type Decision =
  | { allow: true }
  | {
      allow: false;
      error: AuthError;
      /**
       * True when the entry exists but is outside the principal's scope: the caller must answer
       * exactly as for an entry that does not exist (same status, body, headers and timing), so
       * that no answer reveals that the entry exists.
       */
      conceal: boolean;
    };

export const ANONYMOUS: Principal = Object.freeze({ ok: true, kind: 'anonymous', id: 'anonymous', roles: [], rolesMissingMfa: [] }) as Principal;

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}

export class AccessControl {
  private readonly oidc: OidcVerifier;
  private readonly replay: ReplayCache;
  private readonly keys: Map<string, Uint8Array>;
  private readonly now: () => number;
  private readonly publicKey: Uint8Array;
  private readonly tokens = new TokenCache();

  constructor(readonly policy: Policy, private readonly o: AccessOptions) {
    if (o.origin !== undefined && !/^https?:\/\/[^/?#\s]+$/.test(o.origin)) {
      throw new Error('origin must be scheme://host[:port] with no path');
    }
    this.now = o.now ?? Date.now;
    this.oidc = new OidcVerifier(policy.issuers, policy.roles, { ...o, now: this.now });
    this.replay = new ReplayCache(policy.signatures.replayEntriesMax, policy.signatures.replayEntriesPerKeyMax);
    this.keys = new Map(policy.keys.map((k) => [k.name, k.publicKey]));
    this.publicKey = o.tokenSigner.publicKey;
  }

  /** Nonces remembered now (for metrics). */
  get replayCacheSize(): number {
    return this.replay.size;
  }

  async authenticate(req: RequestLike): Promise<Principal | AuthError> {
    const authz = req.headers.authorization;
    const signed = req.headers['signature-input'] !== undefined || req.headers.signature !== undefined;
    if (authz !== undefined && signed) {
      return unauthenticated('credentials_ambiguous', 'send either a bearer token or an HTTP message signature, not both');
    }
    if (authz !== undefined) {
      const v = firstHeader(authz);
      const m = v === undefined ? null : /^Bearer +([^\s]+) *$/i.exec(v);
      if (m === null) return unauthenticated('token_malformed', 'Authorization must be "Bearer <token>" (one header)');
      const token = m[1]!;
      const now = this.now();
      const cached = this.tokens.get(token, now);
      if (cached !== undefined) return cached;
      const p = token.startsWith(PEER_TOKEN_PREFIX)
        ? verifyPeerToken(token, this.policy, this.publicKey, this.o.peerName, now)
        : await this.oidc.verify(token);
      if (p.ok) this.tokens.set(token, p);
      return p;
    }
    if (signed) {
      const r = verifyRequestSignature(req, {
        keyFor: (k) => this.keys.get(k),
        nowMs: this.now(),
        windowSeconds: this.policy.signatures.windowSeconds,
        futureSkewSeconds: this.policy.signatures.futureSkewSeconds,
        replay: this.replay,
        ...(this.o.origin !== undefined ? { origin: this.o.origin } : {}),
      });
      if (!r.ok) return r;
      const key = this.policy.keys.find((k) => k.name === r.keyid)!;
      const roles = key.roles.map((n) => this.policy.roles.get(n)).filter((x): x is Role => x !== undefined);
      return { ok: true, kind: 'key', id: `key:${key.name}`, keyName: key.name, roles, rolesMissingMfa: [] };
    }
    return ANONYMOUS;
  }

  authorize(p: Principal, action: Action, resource: Resource = {}): Decision {
    const deny = (error: AuthError, conceal = false): Decision => ({ allow: false, error, conceal });
    if (action === 'read.checkpoint' && !this.policy.publicRequiresAuth) return { allow: true };
    if (p.kind === 'anonymous') {
      return deny(unauthenticated('credentials_missing', `${action} needs authentication: a bearer token or an HTTP message signature`));
    }
    const able = p.roles.filter((r) => KIND_ACTIONS[r.kind].includes(action));
    if (able.length === 0) {
      const withMfa = p.rolesMissingMfa.filter((r) => KIND_ACTIONS[r.kind].includes(action));
      if (withMfa.length > 0) {
        return deny(forbidden('mfa_required', `role ${safeText(withMfa[0]!.name)} requires multi-factor authentication: the token has no accepted acr or amr claim`));
      }
      return deny(forbidden('role_missing', `${safeText(p.id)} has no role that allows ${action}`));
    }
    if (action === 'read.entry') {
      if (resource.entry === undefined) return { allow: true }; // the route checks each entry it returns
      if (able.some((r) => r.scope.matches(resource.entry!))) return { allow: true };
      return deny(forbidden('out_of_scope', 'entry not found'), true);
    }
    if (action === 'read.bundle') {
      if (able.some((r) => r.scope.full)) return { allow: true };
      return deny(forbidden('full_scope_required', 'entry bundles hold every organization\'s entries: they need a role with a full scope (auditor)'));
    }
    return { allow: true };
  }

  /**
   * The entries this principal may read, for routes that return several (search, export,
   * streams): `full` when every entry is visible, else a predicate to apply to each entry.
   */
  scopeOf(p: Principal): { full: true } | { full: false; matches: (e: AuditEntry) => boolean } {
    // Roles that read entries one way or another (an exporter only through the stream). The union
    // may widen a reader+exporter principal's search to the exporter's scope: it could stream those.
    const readers = p.roles.filter((r) => KIND_ACTIONS[r.kind].includes('read.entry') || KIND_ACTIONS[r.kind].includes('read.stream'));
    if (readers.some((r) => r.scope.full)) return { full: true };
    return { full: false, matches: (e) => readers.some((r) => r.scope.matches(e)) };
  }

  /** A short-lived bearer token for a signature-authenticated principal, with its own roles. */
  issueToken(p: Principal): IssuedToken | AuthError {
    return issuePeerToken(p, this.policy, this.o.tokenSigner, this.o.peerName, this.now());
  }
}

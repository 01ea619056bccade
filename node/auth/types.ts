// What the HTTP layer hands to authentication, and what it gets back.
import type { Role } from './policy.js';

/** The parts of an HTTP request that authentication looks at (a Fastify request maps onto it). */
export interface RequestLike {
  method: string;
  /** The request target as received: path and query (origin-form), e.g. `/v1/entries/abc?x=1`. */
  url: string;
  /** Header names in lower case (as Node gives them); repeated fields as arrays. */
  headers: Record<string, string | string[] | undefined>;
  /** The raw body bytes (empty or absent for GET). */
  body?: Uint8Array | null;
  remoteAddress?: string;
  /** Whether the request came over TLS (sets the scheme of `@target-uri`). */
  tls: boolean;
}

export type PrincipalKind = 'anonymous' | 'oidc' | 'key' | 'token';

export interface Principal {
  ok: true;
  kind: PrincipalKind;
  /**
   * Stable, printable identity for logs and the meta-audit entry's actor: `<issuer>#<subject>`
   * for OpenID principals, `key:<name>` for signature keys and tokens issued to them,
   * `anonymous` otherwise.
   */
  id: string;
  issuer?: string;
  subject?: string;
  keyName?: string;
  /** Roles in force for this request. */
  roles: Role[];
  /** Roles the principal's claims map to that need MFA evidence the token lacks. */
  rolesMissingMfa: Role[];
  /** When the credential stops being valid (ms since epoch), if it has an end. */
  expiresAt?: number;
}

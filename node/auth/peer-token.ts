// Short-lived bearer tokens that a peer issues to a principal it authenticated by HTTP message
// signature (`POST /v1/auth/token`), for tools that can only send a bearer token (curl,
// Prometheus, tlog-tiles clients).
//
// Format: `cairn1.<base64url(JSON claims)>.<base64url(Ed25519 signature)>`, signed with the peer's
// own key over a domain-separated message, so no token of another kind (and no entry or vote
// signature) can pass as one. Claims: iss (this peer), sub (key name), roles, iat, exp, jti.
// Lifetime at most 15 minutes. At each use the roles are intersected with the key's roles in the
// current policy: removing a key or a role takes effect at once, without a revocation list.
import { randomBytes } from 'node:crypto';
import { domainMessage } from '../../src/crypto/domain.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { forbidden, unauthenticated } from './errors.js';
import type { AuthError } from './errors.js';
import { TOKEN_TTL_MAX_SECONDS } from './policy.js';
import type { Policy, Role } from './policy.js';
import type { Principal } from './types.js';

export const PEER_TOKEN_PREFIX = 'cairn1.';
export const PEER_TOKEN_DOMAIN = 'cairn/auth-token/v1';
/** Longest peer token accepted, in characters. */
export const PEER_TOKEN_LENGTH_MAX = 4096;
/** Tolerated clock difference for `iat` (tokens are verified by the peer that issued them). */
const IAT_SKEW_SECONDS = 30;

interface Claims {
  iss: string;
  sub: string;
  roles: string[];
  iat: number;
  exp: number;
  jti: string;
}

export interface IssuedToken {
  token: string;
  /** Seconds since epoch. */
  expiresAt: number;
  roles: string[];
}

function b64u(b: Uint8Array): string {
  return Buffer.from(b).toString('base64url');
}

/** Issues a token for a signature-authenticated principal, carrying its own roles only. */
export function issuePeerToken(p: Principal, policy: Policy, signer: Ed25519Signer, peerName: string, nowMs: number): IssuedToken | AuthError {
  if (p.kind !== 'key' || p.keyName === undefined) {
    return forbidden('role_missing', 'tokens are issued only to principals authenticated by an HTTP message signature');
  }
  if (p.roles.length === 0) return forbidden('role_missing', `key "${p.keyName}" has no role`);
  const iat = Math.floor(nowMs / 1000);
  const ttl = Math.min(policy.tokens.ttlSeconds, TOKEN_TTL_MAX_SECONDS);
  const claims: Claims = { iss: peerName, sub: p.keyName, roles: p.roles.map((r) => r.name), iat, exp: iat + ttl, jti: randomBytes(12).toString('base64url') };
  const payload = new TextEncoder().encode(JSON.stringify(claims));
  const sig = signer.sign(domainMessage(PEER_TOKEN_DOMAIN, payload));
  return { token: `${PEER_TOKEN_PREFIX}${b64u(payload)}.${b64u(sig)}`, expiresAt: claims.exp, roles: claims.roles };
}

function isClaims(v: unknown): v is Claims {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return typeof c.iss === 'string' && typeof c.sub === 'string' && typeof c.jti === 'string' &&
    Number.isSafeInteger(c.iat) && Number.isSafeInteger(c.exp) &&
    Array.isArray(c.roles) && c.roles.length <= 16 && c.roles.every((r) => typeof r === 'string');
}

/** Verifies a token this peer issued (its own public key and name). */
export function verifyPeerToken(token: string, policy: Policy, peerPublicKey: Uint8Array, peerName: string, nowMs: number): Principal | AuthError {
  if (token.length > PEER_TOKEN_LENGTH_MAX || !token.startsWith(PEER_TOKEN_PREFIX)) return unauthenticated('token_malformed', 'not a peer token');
  const parts = token.slice(PEER_TOKEN_PREFIX.length).split('.');
  if (parts.length !== 2 || !/^[A-Za-z0-9_-]+$/.test(parts[0]!) || !/^[A-Za-z0-9_-]+$/.test(parts[1]!)) {
    return unauthenticated('token_malformed', 'peer token is not cairn1.<claims>.<signature>');
  }
  const payload = new Uint8Array(Buffer.from(parts[0]!, 'base64url'));
  const sig = new Uint8Array(Buffer.from(parts[1]!, 'base64url'));
  if (!nodeVerifier.verify(peerPublicKey, domainMessage(PEER_TOKEN_DOMAIN, payload), sig)) {
    return unauthenticated('token_signature', 'peer token signature does not verify (issued by another peer or altered)');
  }
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return unauthenticated('token_malformed', 'peer token claims unreadable');
  }
  if (!isClaims(claims)) return unauthenticated('token_malformed', 'peer token claims incomplete');
  if (claims.iss !== peerName) return unauthenticated('token_issuer_unknown', 'peer token issued by another peer');
  const nowS = Math.floor(nowMs / 1000);
  if (claims.exp - claims.iat > TOKEN_TTL_MAX_SECONDS) return unauthenticated('token_claims', 'peer token lifetime too long');
  if (claims.iat > nowS + IAT_SKEW_SECONDS) return unauthenticated('token_not_yet_valid', 'peer token issued in the future');
  if (claims.exp <= nowS) return unauthenticated('token_expired', 'peer token expired');
  const key = policy.keys.find((k) => k.name === claims.sub);
  if (key === undefined) return unauthenticated('token_revoked', `key "${claims.sub}" is no longer trusted`);
  const roles: Role[] = [];
  for (const name of claims.roles) {
    const role = policy.roles.get(name);
    if (role !== undefined && key.roles.includes(name)) roles.push(role);
  }
  return { ok: true, kind: 'token', id: `key:${key.name}`, keyName: key.name, roles, rolesMissingMfa: [], expiresAt: claims.exp * 1000 };
}

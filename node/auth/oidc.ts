// OpenID Connect bearer tokens (JWT) from the organization's identity providers, verified with
// `jose` against each issuer's published keys (JWKS), with the issuer, audience and algorithms
// pinned by the policy and exp/nbf checked with the issuer's clock window. Claims map to roles by
// the policy's rules; a role that requires MFA is granted only with matching `acr`/`amr` claims.
//
// Order: size and shape, then the unverified header and `iss` only to choose the issuer's
// configuration (an unknown issuer or an algorithm outside the pinned list is refused before any
// key is fetched), then the signature and claims (jose), then role mapping.
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import { safeText, unauthenticated, unavailable } from './errors.js';
import type { AuthError } from './errors.js';
import type { Issuer, Role } from './policy.js';
import type { Principal } from './types.js';

/** Longest bearer token accepted, in characters. */
export const JWT_LENGTH_MAX = 16 * 1024;
/** Largest discovery document read, in bytes. */
export const DISCOVERY_BYTES_MAX = 64 * 1024;

export interface OidcOptions {
  /** Milliseconds since epoch (injectable for tests). */
  now?: () => number;
  /** Timeout for discovery and JWKS fetches. */
  fetchTimeoutMs?: number;
  /** Minimum time between two JWKS refetches when a token names an unknown key id. */
  jwksCooldownMs?: number;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

interface IssuerState {
  config: Issuer;
  keys: Promise<KeySet> | null;
  failedAt: number;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

function claimAt(payload: JWTPayload, path: string): unknown {
  let v: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Does the token carry the MFA evidence a role asks for (RFC 8176 `amr`, or an accepted `acr`)? */
export function hasMfa(payload: JWTPayload, role: Role): boolean {
  if (role.mfa === null) return true;
  const acr = payload.acr;
  if (typeof acr === 'string' && role.mfa.acr.includes(acr)) return true;
  const amr = payload.amr;
  return Array.isArray(amr) && amr.some((m) => typeof m === 'string' && role.mfa!.amr.includes(m));
}

export class OidcVerifier {
  private readonly issuers = new Map<string, IssuerState>();
  private readonly now: () => number;
  private readonly timeout: number;
  private readonly cooldown: number;

  constructor(issuers: Issuer[], private readonly roles: Map<string, Role>, o: OidcOptions = {}) {
    for (const config of issuers) this.issuers.set(config.issuer, { config, keys: null, failedAt: 0 });
    this.now = o.now ?? Date.now;
    this.timeout = o.fetchTimeoutMs ?? 5000;
    this.cooldown = o.jwksCooldownMs ?? 30_000;
  }

  private async discover(iss: Issuer): Promise<URL> {
    if (iss.jwksUri !== null) return new URL(iss.jwksUri);
    const url = `${iss.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal: AbortSignal.timeout(this.timeout), redirect: 'error' });
    if (!res.ok) throw new Error(`discovery answered ${res.status}`);
    const buf = await res.arrayBuffer();
    if (buf.byteLength > DISCOVERY_BYTES_MAX) throw new Error('discovery document too large');
    const doc = JSON.parse(new TextDecoder().decode(buf)) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery §4.3: the document's issuer must be exactly the configured one.
    if (doc.issuer !== iss.issuer) throw new Error('discovery document names another issuer');
    if (typeof doc.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
    const jwks = new URL(doc.jwks_uri);
    if (jwks.protocol !== 'https:' && !(jwks.protocol === 'http:' && LOOPBACK.has(jwks.hostname))) {
      throw new Error('jwks_uri is not https');
    }
    return jwks;
  }

  private keySet(state: IssuerState): Promise<KeySet> {
    // A failed discovery is retried, but not more often than the cooldown (a down provider must
    // not turn every request into an outbound fetch).
    if (state.keys === null && this.now() - state.failedAt >= this.cooldown) {
      state.keys = this.discover(state.config).then(
        (url) => createRemoteJWKSet(url, { timeoutDuration: this.timeout, cooldownDuration: this.cooldown, cacheMaxAge: 10 * 60_000 }),
        (e: unknown) => {
          state.keys = null;
          state.failedAt = this.now();
          throw e;
        },
      );
    }
    return state.keys ?? Promise.reject(new Error('identity provider recently unreachable'));
  }

  /** Verifies a bearer JWT and maps it to a principal, or says precisely why not. */
  async verify(token: string): Promise<Principal | AuthError> {
    if (token.length > JWT_LENGTH_MAX) return unauthenticated('token_malformed', `token longer than ${JWT_LENGTH_MAX} characters`);
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token)) return unauthenticated('token_malformed', 'not a compact JWT');
    let header;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      return unauthenticated('token_malformed', 'token header or payload is not valid JSON');
    }
    const state = typeof unverified.iss === 'string' ? this.issuers.get(unverified.iss) : undefined;
    if (state === undefined) return unauthenticated('token_issuer_unknown', `issuer ${safeText(unverified.iss ?? '(none)')} is not trusted by this peer`);
    const cfg = state.config;
    if (typeof header.alg !== 'string' || !cfg.algorithms.includes(header.alg)) {
      return unauthenticated('token_alg_not_allowed', `algorithm ${safeText(header.alg ?? '(none)')} is not allowed for this issuer (allowed: ${cfg.algorithms.join(', ')})`);
    }
    let keys: KeySet;
    try {
      keys = await this.keySet(state);
    } catch (e) {
      return unavailable('issuer_unavailable', `cannot load the keys of issuer ${safeText(cfg.issuer)}: ${safeText((e as Error).message)}`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: cfg.issuer,
        audience: cfg.audience,
        algorithms: cfg.algorithms,
        clockTolerance: cfg.clockSkewSeconds,
        currentDate: new Date(this.now()),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (e) {
      return mapJoseError(e, cfg);
    }
    const subject = payload.sub as string;
    const roles: Role[] = [];
    const rolesMissingMfa: Role[] = [];
    const names = new Set<string>();
    for (const rule of cfg.roles) {
      const v = claimAt(payload, rule.claim);
      if (v === rule.value || (Array.isArray(v) && v.includes(rule.value))) names.add(rule.role);
    }
    for (const name of names) {
      const role = this.roles.get(name);
      if (role === undefined) continue;
      (hasMfa(payload, role) ? roles : rolesMissingMfa).push(role);
    }
    return {
      ok: true,
      kind: 'oidc',
      id: `${cfg.issuer}#${subject}`,
      issuer: cfg.issuer,
      subject,
      roles,
      rolesMissingMfa,
      expiresAt: (payload.exp as number) * 1000,
    };
  }
}

function mapJoseError(e: unknown, cfg: Issuer): AuthError {
  if (e instanceof errors.JWTExpired) return unauthenticated('token_expired', 'token expired');
  if (e instanceof errors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'nbf':
        return unauthenticated('token_not_yet_valid', 'token not yet valid (nbf in the future)');
      case 'iat':
        return unauthenticated('token_not_yet_valid', 'token issued in the future (iat)');
      case 'aud':
        return unauthenticated('token_audience', `token audience is not ${cfg.audience.join(' or ')}`);
      case 'iss':
        return unauthenticated('token_issuer_unknown', 'token issuer does not match');
      default:
        return unauthenticated('token_claims', `token claim ${safeText(e.claim)} invalid (${safeText(e.reason)})`);
    }
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return unauthenticated('token_alg_not_allowed', 'token algorithm not allowed');
  if (e instanceof errors.JWKSNoMatchingKey) return unauthenticated('token_kid_unknown', 'no key of the issuer matches the token (unknown kid)');
  if (e instanceof errors.JWKSMultipleMatchingKeys) return unauthenticated('token_kid_unknown', 'token names no kid and the issuer has several keys');
  if (e instanceof errors.JWSSignatureVerificationFailed) return unauthenticated('token_signature', 'token signature does not verify');
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid) {
    return unavailable('issuer_unavailable', `cannot load the keys of issuer ${safeText(cfg.issuer)}`);
  }
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid || e instanceof errors.JOSENotSupported) {
    return unauthenticated('token_malformed', `token malformed: ${safeText((e as Error).message)}`);
  }
  // A JWKS endpoint answering other than 200, a network failure or a timeout: the provider, not
  // the token, is at fault.
  if ((e instanceof errors.JOSEError && e.code === 'ERR_JOSE_GENERIC') || e instanceof TypeError || (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError'))) {
    return unavailable('issuer_unavailable', `cannot load the keys of issuer ${safeText(cfg.issuer)}`);
  }
  return unauthenticated('token_malformed', 'token rejected');
}

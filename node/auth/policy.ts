// The access policy of one organization's peer: which identity providers and keys it trusts, how
// their claims map to roles, and what each role may read. Parsed from the `auth` object of the
// peer config and validated at load: every error names the path of the bad field
// (`auth.issuers[0].algorithms[1]`). Reference and examples: docs/access-control.md.
import { parsePublicKey } from '../../src/crypto/keys.js';
import { vetPublicKey } from '../../src/crypto/vet.js';
import { compileFilter, FULL_FILTER } from '../../src/filter/index.js';
import type { Filter } from '../../src/filter/index.js';

export type RoleKind = 'auditor' | 'reader' | 'exporter' | 'operator' | 'public';

/** Everything a request can ask to do; the HTTP routes map onto these. */
export type Action =
  | 'read.checkpoint' // checkpoint, hash tiles, consistency proofs, healthz: hashes and signatures only
  | 'read.entry' // one entry's content, by hash or id (and receipts that include it)
  | 'read.bundle' // entry bundles: many organizations' entries together
  | 'read.status'
  | 'read.metrics'
  | 'read.search' // search results: only in-scope entries, counts only over them
  | 'read.stream' // live entry streams and exports: only in-scope entries
  | 'admin'
  | 'admin.alerts' // alert rules and their state
  | 'auth.token'; // a short-lived bearer token for a signature-authenticated principal

export const ACTIONS: readonly Action[] = ['read.checkpoint', 'read.entry', 'read.bundle', 'read.status', 'read.metrics', 'read.search', 'read.stream', 'admin', 'admin.alerts', 'auth.token'];

// What each kind of role may do. `read.entry` is further limited by the role's scope;
// `read.bundle` needs a full scope. Any authenticated principal may ask for a token (the token
// carries only its own roles) and read what is public.
export const KIND_ACTIONS: Record<RoleKind, readonly Action[]> = {
  public: ['read.checkpoint'],
  auditor: ['read.checkpoint', 'read.entry', 'read.bundle', 'read.search', 'read.stream', 'auth.token'],
  reader: ['read.checkpoint', 'read.entry', 'read.bundle', 'read.search', 'read.stream', 'auth.token'],
  // A SIEM feed: the stream (within its scope) and what verifies it (checkpoints, proofs, tiles).
  // No read.entry/search/bundle: a pipe that only forwards final entries in log order needs no
  // random access by hash or query, so a leaked exporter credential cannot probe the log.
  exporter: ['read.checkpoint', 'read.stream', 'auth.token'],
  operator: ['read.checkpoint', 'read.status', 'read.metrics', 'admin', 'admin.alerts', 'auth.token'],
};

export interface MfaRequirement {
  /** Accepted `acr` values (any one suffices). */
  acr: string[];
  /** Accepted `amr` values (any one present suffices), RFC 8176. */
  amr: string[];
}

export interface Role {
  name: string;
  kind: RoleKind;
  /** Which entries this role may read; FULL_FILTER for auditors and unrestricted readers. */
  scope: Filter;
  /** Non-null: an OpenID principal holds this role only with one of these claims. */
  mfa: MfaRequirement | null;
}

export interface ClaimRule {
  /** Dotted claim path, e.g. `groups` or `realm_access.roles`. */
  claim: string;
  /** The claim equals this string, or is an array containing it. */
  value: string;
  role: string;
}

export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

export interface Issuer {
  issuer: string;
  audience: string[];
  /** The JWKS URL; when absent, read from the issuer's OpenID discovery document. */
  jwksUri: string | null;
  algorithms: string[];
  clockSkewSeconds: number;
  roles: ClaimRule[];
}

export interface SignatureKey {
  name: string;
  publicKey: Uint8Array;
  roles: string[];
}

export interface Policy {
  /** When true, even checkpoints, tiles, proofs and healthz need an authenticated principal. */
  publicRequiresAuth: boolean;
  issuers: Issuer[];
  keys: SignatureKey[];
  roles: Map<string, Role>;
  signatures: { windowSeconds: number; futureSkewSeconds: number; replayEntriesMax: number; replayEntriesPerKeyMax: number };
  tokens: { ttlSeconds: number };
  /** failClosed: answer restricted reads 503 when the meta-audit queue is full (default false:
   *  the meta-audit log coalesces the records instead, nothing is dropped). */
  metaAudit: { failClosed: boolean };
}

export interface PolicyError {
  path: string;
  message: string;
}

export type PolicyResult = { ok: true; policy: Policy } | { ok: false; errors: PolicyError[] };

export const POLICY_ISSUERS_MAX = 16;
export const POLICY_KEYS_MAX = 1024;
export const POLICY_ROLES_MAX = 256;
export const POLICY_CLAIM_RULES_MAX = 256;
/** Peer-issued bearer tokens live at most this long. */
export const TOKEN_TTL_MAX_SECONDS = 15 * 60;
/** Default MFA evidence: `amr` values that name a second factor or several (RFC 8176). */
export const DEFAULT_MFA_AMR = ['mfa', 'otp', 'hwk', 'sms', 'fpt', 'face', 'iris', 'retina', 'vbm', 'sc', 'swk'];

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

class Collector {
  errors: PolicyError[] = [];
  add(path: string, message: string): void {
    if (this.errors.length < 50) this.errors.push({ path, message });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(c: Collector, v: Record<string, unknown>, allowed: string[], path: string): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) c.add(`${path}.${k}`, `unknown field (allowed: ${allowed.join(', ')})`);
}

function str(c: Collector, v: unknown, path: string, max = 1024): string | null {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    c.add(path, `must be a non-empty string of at most ${max} characters`);
    return null;
  }
  return v;
}

function int(c: Collector, v: unknown, path: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    c.add(path, `must be an integer in ${min}..${max}`);
    return dflt;
  }
  return v;
}

function list(c: Collector, v: unknown, path: string, max: number): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > max) {
    c.add(path, `must be an array of at most ${max} items`);
    return [];
  }
  return v;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

// Keys fetched over plain HTTP could be swapped in transit: only loopback (tests, local proxies)
// may use it.
function httpsUrl(c: Collector, v: unknown, path: string): string | null {
  const s = str(c, v, path, 2048);
  if (s === null) return null;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    c.add(path, 'must be an absolute URL');
    return null;
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) {
    c.add(path, 'must use https (plain http only on loopback)');
    return null;
  }
  if (u.search || u.hash) c.add(path, 'must not have a query or fragment');
  return s;
}

function parseRole(c: Collector, name: string, v: unknown, path: string): Role | null {
  if (!isObject(v)) {
    c.add(path, 'must be an object');
    return null;
  }
  onlyKeys(c, v, ['kind', 'scope', 'mfa'], path);
  const kind = v.kind;
  if (kind !== 'auditor' && kind !== 'reader' && kind !== 'exporter' && kind !== 'operator' && kind !== 'public') {
    c.add(`${path}.kind`, 'must be one of auditor, reader, exporter, operator, public');
    return null;
  }
  let scope = FULL_FILTER;
  if (kind === 'reader' || kind === 'exporter') {
    // A reader without a scope would silently read everything: say so explicitly with "true".
    if (typeof v.scope !== 'string') {
      c.add(`${path}.scope`, `${kind === 'reader' ? 'a reader' : 'an exporter'} needs a scope (a filter expression; "true" for every entry)`);
      return null;
    }
    const r = compileFilter(v.scope);
    if (!r.ok) {
      const at = r.error.position ? ` at line ${r.error.position.line} column ${r.error.position.column}` : '';
      c.add(`${path}.scope`, `${r.error.code}: ${r.error.message}${at}`);
      return null;
    }
    scope = r.filter;
  } else if (v.scope !== undefined) {
    c.add(`${path}.scope`, `only reader and exporter roles have a scope (an ${kind} role's scope is fixed)`);
  }
  let mfa: MfaRequirement | null = null;
  if (v.mfa === true) mfa = { acr: [], amr: DEFAULT_MFA_AMR };
  else if (isObject(v.mfa)) {
    onlyKeys(c, v.mfa, ['acr', 'amr'], `${path}.mfa`);
    const acr = list(c, v.mfa.acr, `${path}.mfa.acr`, 16).map((x, i) => str(c, x, `${path}.mfa.acr[${i}]`, 256) ?? '');
    const amr = list(c, v.mfa.amr, `${path}.mfa.amr`, 16).map((x, i) => str(c, x, `${path}.mfa.amr[${i}]`, 64) ?? '');
    if (acr.length + amr.length === 0) c.add(`${path}.mfa`, 'give at least one acr or amr value (or mfa: true)');
    mfa = { acr, amr };
  } else if (v.mfa !== undefined && v.mfa !== false) c.add(`${path}.mfa`, 'must be true, false or { acr, amr }');
  return { name, kind, scope: kind === 'operator' || kind === 'public' ? FULL_FILTER : scope, mfa };
}

function parseIssuer(c: Collector, v: unknown, path: string, roles: Map<string, Role>): Issuer | null {
  if (!isObject(v)) {
    c.add(path, 'must be an object');
    return null;
  }
  onlyKeys(c, v, ['issuer', 'audience', 'jwksUri', 'algorithms', 'clockSkewSeconds', 'roles'], path);
  const issuer = httpsUrl(c, v.issuer, `${path}.issuer`);
  const jwksUri = v.jwksUri === undefined ? null : httpsUrl(c, v.jwksUri, `${path}.jwksUri`);
  const audRaw = typeof v.audience === 'string' ? [v.audience] : list(c, v.audience, `${path}.audience`, 8);
  const audience = audRaw.map((a, i) => str(c, a, `${path}.audience${typeof v.audience === 'string' ? '' : `[${i}]`}`, 512) ?? '');
  if (audience.length === 0) c.add(`${path}.audience`, 'required: the audience this peer accepts (never any audience)');
  const algorithms = list(c, v.algorithms, `${path}.algorithms`, 8).map((a, i) => {
    // Public-key algorithms only: an HMAC algorithm would let anyone who holds the issuer's public
    // key forge tokens, and `none` has no signature at all.
    if (typeof a !== 'string' || !(ASYMMETRIC_ALGS as readonly string[]).includes(a)) {
      c.add(`${path}.algorithms[${i}]`, `must be one of ${ASYMMETRIC_ALGS.join(', ')}`);
      return '';
    }
    return a;
  });
  if (algorithms.length === 0) c.add(`${path}.algorithms`, 'required: pin the signing algorithms (e.g. ["RS256"])');
  const clockSkewSeconds = int(c, v.clockSkewSeconds, `${path}.clockSkewSeconds`, 0, 300, 60);
  const rules: ClaimRule[] = [];
  list(c, v.roles, `${path}.roles`, POLICY_CLAIM_RULES_MAX).forEach((r, i) => {
    const p = `${path}.roles[${i}]`;
    if (!isObject(r)) return c.add(p, 'must be { claim, value, role }');
    onlyKeys(c, r, ['claim', 'value', 'role'], p);
    const claim = str(c, r.claim, `${p}.claim`, 128);
    const value = str(c, r.value, `${p}.value`, 512);
    const role = str(c, r.role, `${p}.role`, 64);
    if (role !== null && !roles.has(role)) c.add(`${p}.role`, `no role named "${role}" in auth.roles`);
    if (claim !== null && value !== null && role !== null) rules.push({ claim, value, role });
  });
  if (issuer === null) return null;
  return { issuer, audience, jwksUri, algorithms, clockSkewSeconds, roles: rules };
}

function parseKey(c: Collector, v: unknown, path: string, roles: Map<string, Role>): SignatureKey | null {
  if (!isObject(v)) {
    c.add(path, 'must be { name, publicKey, roles }');
    return null;
  }
  onlyKeys(c, v, ['name', 'publicKey', 'roles'], path);
  const name = str(c, v.name, `${path}.name`, 64);
  if (name !== null && !NAME.test(name)) c.add(`${path}.name`, 'must be 1..64 of a-z 0-9 . _ - (starting with a letter or digit)');
  let publicKey: Uint8Array | null = null;
  if (typeof v.publicKey !== 'string') c.add(`${path}.publicKey`, 'must be an Ed25519 public key: 64 hex digits, SPKI PEM or JWK');
  else {
    const k = parsePublicKey(v.publicKey);
    if (!k.ok) c.add(`${path}.publicKey`, `${k.code}: ${k.message}`);
    else {
      const vet = vetPublicKey(k.value);
      if (!vet.ok) c.add(`${path}.publicKey`, `${vet.code}: ${vet.message}`);
      else publicKey = k.value;
    }
  }
  const keyRoles = list(c, v.roles, `${path}.roles`, 16).map((r, i) => {
    const s = str(c, r, `${path}.roles[${i}]`, 64);
    if (s !== null && !roles.has(s)) c.add(`${path}.roles[${i}]`, `no role named "${s}" in auth.roles`);
    return s ?? '';
  });
  if (name === null || publicKey === null) return null;
  return { name, publicKey, roles: keyRoles };
}

/** Validates the `auth` object of a peer config. `path` prefixes every error path. */
export function parsePolicy(input: unknown, path = 'auth'): PolicyResult {
  const c = new Collector();
  if (!isObject(input)) return { ok: false, errors: [{ path, message: 'must be an object' }] };
  onlyKeys(c, input, ['publicRequiresAuth', 'issuers', 'keys', 'roles', 'signatures', 'tokens', 'metaAudit'], path);
  const roles = new Map<string, Role>();
  if (input.roles !== undefined && !isObject(input.roles)) c.add(`${path}.roles`, 'must be an object { name: role }');
  const roleEntries = isObject(input.roles) ? Object.entries(input.roles) : [];
  if (roleEntries.length > POLICY_ROLES_MAX) c.add(`${path}.roles`, `at most ${POLICY_ROLES_MAX} roles`);
  for (const [name, v] of roleEntries.slice(0, POLICY_ROLES_MAX)) {
    if (!NAME.test(name)) {
      c.add(`${path}.roles.${name}`, 'role names are 1..64 of a-z 0-9 . _ -');
      continue;
    }
    const r = parseRole(c, name, v, `${path}.roles.${name}`);
    if (r) roles.set(name, r);
  }
  const issuers = list(c, input.issuers, `${path}.issuers`, POLICY_ISSUERS_MAX)
    .map((v, i) => parseIssuer(c, v, `${path}.issuers[${i}]`, roles))
    .filter((x): x is Issuer => x !== null);
  const seenIss = new Set<string>();
  issuers.forEach((is, i) => {
    if (seenIss.has(is.issuer)) c.add(`${path}.issuers[${i}].issuer`, 'issuer listed twice');
    seenIss.add(is.issuer);
  });
  const keys = list(c, input.keys, `${path}.keys`, POLICY_KEYS_MAX)
    .map((v, i) => parseKey(c, v, `${path}.keys[${i}]`, roles))
    .filter((x): x is SignatureKey => x !== null);
  const seenKey = new Set<string>();
  keys.forEach((k, i) => {
    if (seenKey.has(k.name)) c.add(`${path}.keys[${i}].name`, 'key name listed twice');
    seenKey.add(k.name);
  });
  const sig = input.signatures === undefined ? {} : input.signatures;
  if (!isObject(sig)) c.add(`${path}.signatures`, 'must be an object');
  const s = isObject(sig) ? sig : {};
  onlyKeys(c, s, ['windowSeconds', 'futureSkewSeconds', 'replayEntriesMax', 'replayEntriesPerKeyMax'], `${path}.signatures`);
  const tok = input.tokens === undefined ? {} : input.tokens;
  if (!isObject(tok)) c.add(`${path}.tokens`, 'must be an object');
  const t = isObject(tok) ? tok : {};
  onlyKeys(c, t, ['ttlSeconds'], `${path}.tokens`);
  const ma = input.metaAudit === undefined ? {} : input.metaAudit;
  if (!isObject(ma)) c.add(`${path}.metaAudit`, 'must be an object');
  const m = isObject(ma) ? ma : {};
  onlyKeys(c, m, ['failClosed'], `${path}.metaAudit`);
  if (m.failClosed !== undefined && typeof m.failClosed !== 'boolean') c.add(`${path}.metaAudit.failClosed`, 'must be true or false');
  if (input.publicRequiresAuth !== undefined && typeof input.publicRequiresAuth !== 'boolean') {
    c.add(`${path}.publicRequiresAuth`, 'must be true or false');
  }
  const policy: Policy = {
    publicRequiresAuth: input.publicRequiresAuth === true,
    issuers,
    keys,
    roles,
    signatures: {
      windowSeconds: int(c, s.windowSeconds, `${path}.signatures.windowSeconds`, 10, 3600, 300),
      futureSkewSeconds: int(c, s.futureSkewSeconds, `${path}.signatures.futureSkewSeconds`, 0, 300, 30),
      replayEntriesMax: int(c, s.replayEntriesMax, `${path}.signatures.replayEntriesMax`, 1000, 10_000_000, 200_000),
      replayEntriesPerKeyMax: int(c, s.replayEntriesPerKeyMax, `${path}.signatures.replayEntriesPerKeyMax`, 100, 1_000_000, 20_000),
    },
    tokens: { ttlSeconds: int(c, t.ttlSeconds, `${path}.tokens.ttlSeconds`, 30, TOKEN_TTL_MAX_SECONDS, 600) },
    metaAudit: { failClosed: m.failClosed === true },
  };
  return c.errors.length > 0 ? { ok: false, errors: c.errors } : { ok: true, policy };
}

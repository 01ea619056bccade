// HTTP Message Signatures (RFC 9421) with Ed25519 (`alg="ed25519"`) and Content-Digest
// (RFC 9530): verifying requests that machines and auditors' tools sign, and signing them (the CLI
// and SDK use signRequest).
//
// A request is accepted only if its signature covers what makes it this request and no other:
// the method, the target URI (or authority + path + query), the digest of any body; `created` is
// inside the window; the `nonce` was not seen before; `keyid` names a configured key. Checks run
// cheapest first: sizes, parsing, key lookup, window, covered components, nonce lookup, digest,
// then the signature, and only then is the nonce recorded.
import { createHash } from 'node:crypto';
import { nodeVerifier } from '../../src/crypto/node.js';
import { safeText, unauthenticated, unavailable } from './errors.js';
import type { AuthError } from './errors.js';
import type { ReplayCache } from './replay.js';
import { isInnerList, parseDictionary, serializeInnerList, SfError } from './sf.js';
import type { InnerList, Params } from './sf.js';
import type { RequestLike } from './types.js';

/** Largest Signature-Input / Signature / Content-Digest field accepted, in characters. */
export const SIGNATURE_FIELD_MAX = 4096;
export const NONCE_MIN = 16;
export const NONCE_MAX = 128;

export interface SignatureVerifyOptions {
  /** The Ed25519 public key of a configured key name, or undefined. */
  keyFor: (keyid: string) => Uint8Array | undefined;
  nowMs: number;
  windowSeconds: number;
  futureSkewSeconds: number;
  /** Null only to check a bare signature (e.g. a published test vector): no nonce required. */
  replay: ReplayCache | null;
  /** False only for bare checks: do not insist on method, target and digest being covered. */
  requireCoverage?: boolean;
  /** `scheme://host[:port]` clients use to reach this peer (behind a proxy); default from Host and tls. */
  origin?: string;
}

export interface VerifiedSignature {
  ok: true;
  keyid: string;
  label: string;
  created: number;
  nonce: string | null;
  components: string[];
}

const fail = (reason: Parameters<typeof unauthenticated>[0], message: string): AuthError => unauthenticated(reason, message);

function header(req: RequestLike, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v.join(', ') : v).trim();
}

function targetParts(req: RequestLike, origin: string | undefined): { scheme: string; authority: string; path: string; query: string } | null {
  let scheme = req.tls ? 'https' : 'http';
  let authority = (header(req, 'host') ?? '').toLowerCase();
  if (origin !== undefined) {
    const u = new URL(origin);
    scheme = u.protocol.slice(0, -1);
    authority = u.host.toLowerCase();
  }
  // Default ports are not part of the authority (RFC 9421 §2.2.3 normalizes like RFC 3986).
  if ((scheme === 'https' && authority.endsWith(':443')) || (scheme === 'http' && authority.endsWith(':80'))) {
    authority = authority.slice(0, authority.lastIndexOf(':'));
  }
  if (authority === '' || !req.url.startsWith('/')) return null;
  const q = req.url.indexOf('?');
  return { scheme, authority, path: q < 0 ? req.url : req.url.slice(0, q), query: q < 0 ? '?' : req.url.slice(q) };
}

/** Builds the signature base (RFC 9421 §2.5), or an error message naming what is missing. */
export function signatureBase(req: RequestLike, list: InnerList, origin?: string): string | { missing: string } {
  const t = targetParts(req, origin);
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const item of list.items) {
    if (typeof item.value !== 'string') return { missing: 'component identifiers must be strings' };
    const id = item.value;
    if (item.params.size > 0) return { missing: `component parameters (on "${safeText(id)}") are not supported` };
    if (seen.has(id)) return { missing: `component "${safeText(id)}" covered twice` };
    seen.add(id);
    let value: string | undefined;
    switch (id) {
      case '@method':
        value = req.method;
        break;
      case '@target-uri':
        value = t ? `${t.scheme}://${t.authority}${t.path}${t.query === '?' ? '' : t.query}` : undefined;
        break;
      case '@authority':
        value = t?.authority;
        break;
      case '@scheme':
        value = t?.scheme;
        break;
      case '@request-target':
        value = req.url;
        break;
      case '@path':
        value = t?.path;
        break;
      case '@query':
        value = t?.query;
        break;
      default:
        if (id.startsWith('@') || id !== id.toLowerCase()) return { missing: `component "${safeText(id)}" is not supported` };
        value = header(req, id);
    }
    if (value === undefined) return { missing: `covered component "${safeText(id)}" is not in the request` };
    if (/[\r\n]/.test(value)) return { missing: `component "${safeText(id)}" has a line break` };
    lines.push(`"${id}": ${value}`);
  }
  lines.push(`"@signature-params": ${serializeInnerList(list)}`);
  return lines.join('\n');
}

function sha(alg: 'sha256' | 'sha512', body: Uint8Array): Buffer {
  return createHash(alg).update(body).digest();
}

/** Content-Digest field value (RFC 9530) for a body: sha-256. */
export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${sha('sha256', body).toString('base64')}:`;
}

// Every digest we know in the field must match; at least one must be present.
function checkDigest(field: string | undefined, body: Uint8Array): string | null {
  if (field === undefined) return 'the request has a body but no Content-Digest';
  if (field.length > SIGNATURE_FIELD_MAX) return 'Content-Digest too long';
  let dict;
  try {
    dict = parseDictionary(field);
  } catch (e) {
    return `Content-Digest unreadable: ${(e as Error).message}`;
  }
  let known = 0;
  for (const [alg, m] of dict) {
    if (alg !== 'sha-256' && alg !== 'sha-512') continue;
    if (isInnerList(m) || typeof m.value !== 'object' || !('bytes' in m.value)) return `Content-Digest ${alg} is not a byte sequence`;
    const want = sha(alg === 'sha-256' ? 'sha256' : 'sha512', body);
    if (!want.equals(Buffer.from(m.value.bytes))) return `Content-Digest ${alg} does not match the body`;
    known++;
  }
  return known === 0 ? 'Content-Digest has no sha-256 or sha-512 digest' : null;
}

function paramInt(p: Params, k: string): number | null | 'bad' {
  const v = p.get(k);
  if (v === undefined) return null;
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : 'bad';
}

/** Verifies the request's RFC 9421 signature. Returns the verified facts or a 401/503 AuthError. */
export function verifyRequestSignature(req: RequestLike, o: SignatureVerifyOptions): VerifiedSignature | AuthError {
  const inputField = header(req, 'signature-input');
  const sigField = header(req, 'signature');
  if (inputField === undefined || sigField === undefined) return fail('signature_malformed', 'Signature-Input and Signature are both required');
  if (inputField.length > SIGNATURE_FIELD_MAX || sigField.length > SIGNATURE_FIELD_MAX) return fail('signature_malformed', 'signature fields too long');
  let inputs;
  let sigs;
  try {
    inputs = parseDictionary(inputField);
    sigs = parseDictionary(sigField);
  } catch (e) {
    return fail('signature_malformed', `signature fields unreadable: ${e instanceof SfError ? e.message : 'parse error'}`);
  }
  // Several signatures may be present (a proxy may add its own): use the first whose key we know.
  let label: string | undefined;
  let list: InnerList | undefined;
  let keyid = '';
  let publicKey: Uint8Array | undefined;
  for (const [l, m] of inputs) {
    if (!isInnerList(m)) return fail('signature_malformed', `Signature-Input member "${safeText(l)}" is not an inner list`);
    const k = m.params.get('keyid');
    if (typeof k !== 'string') continue;
    const pk = o.keyFor(k);
    if (pk !== undefined) {
      label = l;
      list = m;
      keyid = k;
      publicKey = pk;
      break;
    }
  }
  if (label === undefined || list === undefined || publicKey === undefined) {
    return fail('signature_key_unknown', 'no signature names a keyid this peer trusts');
  }
  const p = list.params;
  const alg = p.get('alg');
  if (alg !== undefined && alg !== 'ed25519') return fail('signature_alg', `alg ${safeText(alg)} is not accepted (only ed25519)`);
  const created = paramInt(p, 'created');
  const expires = paramInt(p, 'expires');
  if (created === 'bad' || expires === 'bad') return fail('signature_malformed', 'created and expires must be integers');
  if (created === null) return fail('signature_expired', 'the signature has no created time');
  const nowS = Math.floor(o.nowMs / 1000);
  if (created > nowS + o.futureSkewSeconds) return fail('signature_future', `signature created ${created - nowS} s in the future (window ${o.futureSkewSeconds} s)`);
  if (created < nowS - o.windowSeconds) return fail('signature_expired', `signature created ${nowS - created} s ago, outside the ${o.windowSeconds} s window`);
  if (expires !== null && expires <= nowS) return fail('signature_expired', 'signature past its expires time');
  const nonceV = p.get('nonce');
  const nonce = typeof nonceV === 'string' ? nonceV : null;
  if (nonceV !== undefined && nonce === null) return fail('signature_nonce', 'nonce must be a string');
  if (o.replay !== null) {
    if (nonce === null) return fail('signature_nonce', 'the signature has no nonce');
    if (nonce.length < NONCE_MIN || nonce.length > NONCE_MAX) return fail('signature_nonce', `nonce must be ${NONCE_MIN}..${NONCE_MAX} characters`);
    if (o.replay.has(keyid, nonce, o.nowMs)) return fail('signature_replayed', 'this signature nonce was already used');
  }
  const covered = list.items.map((it) => (typeof it.value === 'string' ? it.value : ''));
  const body = req.body ?? new Uint8Array(0);
  if (o.requireCoverage !== false) {
    const target = covered.includes('@target-uri') || (covered.includes('@authority') && covered.includes('@path') && covered.includes('@query'));
    if (!covered.includes('@method') || !target) {
      return fail('signature_components', 'the signature must cover "@method" and "@target-uri" (or "@authority", "@path" and "@query")');
    }
    if ((body.length > 0 || header(req, 'content-digest') !== undefined) && !covered.includes('content-digest')) {
      return fail('signature_components', 'the signature must cover "content-digest" when there is a body');
    }
  }
  if (covered.includes('content-digest') || body.length > 0) {
    const bad = checkDigest(header(req, 'content-digest'), body);
    if (bad !== null) return fail('signature_digest', bad);
  }
  const sig = sigs.get(label);
  if (sig === undefined || isInnerList(sig) || typeof sig.value !== 'object' || !('bytes' in sig.value)) {
    return fail('signature_malformed', `no Signature byte sequence for label "${safeText(label)}"`);
  }
  const base = signatureBase(req, list, o.origin);
  if (typeof base !== 'string') return fail('signature_components', base.missing);
  if (!nodeVerifier.verify(publicKey, new TextEncoder().encode(base), sig.value.bytes)) {
    return fail('signature_invalid', `signature by key "${safeText(keyid)}" does not verify`);
  }
  if (o.replay !== null && nonce !== null) {
    const v = o.replay.add(keyid, nonce, (created + o.windowSeconds + 1) * 1000, o.nowMs);
    if (v === 'replayed') return fail('signature_replayed', 'this signature nonce was already used');
    if (v === 'full') return unavailable('replay_cache_full', 'too many recent signed requests; retry shortly');
  }
  return { ok: true, keyid, label, created, nonce, components: covered };
}

// Signing lives in the portable core (src/auth) so the browser SDK signs exactly as the CLI does.
export { signRequest } from '../../src/auth/sign.js';
export type { SignRequestInput, SignOptions } from '../../src/auth/sign.js';

// Signing HTTP requests with RFC 9421 HTTP Message Signatures (Ed25519, `alg="ed25519"`) and
// RFC 9530 Content-Digest, portable (Node 20+ and browsers: WebCrypto random bytes, @noble hashes,
// no node: modules). The peer's verifier (node/auth/httpsig.ts) accepts exactly this profile:
// `@method`, `@target-uri` and, when there is a body, `content-digest` covered; `created`,
// `keyid`, a fresh `nonce` and `alg` in the signature parameters.
//
// The signature base is built here from the URL the client will fetch. It must be byte for byte
// what the verifier rebuilds from the request it receives (Host header, origin-form target), which
// holds because `URL` normalizes the authority (lower case, default port dropped) and the path the
// same way fetch sends them. A unit test signs here and verifies with the peer's verifier.
import { sha256 } from '../crypto/hash.js';
import type { Ed25519Signer } from '../crypto/types.js';
import { toBase64 } from '../encoding/bytes.js';
import { toBase64Url } from '../encoding/base64url.js';

export interface SignRequestInput {
  method: string;
  /** Absolute URL of the request. */
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
}

export interface SignOptions {
  keyid: string;
  signer: Ed25519Signer;
  /** Seconds since epoch; default now. */
  created?: number;
  /** Default: 32 random bytes, base64url. Null: no nonce (only for reproducing test vectors). */
  nonce?: string | null;
  label?: string;
  /** Covered components; default @method, @target-uri, and content-digest when there is a body. */
  components?: string[];
  /** Add alg="ed25519" (default true). */
  alg?: boolean;
}

/** Longest keyid / nonce / label accepted (the verifier bounds its fields at 4,096 characters). */
const PARAM_CHARS_MAX = 256;
/** Structured-field keys (labels, component names): RFC 8941 §3.1.2. */
const SF_KEY = /^[a-z*][a-z0-9_.*-]*$/;
/** Structured-field strings: printable ASCII only (RFC 8941 §3.3.3). */
const SF_STRING = /^[\x20-\x7e]*$/;

export class SignRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignRequestError';
  }
}

function sfString(s: string, what: string): string {
  if (!SF_STRING.test(s) || s.length > PARAM_CHARS_MAX) throw new SignRequestError(`${what} must be 0..${PARAM_CHARS_MAX} printable ASCII characters`);
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Content-Digest field value (RFC 9530) for a body: sha-256. */
export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${toBase64(sha256(body))}:`;
}

/** A fresh nonce: 32 bytes from the platform CSPRNG, base64url (43 characters). */
export function randomNonce(): string {
  return toBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}

/** The value a covered component has in the request the client will send, or undefined. */
function componentValue(id: string, method: string, u: URL, headers: Record<string, string>): string | undefined {
  const scheme = u.protocol.slice(0, -1);
  const authority = u.host.toLowerCase();
  const query = u.search === '' ? '?' : u.search;
  switch (id) {
    case '@method':
      return method;
    case '@target-uri':
      return `${scheme}://${authority}${u.pathname}${u.search}`;
    case '@authority':
      return authority;
    case '@scheme':
      return scheme;
    case '@request-target':
      return u.pathname + u.search;
    case '@path':
      return u.pathname;
    case '@query':
      return query;
    default:
      if (id.startsWith('@')) return undefined;
      return headers[id]?.trim();
  }
}

/**
 * Signs a request; returns the header fields to add (lower-case names): `signature-input`,
 * `signature`, and `content-digest` when the request has a body and no digest yet.
 */
export function signRequest(req: SignRequestInput, o: SignOptions): Record<string, string> {
  const u = new URL(req.url);
  const out: Record<string, string> = {};
  const headers: Record<string, string> = { host: u.host };
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  const body = req.body ?? new Uint8Array(0);
  if (body.length > 0 && headers['content-digest'] === undefined) {
    headers['content-digest'] = contentDigest(body);
    out['content-digest'] = headers['content-digest'];
  }
  const components = o.components ?? ['@method', '@target-uri', ...(body.length > 0 ? ['content-digest'] : [])];
  const label = o.label ?? 'sig';
  if (!SF_KEY.test(label) || label.length > PARAM_CHARS_MAX) throw new SignRequestError('signature label must be a structured-field key');
  // Parameters in the order the verifier's tests and the RFC examples use: created, keyid, nonce, alg.
  const created = o.created ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(created)) throw new SignRequestError('created must be an integer');
  let params = `;created=${created}`;
  params += `;keyid=${sfString(o.keyid, 'keyid')}`;
  const nonce = o.nonce === undefined ? randomNonce() : o.nonce;
  if (nonce !== null) params += `;nonce=${sfString(nonce, 'nonce')}`;
  if (o.alg !== false) params += ';alg="ed25519"';
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const id of components) {
    if (seen.has(id)) throw new SignRequestError(`cannot sign: component "${id}" covered twice`);
    seen.add(id);
    if (!id.startsWith('@') && id !== id.toLowerCase()) throw new SignRequestError(`cannot sign: component "${id}" must be lower case`);
    const value = componentValue(id, req.method, u, headers);
    if (value === undefined) throw new SignRequestError(`cannot sign: covered component "${id}" is not in the request`);
    if (/[\r\n]/.test(value)) throw new SignRequestError(`cannot sign: component "${id}" has a line break`);
    lines.push(`${sfString(id, 'component')}: ${value}`);
  }
  const inner = `(${components.map((c) => sfString(c, 'component')).join(' ')})${params}`;
  lines.push(`"@signature-params": ${inner}`);
  const base = new TextEncoder().encode(lines.join('\n'));
  out['signature-input'] = `${label}=${inner}`;
  out.signature = `${label}=:${toBase64(o.signer.sign(base))}:`;
  return out;
}

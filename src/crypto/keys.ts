// Import and export of Ed25519 keys: raw (hex), PEM (RFC 7468) holding PKCS#8 / SPKI DER
// (RFC 8410), and JWK (RFC 8037 §2: {"kty":"OKP","crv":"Ed25519","x","d"?}).
//
// Style: key text is untrusted input (config files, CLI arguments, HTTP bodies), so every parser
// returns a result — `{ ok: true, value }` or `{ ok: false, code, message }` — and never throws.
// Export functions take bytes the caller holds; a wrong length there is a programming error and
// throws `CryptoError`.
//
// Parsing does NOT vet the key (see vet.ts): callers that register a key must also call
// vetPublicKey. Private keys are the RFC 8032 32-byte seed; the public key is derived from it.
import { fromBase64, fromHex, toBase64, toHex, bytesEqual, concatBytes } from '../encoding/bytes.js';
import { fromBase64Url, toBase64Url } from '../encoding/base64url.js';
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SEED_BYTES } from './types.js';
import { publicKeyFromSeed } from './noble.js';
import { CryptoError } from './errors.js';

/** Longest key text (PEM, JWK JSON or hex) any parser here accepts, in characters. */
export const KEY_TEXT_LENGTH_MAX = 4096;

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4), followed by the 32-byte key. */
const SPKI_PREFIX = fromHex('302a300506032b6570032100')!;
/** DER prefix of an Ed25519 PKCS#8 v1 PrivateKeyInfo (RFC 8410 §7), followed by the 32-byte seed. */
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420')!;

export type KeyErrorCode =
  | 'key_text_too_long'
  | 'key_format_unknown'
  | 'hex_malformed'
  | 'seed_length'
  | 'key_length'
  | 'pem_malformed'
  | 'pem_label'
  | 'pem_base64'
  | 'der_unsupported'
  | 'jwk_malformed'
  | 'jwk_kty'
  | 'jwk_crv'
  | 'jwk_x'
  | 'jwk_d'
  | 'jwk_mismatch'
  | 'jwk_private_missing';

export type KeyResult<T> = { ok: true; value: T } | { ok: false; code: KeyErrorCode; message: string };

/** An Ed25519 key pair as parsed from private key text. */
export interface Ed25519KeyPair {
  seed: Uint8Array;
  publicKey: Uint8Array;
}

/** RFC 8037 §2 OKP JWK for Ed25519. `d` (the seed) only in private JWKs. */
export interface Ed25519Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  d?: string;
}

function fail<T>(code: KeyErrorCode, message: string): KeyResult<T> {
  return { ok: false, code, message };
}

function checkLength(bytes: Uint8Array, len: number, code: string, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== len) throw new CryptoError(code, `${what} must be exactly ${len} bytes`);
}

function tooLong<T>(text: unknown): KeyResult<T> | null {
  if (typeof text !== 'string') return fail('key_format_unknown', 'key text must be a string');
  if (text.length > KEY_TEXT_LENGTH_MAX) {
    return fail('key_text_too_long', `key text is ${text.length} characters, more than KEY_TEXT_LENGTH_MAX (${KEY_TEXT_LENGTH_MAX})`);
  }
  return null;
}

// ---------------------------------------------------------------- raw hex

export function seedToHex(seed: Uint8Array): string {
  checkLength(seed, ED25519_SEED_BYTES, 'seed_length', 'an Ed25519 seed');
  return toHex(seed);
}

export function publicKeyToHex(publicKey: Uint8Array): string {
  checkLength(publicKey, ED25519_PUBLIC_KEY_BYTES, 'key_length', 'an Ed25519 public key');
  return toHex(publicKey);
}

function parseHex32(text: string, code: 'seed_length' | 'key_length', what: string): KeyResult<Uint8Array> {
  const t = text.trim();
  if (!/^[0-9a-fA-F]*$/.test(t) || t.length % 2 !== 0) return fail('hex_malformed', `${what} is not hexadecimal`);
  const bytes = fromHex(t)!;
  if (bytes.length !== 32) return fail(code, `${what} must be 32 bytes (64 hex digits), got ${bytes.length} bytes`);
  return { ok: true, value: bytes };
}

/** 64 hex digits (surrounding whitespace ignored) -> 32-byte seed. */
export function parseSeedHex(text: string): KeyResult<Uint8Array> {
  return tooLong(text) ?? parseHex32(text, 'seed_length', 'an Ed25519 seed');
}

/** 64 hex digits (surrounding whitespace ignored) -> 32-byte public key. */
export function parsePublicKeyHex(text: string): KeyResult<Uint8Array> {
  return tooLong(text) ?? parseHex32(text, 'key_length', 'an Ed25519 public key');
}

// ---------------------------------------------------------------- PEM

function pem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64)); // RFC 7468 §2: 64-char lines
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** PKCS#8 "PRIVATE KEY" PEM of a seed (the form `openssl genpkey -algorithm ed25519` writes). */
export function privateKeyToPem(seed: Uint8Array): string {
  checkLength(seed, ED25519_SEED_BYTES, 'seed_length', 'an Ed25519 seed');
  return pem('PRIVATE KEY', concatBytes(PKCS8_PREFIX, seed));
}

/** SPKI "PUBLIC KEY" PEM of a public key. */
export function publicKeyToPem(publicKey: Uint8Array): string {
  checkLength(publicKey, ED25519_PUBLIC_KEY_BYTES, 'key_length', 'an Ed25519 public key');
  return pem('PUBLIC KEY', concatBytes(SPKI_PREFIX, publicKey));
}

/**
 * Strict single-block PEM (RFC 7468 §3 "strict" grammar, but accepting CRLF line ends and
 * surrounding blank lines): no explanatory text, no headers, base64 must be canonical.
 */
function parsePem(text: string, label: string, prefix: Uint8Array): KeyResult<Uint8Array> {
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd());
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const first = lines[0] ?? '';
  const last = lines[lines.length - 1] ?? '';
  const begin = /^-----BEGIN ([A-Z0-9 ]+)-----$/.exec(first);
  const end = /^-----END ([A-Z0-9 ]+)-----$/.exec(last);
  if (lines.length < 3 || begin === null || end === null) {
    return fail('pem_malformed', 'expected one PEM block: a -----BEGIN ...----- line, base64 lines, an -----END ...----- line');
  }
  if (begin[1] !== end[1]) return fail('pem_malformed', `PEM BEGIN label "${begin[1]}" does not match END label "${end[1]}"`);
  if (begin[1] !== label) return fail('pem_label', `expected a "${label}" PEM block, got "${begin[1]}"`);
  const body = lines.slice(1, -1);
  if (body.some((l) => l.startsWith('-----') || l.includes(':'))) {
    return fail('pem_malformed', 'PEM body holds extra boundary or header lines (one block, no headers)');
  }
  const der = fromBase64(body.join(''));
  if (der === null) return fail('pem_base64', 'PEM body is not canonical standard base64');
  if (der.length !== prefix.length + 32 || !bytesEqual(der.subarray(0, prefix.length), prefix)) {
    return fail(
      'der_unsupported',
      `"${label}" is not a plain Ed25519 key (expected the ${prefix.length + 32}-byte RFC 8410 DER form; other algorithms, ` +
        'encrypted keys and PKCS#8 v2 with attributes are not supported)',
    );
  }
  return { ok: true, value: der.slice(prefix.length) };
}

/** PKCS#8 "PRIVATE KEY" PEM -> 32-byte seed. */
export function parsePrivateKeyPem(text: string): KeyResult<Uint8Array> {
  return tooLong(text) ?? parsePem(text, 'PRIVATE KEY', PKCS8_PREFIX);
}

/** SPKI "PUBLIC KEY" PEM -> 32-byte public key. */
export function parsePublicKeyPem(text: string): KeyResult<Uint8Array> {
  return tooLong(text) ?? parsePem(text, 'PUBLIC KEY', SPKI_PREFIX);
}

// ---------------------------------------------------------------- JWK

export function publicKeyToJwk(publicKey: Uint8Array): Ed25519Jwk {
  checkLength(publicKey, ED25519_PUBLIC_KEY_BYTES, 'key_length', 'an Ed25519 public key');
  return { kty: 'OKP', crv: 'Ed25519', x: toBase64Url(publicKey) };
}

export function privateKeyToJwk(seed: Uint8Array): Ed25519Jwk {
  checkLength(seed, ED25519_SEED_BYTES, 'seed_length', 'an Ed25519 seed');
  return { kty: 'OKP', crv: 'Ed25519', x: toBase64Url(publicKeyFromSeed(seed)), d: toBase64Url(seed) };
}

/**
 * Parses a JWK given as an object or as JSON text. Other members (kid, use, alg, ...) are ignored
 * (RFC 7517 §4). When `d` is present it must derive the public key `x` (else `jwk_mismatch`).
 */
export function parseJwk(input: unknown): KeyResult<{ publicKey: Uint8Array; seed?: Uint8Array }> {
  let obj: unknown = input;
  if (typeof input === 'string') {
    const long = tooLong<{ publicKey: Uint8Array }>(input);
    if (long !== null) return long;
    try {
      obj = JSON.parse(input);
    } catch {
      return fail('jwk_malformed', 'JWK text is not valid JSON');
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return fail('jwk_malformed', 'a JWK must be a JSON object');
  const jwk = obj as Record<string, unknown>;
  if (jwk['kty'] !== 'OKP') return fail('jwk_kty', 'JWK "kty" must be "OKP" (RFC 8037 §2)');
  if (jwk['crv'] !== 'Ed25519') return fail('jwk_crv', 'JWK "crv" must be "Ed25519"');
  const x = typeof jwk['x'] === 'string' ? fromBase64Url(jwk['x']) : null;
  if (x === null || x.length !== ED25519_PUBLIC_KEY_BYTES) {
    return fail('jwk_x', 'JWK "x" must be the 32-byte public key in unpadded base64url');
  }
  if (jwk['d'] === undefined) return { ok: true, value: { publicKey: x } };
  const d = typeof jwk['d'] === 'string' ? fromBase64Url(jwk['d']) : null;
  if (d === null || d.length !== ED25519_SEED_BYTES) return fail('jwk_d', 'JWK "d" must be the 32-byte seed in unpadded base64url');
  if (!bytesEqual(publicKeyFromSeed(d), x)) return fail('jwk_mismatch', 'JWK "x" is not the public key of "d"');
  return { ok: true, value: { publicKey: x, seed: d } };
}

// ---------------------------------------------------------------- any format

/** Private key in any supported form: PKCS#8 PEM, private JWK (JSON), or 64 hex digits (the seed). */
export function parsePrivateKey(text: string): KeyResult<Ed25519KeyPair> {
  const long = tooLong<Ed25519KeyPair>(text);
  if (long !== null) return long;
  const t = text.trim();
  let seed: Uint8Array;
  if (t.startsWith('-----BEGIN')) {
    const r = parsePrivateKeyPem(t);
    if (!r.ok) return r;
    seed = r.value;
  } else if (t.startsWith('{')) {
    const r = parseJwk(t);
    if (!r.ok) return r;
    if (r.value.seed === undefined) return fail('jwk_private_missing', 'JWK has no "d": it is a public key, a private key was expected');
    seed = r.value.seed;
  } else if (/^[0-9a-fA-F]+$/.test(t)) {
    const r = parseSeedHex(t);
    if (!r.ok) return r;
    seed = r.value;
  } else {
    return fail('key_format_unknown', 'expected a PKCS#8 PEM, a JWK, or 64 hex digits');
  }
  return { ok: true, value: { seed, publicKey: publicKeyFromSeed(seed) } };
}

/** Public key in any supported form: SPKI PEM, JWK (JSON; a private JWK's `x` is used), or 64 hex digits. */
export function parsePublicKey(text: string): KeyResult<Uint8Array> {
  const long = tooLong<Uint8Array>(text);
  if (long !== null) return long;
  const t = text.trim();
  if (t.startsWith('-----BEGIN')) return parsePublicKeyPem(t);
  if (t.startsWith('{')) {
    const r = parseJwk(t);
    return r.ok ? { ok: true, value: r.value.publicKey } : r;
  }
  if (/^[0-9a-fA-F]+$/.test(t)) return parsePublicKeyHex(t);
  return fail('key_format_unknown', 'expected an SPKI PEM, a JWK, or 64 hex digits');
}

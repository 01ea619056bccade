// Key names, key IDs and the textual key encodings of C2SP signed-note (Ed25519 only).
//
// Spec: C2SP signed-note, "Signatures" and "Ed25519 signatures":
//   key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]
// Verifier key string (as published by golang.org/x/mod/sumdb/note and every signed-note tool):
//   <name>+<8 lowercase hex digits of the key ID>+<base64(0x01 || public key)>
// Signer key string (same ecosystem; Cairn uses it for the `cairn keygen` key file):
//   PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>
import { sha256 } from '../crypto/hash.js';
import { publicKeyFromSeed } from '../crypto/noble.js';
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SEED_BYTES } from '../crypto/types.js';
import { vetPublicKey } from '../crypto/vet.js';
import { bytesEqual, concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from '../encoding/bytes.js';
import { fail, FormatError, hasLoneSurrogate, type Failure } from './result.js';

/** Signature type identifier byte for Ed25519 (C2SP signed-note, "Signature types"). */
export const SIGNATURE_TYPE_ED25519 = 0x01;
/** Key IDs are 4 bytes (a big-endian uint32). */
export const KEY_ID_BYTES = 4;
/**
 * Longest key name Cairn creates or accepts in a key string, in UTF-8 bytes. The spec sets no
 * limit; names in signature lines of received notes are bounded only by NOTE_BYTES_MAX.
 */
export const KEY_NAME_BYTES_MAX = 256;
/** Longest verifier or signer key string accepted, in characters (name + 2 separators + id + key). */
export const KEY_STRING_CHARS_MAX = 512;

const SIGNER_KEY_PREFIX = 'PRIVATE+KEY+';
const KEY_ID_HEX = /^[0-9a-f]{8}$/;
/** Unicode White_Space, the set Go's unicode.IsSpace uses (signed-note: "no Unicode spaces"). */
const UNICODE_SPACE = /\p{White_Space}/u;

/** A trusted Ed25519 note verifier key. `text` is its canonical verifier key string. */
export interface VerifierKey {
  readonly name: string;
  /** 4 bytes: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ publicKey)[:4]. */
  readonly keyId: Uint8Array;
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** `<name>+<hex key ID>+<base64(0x01 ‖ publicKey)>`. */
  readonly text: string;
}

export type KeyErrorCode =
  | 'key_too_long'
  | 'key_malformed'
  | 'key_bad_name'
  | 'key_bad_key_id'
  | 'key_bad_base64'
  | 'key_unsupported_algorithm'
  | 'key_bad_length'
  | 'key_id_mismatch'
  | 'key_rejected';

/**
 * signed-note: "Key names MUST be non-empty and MUST NOT contain any Unicode spaces or plus
 * (U+002B) characters." Control characters are excluded too (notes may not contain them).
 */
export function isValidKeyName(name: string): boolean {
  if (typeof name !== 'string' || name.length === 0) return false;
  if (name.includes('+') || UNICODE_SPACE.test(name) || hasLoneSurrogate(name)) return false;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) < 0x20 || name.charCodeAt(i) === 0x7f) return false;
  return true;
}

function keyNameProblem(name: string): string | null {
  if (!isValidKeyName(name)) return 'key name must be non-empty, without spaces, "+" or control characters';
  if (utf8(name).length > KEY_NAME_BYTES_MAX) return `key name longer than ${KEY_NAME_BYTES_MAX} bytes (KEY_NAME_BYTES_MAX)`;
  return null;
}

function checkNameForFormat(name: string): void {
  const problem = keyNameProblem(name);
  if (problem !== null) throw new FormatError('key_bad_name', problem);
}

function checkPublicKeyForFormat(pub: Uint8Array): void {
  if (!(pub instanceof Uint8Array) || pub.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new FormatError('key_bad_length', `an Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes`);
  }
}

/** The 4-byte key ID of an Ed25519 key (signed-note "Ed25519 signatures"). Throws FormatError on a bad name or key. */
export function keyId(name: string, publicKey: Uint8Array): Uint8Array {
  checkNameForFormat(name);
  checkPublicKeyForFormat(publicKey);
  return keyIdUnchecked(name, publicKey);
}

function keyIdUnchecked(name: string, publicKey: Uint8Array): Uint8Array {
  const digest = sha256(concatBytes(utf8(name), Uint8Array.of(0x0a, SIGNATURE_TYPE_ED25519), publicKey));
  return digest.slice(0, KEY_ID_BYTES);
}

/** `<name>+<hex key ID>+<base64(0x01 ‖ pub)>`. Throws FormatError on a bad name or key length. */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  const id = keyId(name, publicKey);
  return `${name}+${toHex(id)}+${toBase64(concatBytes(Uint8Array.of(SIGNATURE_TYPE_ED25519), publicKey))}`;
}

/** Builds a VerifierKey from a name and public key (no vetting: see parseVerifierKey). */
export function verifierKey(name: string, publicKey: Uint8Array): VerifierKey {
  return {
    name,
    keyId: keyId(name, publicKey),
    publicKey: publicKey.slice(),
    text: formatVerifierKey(name, publicKey),
  };
}

interface KeyParts {
  name: string;
  id: Uint8Array;
  /** 32 bytes after the algorithm byte (public key or seed). */
  material: Uint8Array;
}

/** Splits `<name>+<hex>+<base64>`; base64 itself may contain '+', so only the first two '+' split. */
function splitKeyString(s: string, what: string): { ok: true; parts: KeyParts } | Failure<KeyErrorCode> {
  const first = s.indexOf('+');
  const second = first < 0 ? -1 : s.indexOf('+', first + 1);
  if (first < 0 || second < 0) return fail('key_malformed', `${what} must have the form <name>+<8 hex key ID>+<base64 key>`);
  const name = s.slice(0, first);
  const hex = s.slice(first + 1, second);
  const b64 = s.slice(second + 1);
  const nameProblem = keyNameProblem(name);
  if (nameProblem !== null) return fail('key_bad_name', `${what}: ${nameProblem}`);
  if (!KEY_ID_HEX.test(hex)) return fail('key_bad_key_id', `${what}: key ID must be exactly 8 lowercase hex digits`);
  const raw = fromBase64(b64);
  if (raw === null) return fail('key_bad_base64', `${what}: key is not canonical standard base64 (RFC 4648 §4, padded)`);
  if (raw.length === 0 || raw[0] !== SIGNATURE_TYPE_ED25519) {
    return fail('key_unsupported_algorithm', `${what}: only Ed25519 keys (signature type 0x01) are supported`);
  }
  if (raw.length !== 1 + ED25519_PUBLIC_KEY_BYTES) {
    return fail('key_bad_length', `${what}: an Ed25519 key is 1 type byte + ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${raw.length} bytes`);
  }
  return { ok: true, parts: { name, id: fromHex(hex)!, material: raw.subarray(1) } };
}

/**
 * Strictly parses a verifier key string. The key ID must match the name and key, and the public
 * key must pass vetPublicKey (canonical, prime-order subgroup, not small order) because verifier
 * keys are trust configuration and every Cairn verifier must agree on every signature.
 */
export function parseVerifierKey(s: string): { ok: true; key: VerifierKey } | Failure<KeyErrorCode> {
  if (typeof s !== 'string') return fail('key_malformed', 'verifier key must be a string');
  if (s.length > KEY_STRING_CHARS_MAX) return fail('key_too_long', `verifier key longer than ${KEY_STRING_CHARS_MAX} characters (KEY_STRING_CHARS_MAX)`);
  if (s.startsWith(SIGNER_KEY_PREFIX)) return fail('key_malformed', 'this is a private signer key, not a verifier key');
  const split = splitKeyString(s, 'verifier key');
  if (!split.ok) return split;
  const { name, id, material } = split.parts;
  const expected = keyIdUnchecked(name, material);
  if (!bytesEqual(expected, id)) {
    return fail('key_id_mismatch', `verifier key ID ${toHex(id)} does not match name and key (expected ${toHex(expected)})`);
  }
  const vet = vetPublicKey(material);
  if (!vet.ok) return fail('key_rejected', `verifier key ${name}: public key rejected (${vet.code}): ${vet.message}`);
  const publicKey = material.slice();
  return { ok: true, key: { name, keyId: id, publicKey, text: s } };
}

/** A parsed signer key string. Holds the secret seed: keep it out of logs. */
export interface SignerKey {
  readonly name: string;
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly verifierKey: VerifierKey;
}

/** `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>` (golang.org/x/mod/sumdb/note format). */
export function formatSignerKey(name: string, seed: Uint8Array): string {
  if (!(seed instanceof Uint8Array) || seed.length !== ED25519_SEED_BYTES) {
    throw new FormatError('key_bad_length', `an Ed25519 seed is ${ED25519_SEED_BYTES} bytes`);
  }
  const pub = publicKeyFromSeed(seed);
  const id = keyId(name, pub);
  return `${SIGNER_KEY_PREFIX}${name}+${toHex(id)}+${toBase64(concatBytes(Uint8Array.of(SIGNATURE_TYPE_ED25519), seed))}`;
}

/** Strictly parses a signer key string; the key ID must match the public key derived from the seed. */
export function parseSignerKey(s: string): { ok: true; key: SignerKey } | Failure<KeyErrorCode> {
  if (typeof s !== 'string') return fail('key_malformed', 'signer key must be a string');
  if (s.length > KEY_STRING_CHARS_MAX) return fail('key_too_long', `signer key longer than ${KEY_STRING_CHARS_MAX} characters (KEY_STRING_CHARS_MAX)`);
  if (!s.startsWith(SIGNER_KEY_PREFIX)) return fail('key_malformed', `signer key must start with ${SIGNER_KEY_PREFIX}`);
  const split = splitKeyString(s.slice(SIGNER_KEY_PREFIX.length), 'signer key');
  if (!split.ok) return split;
  const { name, id, material } = split.parts;
  const seed = material.slice();
  const publicKey = publicKeyFromSeed(seed);
  const expected = keyIdUnchecked(name, publicKey);
  if (!bytesEqual(expected, id)) {
    return fail('key_id_mismatch', `signer key ID ${toHex(id)} does not match name and key (expected ${toHex(expected)})`);
  }
  const vet = vetPublicKey(publicKey);
  if (!vet.ok) return fail('key_rejected', `signer key ${name}: public key rejected (${vet.code}): ${vet.message}`);
  return { ok: true, key: { name, seed, publicKey, verifierKey: verifierKey(name, publicKey) } };
}

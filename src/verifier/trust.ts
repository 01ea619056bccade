// The auditor's trust root: which log (origin), which organizations (their signed-note verifier
// keys) and how many of them must sign a checkpoint (q). Read from a small JSON file:
//
//   {
//     "origin": "cairn.example/devnet",
//     "quorum": 3,
//     "keys": ["org1.example+1a2b3c4d+AQ...", "org2.example+...", "org3.example+...", "org4.example+..."]
//   }
//
// q must be at least ⌊2n/3⌋+1 (any two quorums then share more than n/3 organizations, so a
// checkpoint conflicting with a final one needs more than n/3 dishonest organizations) and at
// most n. Unknown fields are rejected so that a typo ("quroum") cannot silently weaken the root.
import { checkTrust, quorumSize, CHECKPOINT_ORIGIN_BYTES_MAX, ORGANIZATIONS_MAX, type QuorumTrust } from '../checkpoint/checkpoint.js';
import { parseVerifierKey, type VerifierKey } from '../checkpoint/keys.js';
import { fail, findControlCharacter, type Failure } from '../checkpoint/result.js';
import { fromUtf8, toHex, utf8 } from '../encoding/bytes.js';

/** The trust configuration of a light verifier. Same shape as the checkpoint module's QuorumTrust. */
export interface TrustRoot extends QuorumTrust {
  readonly origin: string;
  readonly keys: readonly VerifierKey[];
  readonly quorum: number;
}

/** Largest trust file accepted, in bytes (100 keys of ≤ 512 characters fit comfortably). */
export const TRUST_FILE_BYTES_MAX = 128 * 1024;

export type TrustErrorCode =
  | 'trust_too_large'
  | 'trust_not_utf8'
  | 'trust_not_json'
  | 'trust_not_object'
  | 'trust_unknown_field'
  | 'trust_bad_origin'
  | 'trust_bad_quorum'
  | 'trust_quorum_too_low'
  | 'trust_quorum_too_high'
  | 'trust_bad_keys'
  | 'trust_too_many_keys'
  | 'trust_bad_key'
  | 'trust_duplicate_key'
  | 'trust_invalid';

const FIELDS = ['origin', 'quorum', 'keys'] as const;

/**
 * A JSON object read from text or UTF-8 bytes of at most `maxBytes` (checked before decoding and
 * parsing); `bytes` is its UTF-8 length. The first step of every trust file parser. Never throws.
 */
export function readTrustJson(
  input: string | Uint8Array,
  maxBytes: number,
  maxName: string,
): { ok: true; obj: Record<string, unknown>; bytes: number } | Failure<'trust_too_large' | 'trust_not_utf8' | 'trust_not_json' | 'trust_not_object'> {
  const tooLarge = () => fail('trust_too_large', `trust file larger than ${maxBytes} bytes (${maxName})`);
  let text: string;
  let bytes: number;
  if (input instanceof Uint8Array) {
    if (input.length > maxBytes) return tooLarge();
    try {
      text = fromUtf8(input);
    } catch {
      return fail('trust_not_utf8', 'trust file is not valid UTF-8');
    }
    bytes = input.length;
  } else if (typeof input === 'string') {
    // The character count first: a huge string is refused without encoding it.
    if (input.length > maxBytes) return tooLarge();
    bytes = utf8(input).length;
    if (bytes > maxBytes) return tooLarge();
    text = input;
  } else {
    return fail('trust_not_json', 'trust file must be text');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail('trust_not_json', `trust file is not JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return fail('trust_not_object', 'trust file must be a JSON object {"origin", "quorum", "keys"}');
  }
  return { ok: true, obj: json as Record<string, unknown>, bytes };
}

/** Unknown fields are refused, so that a typo cannot silently drop a field. */
export function unknownTrustField(obj: Record<string, unknown>, allowed: readonly string[], where = ''): Failure<'trust_unknown_field'> | null {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) return fail('trust_unknown_field', `${where}unknown field ${JSON.stringify(k)}${where === '' ? ` in trust file (allowed: ${allowed.join(', ')})` : ''}`);
  }
  return null;
}

/**
 * Checks one organization set (the fields of a version 1 file, or of one set of a version 2
 * file): a single-line origin, vetted keys without duplicates, floor(2n/3)+1 <= quorum <= n.
 */
export function checkTrustSet(origin: unknown, quorum: unknown, keys: unknown): { ok: true; trust: TrustRoot } | Failure<TrustErrorCode> {
  if (typeof origin !== 'string' || origin.length === 0 || origin.includes('\n') || findControlCharacter(origin) >= 0) {
    return fail('trust_bad_origin', '"origin" must be a non-empty single-line string (the checkpoint origin line)');
  }
  if (utf8(origin).length > CHECKPOINT_ORIGIN_BYTES_MAX) {
    return fail('trust_bad_origin', `"origin" longer than ${CHECKPOINT_ORIGIN_BYTES_MAX} bytes (CHECKPOINT_ORIGIN_BYTES_MAX)`);
  }
  if (!Array.isArray(keys) || keys.length === 0) return fail('trust_bad_keys', '"keys" must be a non-empty array of verifier key strings');
  if (keys.length > ORGANIZATIONS_MAX) return fail('trust_too_many_keys', `more than ${ORGANIZATIONS_MAX} keys (ORGANIZATIONS_MAX)`);
  const parsed: VerifierKey[] = [];
  const names = new Set<string>();
  const pubs = new Set<string>();
  for (let i = 0; i < keys.length; i++) {
    const s: unknown = keys[i];
    if (typeof s !== 'string') return fail('trust_bad_key', `keys[${i}] must be a verifier key string <name>+<keyid>+<base64>`);
    const r = parseVerifierKey(s);
    if (!r.ok) return fail('trust_bad_key', `keys[${i}]: ${r.message} (${r.code})`);
    const pub = toHex(r.key.publicKey);
    if (names.has(r.key.name)) return fail('trust_duplicate_key', `keys[${i}]: key name ${r.key.name} appears twice (one key per organization)`);
    if (pubs.has(pub)) return fail('trust_duplicate_key', `keys[${i}]: the public key of ${r.key.name} appears twice (one key per organization)`);
    names.add(r.key.name);
    pubs.add(pub);
    parsed.push(r.key);
  }
  const n = parsed.length;
  const q = quorumSize(n);
  if (typeof quorum !== 'number' || !Number.isSafeInteger(quorum)) return fail('trust_bad_quorum', '"quorum" must be an integer');
  if (quorum < q) {
    return fail('trust_quorum_too_low', `"quorum" ${quorum} is below floor(2n/3)+1 = ${q} for n = ${n} organizations`);
  }
  if (quorum > n) return fail('trust_quorum_too_high', `"quorum" ${quorum} exceeds the number of organizations (${n})`);
  const trust: TrustRoot = { origin, keys: parsed, quorum };
  const checked = checkTrust(trust);
  if (!checked.ok) return checked;
  return { ok: true, trust };
}

/** Parses and validates a trust file (JSON text or its UTF-8 bytes). Never throws. */
export function parseTrustFile(input: string | Uint8Array): { ok: true; trust: TrustRoot } | Failure<TrustErrorCode> {
  const r = readTrustJson(input, TRUST_FILE_BYTES_MAX, 'TRUST_FILE_BYTES_MAX');
  return r.ok ? trustFromObject(r.obj) : r;
}

/** A version 1 trust file's object (exactly origin, quorum, keys) checked as one set. */
export function trustFromObject(obj: Record<string, unknown>): { ok: true; trust: TrustRoot } | Failure<TrustErrorCode> {
  return unknownTrustField(obj, FIELDS) ?? checkTrustSet(obj.origin, obj.quorum, obj.keys);
}

/** Serializes a trust root as a trust file (2-space indented JSON, trailing newline). */
export function formatTrustFile(trust: TrustRoot): string {
  return JSON.stringify({ origin: trust.origin, quorum: trust.quorum, keys: trust.keys.map((k) => k.text) }, null, 2) + '\n';
}

// Strict parsing and canonical encoding of governance records.
//
// statement = domainMessage('cairn/gov/v1', UTF-8(JCS({v, type, body})))   what every signature covers
// record id = SHA-256(domainMessage('cairn/gov-id/v1', UTF-8(JCS({v, type, body}))))
// Signatures are not part of the statement, so ballots can be gathered independently and in any
// order; each one names the record id it approves (`proposal`).
//
// Untrusted input: nothing here throws; every problem is `{ ok: false, code, message }`. Unknown
// fields are refused (a misspelt "expiresAt" must not silently grant forever), and records read
// from bytes must be their own JCS form, so one record id names exactly one byte string.
import { parseVerifierKey } from '../checkpoint/keys.js';
import { domainMessage } from '../crypto/domain.js';
import { sha256 } from '../crypto/hash.js';
import { vetPublicKey } from '../crypto/vet.js';
import { bytesEqual, fromHex, fromUtf8, toHex, utf8 } from '../encoding/bytes.js';
import { jcs } from '../entry/validate.js';
import type { AuditEntry } from '../entry/types.js';
import {
  GOV_ACTION_PREFIX,
  GOV_HEIGHT_MAX,
  GOV_ID_DOMAIN,
  GOV_NAME_BYTES_MAX,
  GOV_NONCE_LENGTH_MAX,
  GOV_PARAM_RANGES,
  GOV_PEER_ID_LENGTH_MAX,
  GOV_REASON_LENGTH_MAX,
  GOV_RECORD_BYTES_MAX,
  GOV_RECORD_VERSION,
  GOV_SIGNATURE_DOMAIN,
  GOV_SIGS_MAX,
  GOV_TYPES,
  govFail,
  type GovFailure,
  type GovParseCode,
  type GovRecord,
  type GovSig,
  type GovType,
  type ParsedGovRecord,
} from './types.js';

type Obj = Record<string, unknown>;
type P<T> = { ok: true; value: T } | GovFailure<GovParseCode>;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NONCE_PATTERN = /^[A-Za-z0-9._~-]+$/;
const HEX32 = /^[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{128}$/;
/** libp2p peer ids: base58btc multihash (12D3KooW..., Qm...) or CIDv1 in base32 (b...). The peer
 *  canonicalizes them with @libp2p/peer-id when it wires a record in; this core stays dependency-free. */
const PEER_ID_PATTERN = /^(?:[1-9A-HJ-NP-Za-km-z]{32,128}|b[a-z2-7]{40,127})$/;
/** Descriptive text: no control, bidi or invisible format characters (same spirit as entries). */
const BAD_TEXT = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fields(o: Obj, required: readonly string[], optional: readonly string[], path: string): GovFailure<GovParseCode> | null {
  for (const k of Object.keys(o)) {
    if (!required.includes(k) && !optional.includes(k)) return govFail('gov_field_unknown', `${path}: unknown field ${JSON.stringify(k.slice(0, 40))}`);
  }
  for (const k of required) if (!(k in o)) return govFail('gov_field_missing', `${path}.${k} is missing`);
  return null;
}

function obj(v: unknown, path: string, required: readonly string[], optional: readonly string[] = []): P<Obj> {
  if (!isObj(v)) return govFail('gov_field_type', `${path} must be an object`);
  const bad = fields(v, required, optional, path);
  return bad ?? { ok: true, value: v };
}

function name(v: unknown, path: string): P<string> {
  if (typeof v !== 'string' || !NAME_PATTERN.test(v) || utf8(v).length > GOV_NAME_BYTES_MAX) {
    return govFail('gov_name', `${path} must be 1..${GOV_NAME_BYTES_MAX} (GOV_NAME_BYTES_MAX) characters of [A-Za-z0-9._-], starting alphanumeric`);
  }
  return { ok: true, value: v };
}

function height(v: unknown, path: string): P<number> {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > GOV_HEIGHT_MAX) return govFail('gov_height', `${path} must be a non-negative integer height`);
  return { ok: true, value: v };
}

function epoch(v: unknown): P<number> {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) return govFail('gov_height', 'body.epoch must be a positive integer (the validator epoch this change creates)');
  return { ok: true, value: v };
}

function nonce(v: unknown, path: string): P<string> {
  if (typeof v !== 'string' || v.length === 0 || v.length > GOV_NONCE_LENGTH_MAX || !NONCE_PATTERN.test(v)) {
    return govFail('gov_nonce', `${path} must be 1..${GOV_NONCE_LENGTH_MAX} (GOV_NONCE_LENGTH_MAX) characters of A-Z a-z 0-9 . _ ~ -`);
  }
  return { ok: true, value: v };
}

/** A vetted Ed25519 public key as 64 lowercase hex (refusing weak keys keeps all verifiers in agreement). */
function clientKey(v: unknown, path: string): P<string> {
  if (typeof v !== 'string' || !HEX32.test(v)) return govFail('gov_key', `${path} must be 64 lowercase hex digits (an Ed25519 public key)`);
  const vet = vetPublicKey(fromHex(v)!);
  if (!vet.ok) return govFail('gov_key', `${path}: key rejected (${vet.code}): ${vet.message}`);
  return { ok: true, value: v };
}

/** A C2SP verifier key string whose name is `orgName` (parseVerifierKey also vets the key). */
function orgKey(v: unknown, orgName: string, path: string): P<string> {
  if (typeof v !== 'string') return govFail('gov_key', `${path} must be a verifier key string <name>+<keyid>+<base64>`);
  const k = parseVerifierKey(v);
  if (!k.ok) return govFail('gov_key', `${path}: ${k.code}: ${k.message}`);
  if (k.key.name !== orgName) return govFail('gov_key', `${path}: key name ${JSON.stringify(k.key.name)} differs from organization ${JSON.stringify(orgName)}`);
  if (k.key.text !== v) return govFail('gov_key', `${path}: verifier key is not in canonical form`);
  return { ok: true, value: v };
}

function peerId(v: unknown, path: string): P<string> {
  if (typeof v !== 'string' || v.length > GOV_PEER_ID_LENGTH_MAX || !PEER_ID_PATTERN.test(v)) {
    return govFail('gov_peer_id', `${path} must be a libp2p peer id (base58btc or base32 CID, at most ${GOV_PEER_ID_LENGTH_MAX} characters)`);
  }
  return { ok: true, value: v };
}

function params(v: unknown, path: string): P<Obj> {
  if (!isObj(v) || Object.keys(v).length === 0) return govFail('gov_params', `${path} must be a non-empty object of parameters`);
  const top = ['maxBlockEntries', 'maxBlockBytes', 'blockIntervalMs', 'timeouts', 'maxClockSkewMs', 'mempoolMaxEntries', 'mempoolMaxBytes'];
  const bad = fields(v, [], top, path);
  if (bad) return bad;
  const check = (o: Obj, k: string, p: string): GovFailure<GovParseCode> | null => {
    const range = GOV_PARAM_RANGES[k]!;
    const x = o[k];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < range[0] || x > range[1]) {
      return govFail('gov_params', `${p}.${k} must be an integer in [${range[0]}, ${range[1]}]`);
    }
    return null;
  };
  for (const k of Object.keys(v)) {
    if (k === 'timeouts') {
      const t = v[k];
      if (!isObj(t) || Object.keys(t).length === 0) return govFail('gov_params', `${path}.timeouts must be a non-empty object`);
      const badT = fields(t, [], ['proposeMs', 'prevoteMs', 'precommitMs', 'deltaMs'], `${path}.timeouts`);
      if (badT) return badT;
      for (const tk of Object.keys(t)) {
        const e = check(t, tk, `${path}.timeouts`);
        if (e) return e;
      }
    } else {
      const e = check(v, k, path);
      if (e) return e;
    }
  }
  return { ok: true, value: v };
}

function common(b: Obj, path: string): GovFailure<GovParseCode> | null {
  const d = height(b.deadline, `${path}.deadline`);
  if (!d.ok) return d;
  const n = nonce(b.nonce, `${path}.nonce`);
  return n.ok ? null : n;
}

function checkBody(type: GovType, v: unknown): GovFailure<GovParseCode> | null {
  const path = 'body';
  const first = (...rs: P<unknown>[]): GovFailure<GovParseCode> | null => {
    for (const r of rs) if (!r.ok) return r;
    return null;
  };
  switch (type) {
    case 'client.grant': {
      const b = obj(v, path, ['client', 'deadline', 'nonce']);
      if (!b.ok) return b;
      const c = obj(b.value.client, `${path}.client`, ['name', 'publicKey', 'vouchedBy'], ['expiresAt']);
      if (!c.ok) return c;
      const cv = c.value;
      return (
        first(name(cv.name, 'body.client.name'), clientKey(cv.publicKey, 'body.client.publicKey'), name(cv.vouchedBy, 'body.client.vouchedBy')) ??
        ('expiresAt' in cv ? first(height(cv.expiresAt, 'body.client.expiresAt')) : null) ??
        common(b.value, path)
      );
    }
    case 'client.revoke': {
      const b = obj(v, path, ['publicKey', 'deadline', 'nonce'], ['reason']);
      if (!b.ok) return b;
      const bad = first(clientKey(b.value.publicKey, 'body.publicKey'));
      if (bad) return bad;
      if ('reason' in b.value) {
        const r = b.value.reason;
        if (typeof r !== 'string' || r.length === 0 || r.length > GOV_REASON_LENGTH_MAX || BAD_TEXT.test(r) || /[\uD800-\uDFFF]/.test(r)) {
          return govFail('gov_reason', `body.reason must be 1..${GOV_REASON_LENGTH_MAX} (GOV_REASON_LENGTH_MAX) characters without control or invisible characters`);
        }
      }
      return common(b.value, path);
    }
    case 'org.key.rotate': {
      const b = obj(v, path, ['epoch', 'org', 'key', 'peerId', 'effectiveHeight', 'deadline', 'nonce']);
      if (!b.ok) return b;
      const n = name(b.value.org, 'body.org');
      if (!n.ok) return n;
      return first(epoch(b.value.epoch), orgKey(b.value.key, n.value, 'body.key'), peerId(b.value.peerId, 'body.peerId'), height(b.value.effectiveHeight, 'body.effectiveHeight')) ?? common(b.value, path);
    }
    case 'org.add': {
      const b = obj(v, path, ['epoch', 'org', 'deadline', 'nonce']);
      if (!b.ok) return b;
      const ep = epoch(b.value.epoch);
      if (!ep.ok) return ep;
      const o = obj(b.value.org, `${path}.org`, ['name', 'key', 'peerId']);
      if (!o.ok) return o;
      const n = name(o.value.name, 'body.org.name');
      if (!n.ok) return n;
      return first(orgKey(o.value.key, n.value, 'body.org.key'), peerId(o.value.peerId, 'body.org.peerId')) ?? common(b.value, path);
    }
    case 'org.remove': {
      const b = obj(v, path, ['epoch', 'org', 'deadline', 'nonce']);
      if (!b.ok) return b;
      return first(epoch(b.value.epoch), name(b.value.org, 'body.org')) ?? common(b.value, path);
    }
    case 'params.set': {
      const b = obj(v, path, ['params', 'deadline', 'nonce']);
      if (!b.ok) return b;
      return first(params(b.value.params, 'body.params')) ?? common(b.value, path);
    }
  }
}

function checkSigs(v: unknown): GovFailure<GovParseCode> | null {
  if (!Array.isArray(v) || v.length === 0 || v.length > GOV_SIGS_MAX) return govFail('gov_sigs_count', `sigs must be an array of 1..${GOV_SIGS_MAX} (GOV_SIGS_MAX) signatures`);
  for (let i = 0; i < v.length; i++) {
    const p = `sigs[${i}]`;
    const s = obj(v[i], p, ['by', 'key', 'proposal', 'sig']);
    if (!s.ok) return s;
    const n = name(s.value.by, `${p}.by`);
    if (!n.ok) return n;
    const { key, proposal, sig } = s.value;
    if (typeof key !== 'string' || !HEX32.test(key)) return govFail('gov_sig_format', `${p}.key must be 64 lowercase hex digits`);
    if (typeof proposal !== 'string' || !HEX32.test(proposal)) return govFail('gov_sig_format', `${p}.proposal must be 64 lowercase hex digits (a record id)`);
    if (typeof sig !== 'string' || !HEX64.test(sig)) return govFail('gov_sig_format', `${p}.sig must be 128 lowercase hex digits`);
  }
  return null;
}

/** The signed statement and the id of a record whose shape is already checked. */
function statementOf(record: Pick<GovRecord, 'v' | 'type' | 'body'>): { statement: Uint8Array; id: string } {
  const core = utf8(jcs({ v: record.v, type: record.type, body: record.body }));
  return { statement: domainMessage(GOV_SIGNATURE_DOMAIN, core), id: toHex(sha256(domainMessage(GOV_ID_DOMAIN, core))) };
}

/** Strictly checks a decoded JSON value as a governance record (cheap shape checks, no signatures). */
export function parseGovRecord(value: unknown): { ok: true; parsed: ParsedGovRecord } | GovFailure<GovParseCode> {
  if (!isObj(value)) return govFail('gov_not_object', 'a governance record must be a JSON object {v, type, body, sigs}');
  const bad = fields(value, ['v', 'type', 'body', 'sigs'], [], 'record');
  if (bad) return bad;
  if (value.v !== GOV_RECORD_VERSION) return govFail('gov_version', `v must be ${GOV_RECORD_VERSION} (governance record format version)`);
  if (typeof value.type !== 'string' || !(GOV_TYPES as readonly string[]).includes(value.type)) {
    return govFail('gov_type', `type must be one of ${GOV_TYPES.join(', ')}`);
  }
  const type = value.type as GovType;
  // Bound the whole record before walking nested parts further (size first, then shape).
  let text: string;
  try {
    text = jcs(value);
  } catch {
    return govFail('gov_not_json', 'record has no JSON representation');
  }
  if (utf8(text).length > GOV_RECORD_BYTES_MAX) return govFail('gov_too_large', `record larger than ${GOV_RECORD_BYTES_MAX} bytes (GOV_RECORD_BYTES_MAX)`);
  const badBody = checkBody(type, value.body);
  if (badBody) return badBody;
  const badSigs = checkSigs(value.sigs);
  if (badSigs) return badSigs;
  // Deep copy through JSON so later mutation of the input cannot change a checked record.
  const record = JSON.parse(text) as GovRecord;
  const { statement, id } = statementOf(record);
  return { ok: true, parsed: { record, id, statement } };
}

/** Parses a record from its bytes, which must be exactly its JCS (RFC 8785) form. */
export function parseGovRecordBytes(bytes: Uint8Array): { ok: true; parsed: ParsedGovRecord } | GovFailure<GovParseCode> {
  if (!(bytes instanceof Uint8Array)) return govFail('gov_not_json', 'record bytes must be a Uint8Array');
  if (bytes.length > GOV_RECORD_BYTES_MAX) return govFail('gov_too_large', `record larger than ${GOV_RECORD_BYTES_MAX} bytes (GOV_RECORD_BYTES_MAX)`);
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    return govFail('gov_not_utf8', 'record is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return govFail('gov_not_json', 'record is not valid JSON');
  }
  const r = parseGovRecord(value);
  if (!r.ok) return r;
  if (!bytesEqual(govRecordBytes(r.parsed.record), bytes)) return govFail('gov_noncanonical', 'record bytes are not the JCS (RFC 8785) form of the record');
  return r;
}

/** The canonical bytes of a record: UTF-8 of its JCS text. */
export function govRecordBytes(record: GovRecord): Uint8Array {
  return utf8(jcs(record));
}

/** Statement and id of an unsigned record (for signers: sign `statement`, put `id` in `proposal`). */
export function govStatement(record: Pick<GovRecord, 'v' | 'type' | 'body'>): { statement: Uint8Array; id: string } {
  return statementOf(record);
}

/** The audit entry action that carries a record of this type. */
export function govAction(type: GovType): string {
  return GOV_ACTION_PREFIX + type;
}

/** True when an entry claims to carry a governance record (its action is under `cairn.gov.`). */
export function isGovEntry(entry: Pick<AuditEntry, 'action'>): boolean {
  return typeof entry.action === 'string' && entry.action.startsWith(GOV_ACTION_PREFIX);
}

/**
 * Extracts the record carried by an audit entry: `data` is the record, `action` is
 * `cairn.gov.<type>` and `resource` is {type: 'cairn.gov', id: <record id>}. An entry under
 * `cairn.gov.` that does not carry a valid record is refused (peers must not log it).
 */
export function govRecordFromEntry(entry: AuditEntry): { ok: true; parsed: ParsedGovRecord } | GovFailure<GovParseCode> {
  if (!isGovEntry(entry)) return govFail('gov_entry_action', `entry action ${JSON.stringify(String(entry.action).slice(0, 80))} is not under ${GOV_ACTION_PREFIX}`);
  const r = parseGovRecord(entry.data);
  if (!r.ok) return r;
  if (entry.action !== govAction(r.parsed.record.type)) return govFail('gov_entry_action', `entry action must be ${govAction(r.parsed.record.type)} for a ${r.parsed.record.type} record`);
  if (entry.resource?.type !== 'cairn.gov' || entry.resource.id !== r.parsed.id) {
    return govFail('gov_entry_action', 'entry resource must be {type: "cairn.gov", id: <record id>}');
  }
  return r;
}

/** Type guard helper for callers that hold a GovSig from a parsed record. */
export function sigBytes(s: GovSig): { key: Uint8Array; sig: Uint8Array } {
  return { key: fromHex(s.key)!, sig: fromHex(s.sig)! };
}

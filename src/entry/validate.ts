// Validation of audit entries: untrusted JSON in, either a normalized AuditEntry or a list of
// coded errors out. Never throws. The returned entry is a fresh deep copy made only of plain JSON
// values, so JCS (RFC 8785) of it is well defined and later changes to the input cannot reach it.
import { assembleJcs, jcs, utf8Bound, type CanonicalText } from './jcs.js';
import * as lim from './limits.js';
import { isIpAddress } from './ip.js';

export { jcs } from './jcs.js';
import {
  OUTCOMES,
  type AuditEntry,
  type EntryError,
  type EntryErrorCode,
  type EntryResult,
  type JsonObject,
  type JsonValue,
  type Outcome,
  type UnsignedEntry,
} from './types.js';

const TOP_LEVEL_FIELDS = new Set([
  'v', 'id', 'time', 'actor', 'action', 'resource', 'outcome', 'reason', 'source', 'requestId', 'tenant', 'data', 'client', 'sig',
]);
/** The top-level names in JCS (RFC 8785) member order: the order a canonical entry lists them in. */
const TOP_LEVEL_JCS_ORDER: readonly string[] = [...TOP_LEVEL_FIELDS].sort();
const ACTOR_FIELDS = new Set(['id', 'type', 'name']);
const RESOURCE_FIELDS = new Set(['type', 'id', 'name']);
const SOURCE_FIELDS = new Set(['ip', 'userAgent']);

/**
 * Entry ids appear as one URL path segment (`/v1/entries/by-id/{client}/{id}`), so they are limited
 * to RFC 3986 §2.3 "unreserved" characters (letters, digits, `-`, `.`, `_`, `~`): no escaping is
 * ever needed and no two spellings name the same id. `.` and `..` are excluded because URL
 * resolution treats them as dot-segments (RFC 3986 §5.2.4). UUIDs and ULIDs fit.
 */
const ID_PATTERN = /^[A-Za-z0-9._~-]+$/;
/** Lowercase token for actor.type / resource.type, e.g. `user`, `service-account`, `db.table`. */
const TOKEN_PATTERN = /^[a-z][a-z0-9_.-]*$/;
/** Dotted verb: at least two lowercase segments, e.g. `db.query`, `user.login`, `secret.read`. */
const ACTION_SEGMENT = /^[a-z][a-z0-9_-]*$/;
/** RFC 3339 §5.6 date-time restricted to UTC `Z`, uppercase `T`, 1-9 fractional digits. */
const TIME_PATTERN = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?Z$/;
const LOWER_HEX_64 = /^[0-9a-f]{64}$/;
const LOWER_HEX_128 = /^[0-9a-f]{128}$/;
/**
 * Characters forbidden in the short descriptive fields (ids, names, reason, ...): C0/C1 controls
 * and DEL (log and terminal injection), U+2028/2029 line separators, and bidirectional formatting
 * characters (U+200E/200F, U+202A-202E, U+2066-2069: "Trojan Source", CVE-2021-42574) that would
 * let an entry display differently from what it says. `data` strings may hold anything except
 * lone surrogates: they are data, not display text.
 */
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
/**
 * Invisible characters, also forbidden in the descriptive fields: every Unicode format character
 * (general category Cf: zero-width space/joiners U+200B-200D, word joiner and invisible operators
 * U+2060-2064, BOM U+FEFF, Arabic letter mark U+061C, Mongolian vowel separator U+180E, soft hyphen
 * U+00AD, tag characters, ...) and the characters outside Cf that render as nothing or as a blank
 * (combining grapheme joiner U+034F, Hangul fillers U+115F/1160/3164/FFA0, Khmer inherent vowels
 * U+17B4/17B5). With them, "admin" and "ad\u200Bmin" look the same on screen but are different
 * actors, so a forged look-alike could be logged. Checked after CONTROL_OR_BIDI, which keeps its
 * own code for the bidirectional controls (also Cf).
 */
const INVISIBLE = /[\p{Cf}\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0]/u;

function codePointName(s: string, i: number): string {
  return `U+${s.codePointAt(i)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** String.prototype.isWellFormed (ES2024): native, where the runtime has it. */
const isWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

function hasLoneSurrogate(s: string): boolean {
  if (isWellFormed !== undefined) return !isWellFormed.call(s);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const n = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (n >= 0xdc00 && n <= 0xdfff) i++;
      else return true;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return true;
    }
  }
  return false;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  return typeof x;
}

const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Collects errors up to ENTRY_ERRORS_MAX. */
class Errors {
  readonly list: EntryError[] = [];
  add(code: EntryErrorCode, field: string, message: string): void {
    if (this.list.length < lim.ENTRY_ERRORS_MAX) this.list.push({ code, field, message });
  }
  get full(): boolean {
    return this.list.length >= lim.ENTRY_ERRORS_MAX;
  }
}

interface StringRule {
  max: number;
  maxName: string;
  /** Extra syntax check; returns an error (code, message) or null. */
  syntax?: (s: string) => [EntryErrorCode, string] | null;
}

/** Checks a descriptive string field; returns it or undefined after recording an error. */
function checkString(value: unknown, field: string, rule: StringRule, errors: Errors): string | undefined {
  if (typeof value !== 'string') {
    errors.add('field_type', field, `expected a string, got ${typeName(value)}`);
    return undefined;
  }
  if (value.length === 0) {
    errors.add('string_empty', field, 'must not be empty (omit optional fields instead)');
    return undefined;
  }
  if (value.length > rule.max) {
    errors.add('string_length', field, `is ${value.length} characters, more than ${rule.maxName} (${rule.max})`);
    return undefined;
  }
  if (hasLoneSurrogate(value)) {
    errors.add('string_surrogate', field, 'contains an unpaired UTF-16 surrogate (not valid Unicode, RFC 8785 §3.2.2.2)');
    return undefined;
  }
  if (CONTROL_OR_BIDI.test(value)) {
    errors.add('string_control', field, 'contains a control, line-separator or bidirectional formatting character');
    return undefined;
  }
  const invisible = INVISIBLE.exec(value);
  if (invisible !== null) {
    errors.add('string_invisible', field, `contains the invisible character ${codePointName(value, invisible.index)} (zero-width or format characters would let look-alike values be logged)`);
    return undefined;
  }
  const bad = rule.syntax?.(value) ?? null;
  if (bad !== null) {
    errors.add(bad[0], field, bad[1]);
    return undefined;
  }
  return value;
}

const SHORT: StringRule = { max: lim.SHORT_STRING_LENGTH_MAX, maxName: 'SHORT_STRING_LENGTH_MAX' };
const TOKEN: StringRule = {
  max: lim.TOKEN_LENGTH_MAX,
  maxName: 'TOKEN_LENGTH_MAX',
  syntax: (s) => (TOKEN_PATTERN.test(s) ? null : ['token_format', 'must be a lowercase token: a-z first, then a-z 0-9 _ . -']),
};
const ID: StringRule = {
  max: lim.ID_LENGTH_MAX,
  maxName: 'ID_LENGTH_MAX',
  syntax: (s) =>
    ID_PATTERN.test(s) && s !== '.' && s !== '..'
      ? null
      : ['id_format', 'must use only A-Z a-z 0-9 - . _ ~ (RFC 3986 unreserved) and not be "." or ".."'],
};
const ACTION: StringRule = {
  max: lim.ACTION_LENGTH_MAX,
  maxName: 'ACTION_LENGTH_MAX',
  syntax: (s) => {
    const segs = s.split('.');
    if (segs.length < 2 || segs.length > lim.ACTION_SEGMENTS_MAX || !segs.every((g) => ACTION_SEGMENT.test(g))) {
      return ['action_format', `must be 2..${lim.ACTION_SEGMENTS_MAX} (ACTION_SEGMENTS_MAX) dot-separated lowercase segments, e.g. "db.query"`];
    }
    return null;
  },
};
const TIME: StringRule = {
  max: 40,
  maxName: 'the RFC 3339 form length (40)',
  syntax: (s) => {
    const m = TIME_PATTERN.exec(s);
    if (m === null) return ['time_format', 'must be RFC 3339 UTC: YYYY-MM-DDTHH:MM:SS[.fraction]Z (1-9 fraction digits)'];
    // Indexed, not destructured: array destructuring goes through the iterator protocol, an
    // allocation per entry on the ingest path.
    const year = Number(m[1]), month = Number(m[2]), day = Number(m[3]), hour = Number(m[4]), minute = Number(m[5]), second = Number(m[6]);
    if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
      // Leap seconds (:60) are rejected: JavaScript and most databases cannot represent them.
      return ['time_invalid', 'is not a real calendar date and time (leap seconds are not accepted)'];
    }
    return null;
  },
};
const REASON: StringRule = { max: lim.REASON_LENGTH_MAX, maxName: 'REASON_LENGTH_MAX' };
const USER_AGENT: StringRule = { max: lim.USER_AGENT_LENGTH_MAX, maxName: 'USER_AGENT_LENGTH_MAX' };
const IP: StringRule = {
  max: 45,
  maxName: 'the longest IPv6 text form (45)',
  syntax: (s) => (isIpAddress(s) ? null : ['ip_format', 'must be an IPv4 dotted quad or an IPv6 address (no zone id)']),
};

/** Validates a nested object with a fixed set of string fields. */
function checkRecord(
  value: unknown,
  field: string,
  allowed: Set<string>,
  rules: Record<string, StringRule>,
  required: string[],
  errors: Errors,
): Record<string, string> | undefined {
  if (!isPlainObject(value)) {
    errors.add('field_type', field, `expected an object, got ${typeName(value)}`);
    return undefined;
  }
  const out: Record<string, string> = {};
  let ok = true;
  const keys = Object.keys(value);
  for (const k of keys) {
    if (!allowed.has(k)) {
      errors.add('field_unknown', `${field}.${k}`, `unknown field; allowed: ${[...allowed].join(', ')}`);
      ok = false;
    }
  }
  for (const k of required) {
    if (!has(value, k)) {
      errors.add('field_missing', `${field}.${k}`, 'required field is missing');
      ok = false;
    }
  }
  if (keys.length === 0 && required.length === 0) {
    errors.add('object_empty', field, 'must have at least one field (omit it instead)');
    return undefined;
  }
  for (const k of allowed) {
    if (!has(value, k)) continue;
    const s = checkString(value[k], `${field}.${k}`, rules[k]!, errors);
    if (s === undefined) ok = false;
    else out[k] = s;
  }
  return ok ? out : undefined;
}

/** Walks `data`, checking every limit, and returns a deep copy of plain JSON values. */
class DataWalker {
  values = 0;
  constructor(private readonly errors: Errors) {}

  walk(value: unknown, path: string, depth: number): JsonValue | undefined {
    if (this.errors.full) return undefined;
    if (++this.values > lim.DATA_VALUES_MAX) {
      if (this.values === lim.DATA_VALUES_MAX + 1) {
        this.errors.add('data_values', path, `data holds more than DATA_VALUES_MAX (${lim.DATA_VALUES_MAX}) JSON values`);
      }
      return undefined;
    }
    switch (typeof value) {
      case 'boolean':
        return value;
      case 'number':
        if (!Number.isFinite(value)) {
          this.errors.add('number_nonfinite', path, 'NaN and Infinity are not JSON numbers (RFC 8785 §3.2.2.3)');
          return undefined;
        }
        // I-JSON (RFC 7493 §2.2): integers beyond ±(2^53 - 1) are not exchanged exactly between
        // implementations; a client that signs 2^53 + 1 would see its signature fail here.
        if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
          this.errors.add('number_unsafe', path, 'integer outside ±(2^53 - 1) (I-JSON, RFC 7493 §2.2): send it as a string');
          return undefined;
        }
        return Object.is(value, -0) ? 0 : value;
      case 'string':
        if (value.length > lim.DATA_STRING_LENGTH_MAX) {
          this.errors.add('string_length', path, `is ${value.length} characters, more than DATA_STRING_LENGTH_MAX (${lim.DATA_STRING_LENGTH_MAX})`);
          return undefined;
        }
        if (hasLoneSurrogate(value)) {
          this.errors.add('string_surrogate', path, 'contains an unpaired UTF-16 surrogate (RFC 8785 §3.2.2.2)');
          return undefined;
        }
        return value;
      case 'object':
        break;
      default:
        this.errors.add('data_type', path, `${typeof value} is not a JSON value`);
        return undefined;
    }
    if (value === null) return null;
    if (depth > lim.DATA_DEPTH_MAX) {
      this.errors.add('data_depth', path, `nesting deeper than DATA_DEPTH_MAX (${lim.DATA_DEPTH_MAX})`);
      return undefined;
    }
    if (Array.isArray(value)) {
      if (value.length > lim.DATA_ARRAY_LENGTH_MAX) {
        this.errors.add('data_array_length', path, `array of ${value.length} elements, more than DATA_ARRAY_LENGTH_MAX (${lim.DATA_ARRAY_LENGTH_MAX})`);
        return undefined;
      }
      const out: JsonValue[] = [];
      let ok = true;
      for (let i = 0; i < value.length; i++) {
        const v = this.walk(value[i], `${path}[${i}]`, depth + 1);
        if (v === undefined) ok = false;
        else out.push(v);
        if (this.errors.full) return undefined;
      }
      return ok ? out : undefined;
    }
    if (!isPlainObject(value)) {
      this.errors.add('data_type', path, 'only plain JSON objects are allowed (no class instances, Dates, Maps, ...)');
      return undefined;
    }
    return this.walkObject(value, path, depth);
  }

  walkObject(value: Record<string, unknown>, path: string, depth: number): JsonObject | undefined {
    const keys = Object.keys(value);
    if (keys.length > lim.DATA_OBJECT_KEYS_MAX) {
      this.errors.add('data_keys', path, `object with ${keys.length} keys, more than DATA_OBJECT_KEYS_MAX (${lim.DATA_OBJECT_KEYS_MAX})`);
      return undefined;
    }
    const out: JsonObject = {};
    let ok = true;
    for (const k of keys) {
      const child = `${path}.${k}`;
      if (k.length > lim.DATA_KEY_LENGTH_MAX) {
        this.errors.add('data_key_length', `${path}.${k.slice(0, 32)}…`, `key of ${k.length} characters, more than DATA_KEY_LENGTH_MAX (${lim.DATA_KEY_LENGTH_MAX})`);
        ok = false;
        continue;
      }
      if (hasLoneSurrogate(k)) {
        this.errors.add('string_surrogate', child, 'object key contains an unpaired UTF-16 surrogate');
        ok = false;
        continue;
      }
      if (k === '__proto__') {
        // Many JSON consumers (fastify's secure-json-parse, lodash merges) reject or mishandle it.
        this.errors.add('data_key_reserved', child, 'the key "__proto__" is not allowed (prototype pollution hazard)');
        ok = false;
        continue;
      }
      const v = this.walk(value[k], child, depth + 1);
      if (v === undefined) ok = false;
      else out[k] = v;
      if (this.errors.full) return undefined;
    }
    return ok ? out : undefined;
  }
}

function checkHex(value: unknown, field: 'client' | 'sig', errors: Errors): string | undefined {
  const pattern = field === 'client' ? LOWER_HEX_64 : LOWER_HEX_128;
  if (typeof value === 'string' && pattern.test(value)) return value;
  const what = field === 'client' ? 'the Ed25519 public key as 64 lowercase hex digits' : 'the Ed25519 signature as 128 lowercase hex digits';
  errors.add(field === 'client' ? 'client_format' : 'sig_format', field, `must be ${what}`);
  return undefined;
}

type Mode = 'signed' | 'unsigned';

function validate(input: unknown, mode: Mode): Validated {
  const errors = new Errors();
  if (!isPlainObject(input)) {
    errors.add('entry_not_object', '', `an entry must be a JSON object, got ${typeName(input)}`);
    return { errors: errors.list };
  }
  for (const k of Object.keys(input)) {
    if (!TOP_LEVEL_FIELDS.has(k) || (mode === 'unsigned' && k === 'sig')) {
      errors.add('field_unknown', k, mode === 'unsigned' && k === 'sig' ? 'an unsigned entry has no sig' : 'unknown top-level field');
    }
  }
  const required = mode === 'signed' ? ['v', 'id', 'time', 'actor', 'action', 'resource', 'outcome', 'client', 'sig'] : ['v', 'id', 'time', 'actor', 'action', 'resource', 'outcome'];
  for (const k of required) if (!has(input, k)) errors.add('field_missing', k, 'required field is missing');

  const out: Record<string, unknown> = {};
  let dataText: string | undefined;
  if (has(input, 'v')) {
    if (input['v'] === 1) out['v'] = 1;
    else errors.add(typeof input['v'] === 'number' ? 'version_unsupported' : 'field_type', 'v', 'must be the number 1 (entry format version)');
  }
  const str = (k: string, rule: StringRule): void => {
    if (!has(input, k)) return;
    const s = checkString(input[k], k, rule, errors);
    if (s !== undefined) out[k] = s;
  };
  str('id', ID);
  str('time', TIME);
  if (has(input, 'actor')) {
    const a = checkRecord(input['actor'], 'actor', ACTOR_FIELDS, { id: SHORT, type: TOKEN, name: SHORT }, ['id'], errors);
    if (a !== undefined) out['actor'] = a;
  }
  str('action', ACTION);
  if (has(input, 'resource')) {
    const r = checkRecord(input['resource'], 'resource', RESOURCE_FIELDS, { type: TOKEN, id: SHORT, name: SHORT }, ['type', 'id'], errors);
    if (r !== undefined) out['resource'] = r;
  }
  if (has(input, 'outcome')) {
    const o = input['outcome'];
    if (typeof o === 'string' && (OUTCOMES as readonly string[]).includes(o)) out['outcome'] = o as Outcome;
    else errors.add(typeof o === 'string' ? 'outcome_invalid' : 'field_type', 'outcome', `must be one of ${OUTCOMES.join(', ')}`);
  }
  str('reason', REASON);
  if (has(input, 'source')) {
    const s = checkRecord(input['source'], 'source', SOURCE_FIELDS, { ip: IP, userAgent: USER_AGENT }, [], errors);
    if (s !== undefined) out['source'] = s;
  }
  str('requestId', SHORT);
  str('tenant', SHORT);
  if (has(input, 'data')) {
    const d = input['data'];
    if (!isPlainObject(d)) {
      errors.add('field_type', 'data', `expected an object, got ${typeName(d)}`);
    } else {
      const copy = new DataWalker(errors).walkObject(d, 'data', 1);
      // The size needs the JCS text of `data`, the costliest step: skipped when the entry is
      // already refused for something else. The text is kept: it is part of the entry's
      // canonical form, assembled below without serializing `data` a second time.
      if (copy !== undefined && errors.list.length === 0) {
        dataText = jcs(copy);
        const size = utf8Bound(dataText, lim.DATA_BYTES_MAX);
        if (size > lim.DATA_BYTES_MAX) errors.add('data_size', 'data', `data is ${size} bytes as JCS, more than DATA_BYTES_MAX (${lim.DATA_BYTES_MAX})`);
        else out['data'] = copy;
      }
    }
  }
  if (has(input, 'client')) {
    const c = checkHex(input['client'], 'client', errors);
    if (c !== undefined) out['client'] = c;
  }
  if (mode === 'signed' && has(input, 'sig')) {
    const s = checkHex(input['sig'], 'sig', errors);
    if (s !== undefined) out['sig'] = s;
  }
  if (errors.list.length > 0) return { errors: errors.list };
  // For unsigned entries, measure with a placeholder signature and key of the final sizes.
  const sized = mode === 'signed' ? out : { ...out, client: '0'.repeat(64), sig: '0'.repeat(128) };
  const canonical = assembleJcs(sized, dataText, TOP_LEVEL_JCS_ORDER);
  const leafBytes = utf8Bound(canonical.text, lim.LEAF_BYTES_MAX);
  if (leafBytes > lim.LEAF_BYTES_MAX) {
    errors.add('leaf_too_large', '', `the signed entry is ${leafBytes} bytes as JCS, more than LEAF_BYTES_MAX (${lim.LEAF_BYTES_MAX})`);
    return { errors: errors.list };
  }
  if (mode === 'unsigned') return { entry: out as unknown as AuditEntry, errors: [] };
  return { entry: out as unknown as AuditEntry, errors: [], canonical };
}

type Validated = { entry?: AuditEntry; errors: EntryError[]; canonical?: CanonicalText };

function guarded(input: unknown, mode: Mode): Validated {
  try {
    return validate(input, mode);
  } catch (e) {
    // Only reachable with hostile JS objects (throwing getters, Proxies), never with JSON.parse output.
    return { errors: [{ code: 'entry_unreadable', field: '', message: `the value could not be read: ${e instanceof Error ? e.message : String(e)}` }] };
  }
}

/**
 * Validates a signed entry (untrusted input) and returns its canonical JCS text with it, computed
 * once (src/entry/canonical.ts derives leaf, leaf hash and signed message from it). Never throws.
 */
export function validateSignedCanonical(input: unknown): { ok: true; entry: AuditEntry; canonical: CanonicalText } | { ok: false; errors: EntryError[] } {
  const r = guarded(input, 'signed');
  return r.entry !== undefined && r.canonical !== undefined ? { ok: true, entry: r.entry, canonical: r.canonical } : { ok: false, errors: r.errors };
}

/** Validates a signed entry (untrusted input). Does not check the signature: see verifyEntrySignature. */
export function validateEntry(input: unknown): EntryResult {
  const r = guarded(input, 'signed');
  return r.entry !== undefined ? { ok: true, entry: r.entry } : { ok: false, errors: r.errors };
}

/** Validates an entry before signing (no `sig`; `client` optional). The result's client/sig are absent. */
export function validateUnsignedEntry(input: unknown): { ok: true; entry: UnsignedEntry } | { ok: false; errors: EntryError[] } {
  const r = guarded(input, 'unsigned');
  return r.entry !== undefined ? { ok: true, entry: r.entry as unknown as UnsignedEntry } : { ok: false, errors: r.errors };
}

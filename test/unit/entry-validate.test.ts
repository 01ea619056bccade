// validateEntry: the valid shapes, and one test per error path asserting its code and field.
import { describe, expect, it } from 'vitest';
import { validateEntry, validateUnsignedEntry } from '../../src/entry/validate.js';
import { signEntry } from '../../src/entry/sign.js';
import * as lim from '../../src/entry/limits.js';
import { ENTRY_ERROR_CODES, type AuditEntry, type EntryError } from '../../src/entry/types.js';
import { isIPv4, isIPv6 } from '../../src/entry/ip.js';
import { nobleSigner } from '../../src/crypto/noble.js';
import { fullUnsignedEntry, minimalUnsignedEntry } from './support/entry-fixtures.js';

const signer = nobleSigner(new Uint8Array(32).fill(1));
const FULL = signEntry(fullUnsignedEntry(), signer);
const MINIMAL = signEntry(minimalUnsignedEntry(), signer);

type Mutable = Record<string, any>;
function mutated(f: (e: Mutable) => void, base: AuditEntry = FULL): Mutable {
  const e = structuredClone(base) as Mutable;
  f(e);
  return e;
}

function nested(depth: number): Mutable {
  let v: Mutable = { leaf: 1 };
  for (let i = 1; i < depth; i++) v = { n: v };
  return v;
}

describe('valid entries', () => {
  it('accept the full and the minimal entry and return an equal deep copy', () => {
    for (const e of [FULL, MINIMAL]) {
      const r = validateEntry(structuredClone(e));
      expect(r).toEqual({ ok: true, entry: e });
    }
  });
  it('the returned entry does not share objects with the input', () => {
    const input = structuredClone(FULL) as Mutable;
    const r = validateEntry(input);
    expect(r.ok).toBe(true);
    input.actor.id = 'mallory';
    input.data.query.params.push(99);
    if (r.ok) {
      expect(r.entry.actor.id).toBe('alice@example.com');
      expect((r.entry.data!['query'] as Mutable)['params']).toHaveLength(5);
    }
  });
  it('accepts limits exactly at their maximum', () => {
    const atMax = mutated((e) => {
      e.id = 'x'.repeat(lim.ID_LENGTH_MAX);
      e.actor.id = 'a'.repeat(lim.SHORT_STRING_LENGTH_MAX);
      e.actor.type = 'u'.repeat(lim.TOKEN_LENGTH_MAX);
      e.reason = 'r'.repeat(lim.REASON_LENGTH_MAX);
      e.source.userAgent = 'u'.repeat(lim.USER_AGENT_LENGTH_MAX);
      e.action = Array.from({ length: lim.ACTION_SEGMENTS_MAX }, () => 'a').join('.');
      e.data = { deep: nested(lim.DATA_DEPTH_MAX - 1), // data (depth 1) + 15 levels = DATA_DEPTH_MAX
        arr: new Array(lim.DATA_ARRAY_LENGTH_MAX).fill(0), s: 's'.repeat(lim.DATA_STRING_LENGTH_MAX), ['k'.repeat(lim.DATA_KEY_LENGTH_MAX)]: 1 };
    });
    expect(validateEntry(atMax).ok).toBe(true);
  });
  it('accepts valid times including leap days and 9 fractional digits', () => {
    for (const t of ['2024-02-29T23:59:59Z', '2000-02-29T00:00:00.5Z', '1999-12-31T23:59:59.123456789Z', '2023-04-30T00:00:00Z']) {
      expect(validateEntry(mutated((e) => (e.time = t))).ok, t).toBe(true);
    }
  });
  it('accepts IPv4 and IPv6 forms', () => {
    for (const ip of ['192.0.2.1', '0.0.0.0', '255.255.255.255', '::', '::1', '2001:DB8::8:800:200C:417A', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8', '1::8', 'fe80::', '1:2:3:4:5:6:1.2.3.4']) {
      expect(isIPv4(ip) || isIPv6(ip), ip).toBe(true);
      expect(validateEntry(mutated((e) => (e.source.ip = ip))).ok, ip).toBe(true);
    }
  });
  it('negative zero in data is normalized to 0 (JCS writes both as 0)', () => {
    const r = validateEntry(mutated((e) => (e.data = { z: -0 })));
    expect(r.ok && Object.is(r.entry.data!['z'], 0)).toBe(true);
  });
});

interface ErrorCase {
  name: string;
  input: unknown;
  code: EntryError['code'];
  field: string;
}

function throwingGetter(): Mutable {
  const e = structuredClone(FULL) as Mutable;
  Object.defineProperty(e, 'reason', { enumerable: true, get: () => { throw new Error('boom'); } });
  return e;
}

const manyValues = { a: new Array(1000).fill(1), b: new Array(1000).fill(1), c: new Array(1000).fill(1), d: new Array(1000).fill(1), e: new Array(1000).fill(1) };
const bigData = { a: 'x'.repeat(16000), b: 'x'.repeat(16000), c: 'x'.repeat(16000), d: 'x'.repeat(16000) };
const manyKeys = Object.fromEntries(Array.from({ length: lim.DATA_OBJECT_KEYS_MAX + 1 }, (_, i) => [`k${i}`, i]));

const ERROR_CASES: ErrorCase[] = [
  { name: 'array instead of object', input: [], code: 'entry_not_object', field: '' },
  { name: 'null', input: null, code: 'entry_not_object', field: '' },
  { name: 'string', input: '{}', code: 'entry_not_object', field: '' },
  { name: 'class instance', input: new (class X { v = 1; })(), code: 'entry_not_object', field: '' },
  { name: 'throwing getter', input: throwingGetter(), code: 'entry_unreadable', field: '' },
  { name: 'unknown top-level field', input: mutated((e) => (e.extra = 1)), code: 'field_unknown', field: 'extra' },
  { name: 'unknown actor field', input: mutated((e) => (e.actor.email = 'a@b')), code: 'field_unknown', field: 'actor.email' },
  { name: 'unknown resource field', input: mutated((e) => (e.resource.owner = 'x')), code: 'field_unknown', field: 'resource.owner' },
  { name: 'unknown source field', input: mutated((e) => (e.source.port = 1)), code: 'field_unknown', field: 'source.port' },
  { name: 'missing id', input: mutated((e) => delete e.id), code: 'field_missing', field: 'id' },
  { name: 'missing time', input: mutated((e) => delete e.time), code: 'field_missing', field: 'time' },
  { name: 'missing v', input: mutated((e) => delete e.v), code: 'field_missing', field: 'v' },
  { name: 'missing outcome', input: mutated((e) => delete e.outcome), code: 'field_missing', field: 'outcome' },
  { name: 'missing client', input: mutated((e) => delete e.client), code: 'field_missing', field: 'client' },
  { name: 'missing sig', input: mutated((e) => delete e.sig), code: 'field_missing', field: 'sig' },
  { name: 'missing actor.id', input: mutated((e) => delete e.actor.id), code: 'field_missing', field: 'actor.id' },
  { name: 'missing resource.type', input: mutated((e) => delete e.resource.type), code: 'field_missing', field: 'resource.type' },
  { name: 'id is a number', input: mutated((e) => (e.id = 5)), code: 'field_type', field: 'id' },
  { name: 'v is a string', input: mutated((e) => (e.v = '1')), code: 'field_type', field: 'v' },
  { name: 'actor is a string', input: mutated((e) => (e.actor = 'alice')), code: 'field_type', field: 'actor' },
  { name: 'source is null', input: mutated((e) => (e.source = null)), code: 'field_type', field: 'source' },
  { name: 'data is an array', input: mutated((e) => (e.data = [1])), code: 'field_type', field: 'data' },
  { name: 'outcome is a number', input: mutated((e) => (e.outcome = 1)), code: 'field_type', field: 'outcome' },
  { name: 'actor.name is a number', input: mutated((e) => (e.actor.name = 7)), code: 'field_type', field: 'actor.name' },
  { name: 'v = 2', input: mutated((e) => (e.v = 2)), code: 'version_unsupported', field: 'v' },
  { name: 'id with a slash', input: mutated((e) => (e.id = 'a/b')), code: 'id_format', field: 'id' },
  { name: 'id with a space', input: mutated((e) => (e.id = 'a b')), code: 'id_format', field: 'id' },
  { name: 'id "."', input: mutated((e) => (e.id = '.')), code: 'id_format', field: 'id' },
  { name: 'id ".."', input: mutated((e) => (e.id = '..')), code: 'id_format', field: 'id' },
  { name: 'id with non-ASCII', input: mutated((e) => (e.id = 'café')), code: 'id_format', field: 'id' },
  { name: 'id with %', input: mutated((e) => (e.id = 'a%2Fb')), code: 'id_format', field: 'id' },
  { name: 'id too long', input: mutated((e) => (e.id = 'x'.repeat(lim.ID_LENGTH_MAX + 1))), code: 'string_length', field: 'id' },
  { name: 'actor.id too long', input: mutated((e) => (e.actor.id = 'a'.repeat(lim.SHORT_STRING_LENGTH_MAX + 1))), code: 'string_length', field: 'actor.id' },
  { name: 'reason too long', input: mutated((e) => (e.reason = 'r'.repeat(lim.REASON_LENGTH_MAX + 1))), code: 'string_length', field: 'reason' },
  { name: 'userAgent too long', input: mutated((e) => (e.source.userAgent = 'u'.repeat(lim.USER_AGENT_LENGTH_MAX + 1))), code: 'string_length', field: 'source.userAgent' },
  { name: 'tenant too long', input: mutated((e) => (e.tenant = 't'.repeat(lim.SHORT_STRING_LENGTH_MAX + 1))), code: 'string_length', field: 'tenant' },
  { name: 'action too long', input: mutated((e) => (e.action = 'a.' + 'b'.repeat(lim.ACTION_LENGTH_MAX))), code: 'string_length', field: 'action' },
  { name: 'data string too long', input: mutated((e) => (e.data = { s: 's'.repeat(lim.DATA_STRING_LENGTH_MAX + 1) })), code: 'string_length', field: 'data.s' },
  { name: 'empty actor.name', input: mutated((e) => (e.actor.name = '')), code: 'string_empty', field: 'actor.name' },
  { name: 'empty requestId', input: mutated((e) => (e.requestId = '')), code: 'string_empty', field: 'requestId' },
  { name: 'newline in actor.name', input: mutated((e) => (e.actor.name = 'a\nb')), code: 'string_control', field: 'actor.name' },
  { name: 'NUL in requestId', input: mutated((e) => (e.requestId = 'a\u0000')), code: 'string_control', field: 'requestId' },
  { name: 'bidi override in reason', input: mutated((e) => (e.reason = 'ok \u202e')), code: 'string_control', field: 'reason' },
  { name: 'U+2028 in resource.name', input: mutated((e) => (e.resource.name = 'a\u2028b')), code: 'string_control', field: 'resource.name' },
  { name: 'C1 control in tenant', input: mutated((e) => (e.tenant = 'a\u0085')), code: 'string_control', field: 'tenant' },
  { name: 'lone high surrogate in actor.id', input: mutated((e) => (e.actor.id = 'a\ud800')), code: 'string_surrogate', field: 'actor.id' },
  { name: 'lone low surrogate in data string', input: mutated((e) => (e.data = { x: { y: '\udc00x' } })), code: 'string_surrogate', field: 'data.x.y' },
  { name: 'lone surrogate in a data key', input: mutated((e) => (e.data = { ['\ud800']: 1 })), code: 'string_surrogate', field: 'data.\ud800' },
  { name: 'time with a space', input: mutated((e) => (e.time = '2024-05-01 12:00:00Z')), code: 'time_format', field: 'time' },
  { name: 'time lowercase t', input: mutated((e) => (e.time = '2024-05-01t12:00:00Z')), code: 'time_format', field: 'time' },
  { name: 'time with offset', input: mutated((e) => (e.time = '2024-05-01T12:00:00+01:00')), code: 'time_format', field: 'time' },
  { name: 'time without zone', input: mutated((e) => (e.time = '2024-05-01T12:00:00')), code: 'time_format', field: 'time' },
  { name: 'time with 10 fraction digits', input: mutated((e) => (e.time = '2024-05-01T12:00:00.1234567890Z')), code: 'time_format', field: 'time' },
  { name: 'time date only', input: mutated((e) => (e.time = '2024-05-01')), code: 'time_format', field: 'time' },
  { name: 'time Feb 30', input: mutated((e) => (e.time = '2024-02-30T00:00:00Z')), code: 'time_invalid', field: 'time' },
  { name: 'time Feb 29 of a non-leap year', input: mutated((e) => (e.time = '2023-02-29T00:00:00Z')), code: 'time_invalid', field: 'time' },
  { name: 'time Feb 29 of 1900', input: mutated((e) => (e.time = '1900-02-29T00:00:00Z')), code: 'time_invalid', field: 'time' },
  { name: 'time month 13', input: mutated((e) => (e.time = '2024-13-01T00:00:00Z')), code: 'time_invalid', field: 'time' },
  { name: 'time hour 24', input: mutated((e) => (e.time = '2024-05-01T24:00:00Z')), code: 'time_invalid', field: 'time' },
  { name: 'time leap second', input: mutated((e) => (e.time = '2016-12-31T23:59:60Z')), code: 'time_invalid', field: 'time' },
  { name: 'actor.type uppercase', input: mutated((e) => (e.actor.type = 'User')), code: 'token_format', field: 'actor.type' },
  { name: 'resource.type starting with a digit', input: mutated((e) => (e.resource.type = '1table')), code: 'token_format', field: 'resource.type' },
  { name: 'actor.type too long', input: mutated((e) => (e.actor.type = 'u'.repeat(lim.TOKEN_LENGTH_MAX + 1))), code: 'string_length', field: 'actor.type' },
  { name: 'action with one segment', input: mutated((e) => (e.action = 'query')), code: 'action_format', field: 'action' },
  { name: 'action uppercase', input: mutated((e) => (e.action = 'DB.query')), code: 'action_format', field: 'action' },
  { name: 'action empty segment', input: mutated((e) => (e.action = 'db..query')), code: 'action_format', field: 'action' },
  { name: 'action with too many segments', input: mutated((e) => (e.action = Array(lim.ACTION_SEGMENTS_MAX + 1).fill('a').join('.'))), code: 'action_format', field: 'action' },
  { name: 'outcome not in the list', input: mutated((e) => (e.outcome = 'ok')), code: 'outcome_invalid', field: 'outcome' },
  { name: 'IPv4 octet > 255', input: mutated((e) => (e.source.ip = '256.1.1.1')), code: 'ip_format', field: 'source.ip' },
  { name: 'IPv4 leading zero', input: mutated((e) => (e.source.ip = '01.2.3.4')), code: 'ip_format', field: 'source.ip' },
  { name: 'IPv6 with 9 groups', input: mutated((e) => (e.source.ip = '1:2:3:4:5:6:7:8:9')), code: 'ip_format', field: 'source.ip' },
  { name: 'IPv6 with a zone id', input: mutated((e) => (e.source.ip = 'fe80::1%eth0')), code: 'ip_format', field: 'source.ip' },
  { name: 'IPv6 with two ::', input: mutated((e) => (e.source.ip = '1::2::3')), code: 'ip_format', field: 'source.ip' },
  { name: 'IPv6 with IPv4 not at the end', input: mutated((e) => (e.source.ip = '1.2.3.4::')), code: 'ip_format', field: 'source.ip' },
  { name: 'IPv6 with 8 groups and ::', input: mutated((e) => (e.source.ip = '1:2:3:4::5:6:7:8')), code: 'ip_format', field: 'source.ip' },
  { name: 'hostname as ip', input: mutated((e) => (e.source.ip = 'example.com')), code: 'ip_format', field: 'source.ip' },
  { name: 'empty source', input: mutated((e) => (e.source = {})), code: 'object_empty', field: 'source' },
  { name: 'data too deep', input: mutated((e) => (e.data = nested(lim.DATA_DEPTH_MAX + 1))), code: 'data_depth', field: 'data' + '.n'.repeat(lim.DATA_DEPTH_MAX) },
  { name: 'data object with too many keys', input: mutated((e) => (e.data = { big: manyKeys })), code: 'data_keys', field: 'data.big' },
  { name: 'data array too long', input: mutated((e) => (e.data = { a: new Array(lim.DATA_ARRAY_LENGTH_MAX + 1).fill(0) })), code: 'data_array_length', field: 'data.a' },
  { name: 'data key too long', input: mutated((e) => (e.data = { ['k'.repeat(lim.DATA_KEY_LENGTH_MAX + 1)]: 1 })), code: 'data_key_length', field: 'data.' + 'k'.repeat(32) + '…' },
  { name: 'data __proto__ key', input: mutated((e) => (e.data = JSON.parse('{"a":{"__proto__":{"x":1}}}'))), code: 'data_key_reserved', field: 'data.a.__proto__' },
  { name: 'data with too many values', input: mutated((e) => (e.data = manyValues)), code: 'data_values', field: 'data.e[91]' },
  { name: 'data too large', input: mutated((e) => (e.data = bigData)), code: 'data_size', field: 'data' },
  { name: 'data holds a Date', input: mutated((e) => (e.data = { when: new Date(0) })), code: 'data_type', field: 'data.when' },
  { name: 'data holds undefined', input: mutated((e) => (e.data = { u: undefined })), code: 'data_type', field: 'data.u' },
  { name: 'data holds a bigint', input: mutated((e) => (e.data = { b: 1n })), code: 'data_type', field: 'data.b' },
  { name: 'data holds a function', input: mutated((e) => (e.data = { f: () => 1 })), code: 'data_type', field: 'data.f' },
  { name: 'data holds a Map', input: mutated((e) => (e.data = { m: new Map() })), code: 'data_type', field: 'data.m' },
  { name: 'data holds NaN', input: mutated((e) => (e.data = { n: [1, NaN] })), code: 'number_nonfinite', field: 'data.n[1]' },
  { name: 'data holds Infinity', input: mutated((e) => (e.data = { n: -Infinity })), code: 'number_nonfinite', field: 'data.n' },
  { name: 'data holds 2^53', input: mutated((e) => (e.data = { n: 2 ** 53 })), code: 'number_unsafe', field: 'data.n' },
  { name: 'data holds 1e300', input: mutated((e) => (e.data = { n: 1e300 })), code: 'number_unsafe', field: 'data.n' },
  { name: 'client uppercase hex', input: mutated((e) => (e.client = e.client.toUpperCase())), code: 'client_format', field: 'client' },
  { name: 'client 63 hex digits', input: mutated((e) => (e.client = e.client.slice(1))), code: 'client_format', field: 'client' },
  { name: 'client not a string', input: mutated((e) => (e.client = 1)), code: 'client_format', field: 'client' },
  { name: 'sig 127 hex digits', input: mutated((e) => (e.sig = e.sig.slice(1))), code: 'sig_format', field: 'sig' },
  { name: 'sig non-hex', input: mutated((e) => (e.sig = 'z' + e.sig.slice(1))), code: 'sig_format', field: 'sig' },
];

describe('validateEntry error paths', () => {
  for (const c of ERROR_CASES) {
    it(`${c.name} -> ${c.code} at "${c.field}"`, () => {
      const r = validateEntry(c.input);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.errors[0]).toMatchObject({ code: c.code, field: c.field });
      for (const e of r.errors) {
        expect(ENTRY_ERROR_CODES).toContain(e.code);
        expect(e.message.length).toBeGreaterThan(0);
      }
    });
  }

  it('limit errors name their limit constant', () => {
    const cases: [Mutable, string][] = [
      [mutated((e) => (e.id = 'x'.repeat(lim.ID_LENGTH_MAX + 1))), 'ID_LENGTH_MAX'],
      [mutated((e) => (e.data = nested(lim.DATA_DEPTH_MAX + 1))), 'DATA_DEPTH_MAX'],
      [mutated((e) => (e.data = bigData)), 'DATA_BYTES_MAX'],
      [mutated((e) => (e.data = manyValues)), 'DATA_VALUES_MAX'],
      [mutated((e) => (e.data = { big: manyKeys })), 'DATA_OBJECT_KEYS_MAX'],
    ];
    for (const [input, name] of cases) {
      const r = validateEntry(input);
      expect(!r.ok && r.errors[0]!.message).toContain(name);
    }
  });

  it('reports several problems at once, but at most ENTRY_ERRORS_MAX', () => {
    const two = validateEntry(mutated((e) => { e.id = 'a/b'; e.outcome = 'ok'; }));
    expect(!two.ok && two.errors.map((x) => x.code)).toEqual(['id_format', 'outcome_invalid']);
    const many = mutated((e) => { for (let i = 0; i < 100; i++) e[`x${i}`] = i; });
    const r = validateEntry(many);
    expect(!r.ok && r.errors.length).toBe(lim.ENTRY_ERRORS_MAX);
  });

  it('validateUnsignedEntry rejects a sig and does not require client', () => {
    expect(validateUnsignedEntry(minimalUnsignedEntry()).ok).toBe(true);
    const r = validateUnsignedEntry({ ...minimalUnsignedEntry(), sig: '00'.repeat(64) });
    expect(!r.ok && r.errors[0]).toMatchObject({ code: 'field_unknown', field: 'sig' });
  });
});

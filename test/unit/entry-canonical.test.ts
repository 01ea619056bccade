// One canonical form per entry (src/entry/canonical.ts): the leaf, leaf hash and signed message it
// derives from one serialization are byte for byte what the entry-object functions (entryLeaf,
// leafHashOfEntry, entrySigningMessage: a JCS of each) produce, on a corpus with unicode, numbers
// and nested data, so nothing changes on the wire or in the log. Parsing leaves gives the same
// verdict and error code as the former parse (decode, JSON.parse, validate, re-serialize, compare).
import { describe, expect, it } from 'vitest';
import { canonicalEntry, canonicalEntryFromLeaf, verifyCanonicalEntry, type CanonicalEntry } from '../../src/entry/canonical.js';
import { entryLeaf, entrySigningMessage, leafHashOfEntry } from '../../src/entry/leaf.js';
import { signEntry } from '../../src/entry/sign.js';
import { validateEntry, jcs } from '../../src/entry/validate.js';
import { LEAF_BYTES_MAX } from '../../src/entry/limits.js';
import type { AuditEntry, EntryResult, JsonObject, UnsignedEntry } from '../../src/entry/types.js';
import { nodeSigner, nodeVerifier } from '../../src/crypto/node.js';
import { nobleVerifier } from '../../src/crypto/noble.js';
import { bytesEqual, concatBytes, fromUtf8, toHex, utf8 } from '../../src/encoding/bytes.js';
import { SeededRandom } from './support/seeded-random.js';
import { fullUnsignedEntry, minimalUnsignedEntry } from './support/entry-fixtures.js';

const signer = nodeSigner(new Uint8Array(32).fill(7));

/** The parse as it was before canonical.ts: decode, JSON.parse, validate, serialize again, compare bytes. */
function formerParseLeaf(bytes: Uint8Array): EntryResult {
  if (bytes.length > LEAF_BYTES_MAX) return { ok: false, errors: [{ code: 'leaf_too_large', field: '', message: '' }] };
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    return { ok: false, errors: [{ code: 'leaf_utf8', field: '', message: '' }] };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, errors: [{ code: 'leaf_json', field: '', message: '' }] };
  }
  const r = validateEntry(value);
  if (!r.ok) return r;
  if (!bytesEqual(utf8(jcs(r.entry)), bytes)) return { ok: false, errors: [{ code: 'leaf_noncanonical', field: '', message: '' }] };
  return r;
}

function nested(depth: number): JsonObject {
  let v: JsonObject = { leaf: 'bottom', n: depth };
  for (let i = depth - 1; i > 0; i--) v = { [`level${i}`]: v, list: [i, 'x'] };
  return v;
}

const corpus: [string, UnsignedEntry][] = [
  ['minimal', minimalUnsignedEntry()],
  ['every field', fullUnsignedEntry()],
  [
    'unicode in every descriptive field and in data',
    {
      ...fullUnsignedEntry(),
      actor: { id: 'Zoë Ünïcødé', type: 'user', name: '山田太郎 😀' },
      resource: { type: 'doc', id: 'קובץ', name: 'ملف' },
      reason: 'naïve café — “quotes” ‘single’ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
      tenant: 'Ελληνικά',
      data: { '\ufb33': 1, '\u{1f600}': 2, é: 'e\u0301', 'a\u2028b': '\u2029', ctl: '\u0000\u001f\u007f', q: '"\\/', emoji: '👩‍👩‍👧‍👦', z: '\uffff' },
    },
  ],
  [
    'numbers written the ECMAScript way',
    {
      ...minimalUnsignedEntry(),
      data: { a: 0.1, b: 9007199254740991, c: -0, d: 1.5e-7, e: 1.5e-300, f: 1e-7, g: 0.000001, h: 5e-324, i: -(2 ** 53 - 1), j: -123456789.125, k: 100, l: 4503599627370495.5, m: [1, -1, 0.5, 1e-300, 0.1 + 0.2] },
    },
  ],
  ['nested data at the depth limit', { ...minimalUnsignedEntry(), data: nested(16) }],
  ['arrays, nulls and booleans', { ...minimalUnsignedEntry(), data: { list: [null, true, false, [], {}, [[[]]], ''], empty: {} } }],
  ['ids and times at their edges', { ...minimalUnsignedEntry(), id: '~._-AZaz09'.repeat(12), time: '2024-02-29T23:59:59.123456789Z' }],
  ['optional source only ip', { ...minimalUnsignedEntry(), source: { ip: '::ffff:192.0.2.1' }, requestId: 'r', tenant: 't' }],
  ['large data', { ...minimalUnsignedEntry(), data: { a: 'x'.repeat(16000), b: '€'.repeat(10000), c: 'y'.repeat(1000) } }],
];

/** Random valid data (seeded): strings from a wide character pool, numbers, nesting. */
function randomData(rnd: SeededRandom, depth = 1): JsonObject {
  const pool = ['a', 'Z', 'é', '€', '😀', '\u2028', '"', '\\', '\n', '\u0001', 'ß', '中', '\ufb33', ' ', '/'];
  const str = () => Array.from({ length: rnd.int(6) }, () => rnd.pick(pool)).join('');
  const val = (d: number): JsonObject[string] => {
    switch (rnd.int(d >= 4 ? 5 : 7)) {
      case 0: return null;
      case 1: return rnd.int(2) === 0;
      case 2: return (rnd.int(2_000_001) - 1_000_000) / rnd.pick([1, 3, 7, 1000, 1e9]);
      case 3: return rnd.pick([0, -0, 1e-300, 1e-7, 123e-20, 2 ** 53 - 1, -(2 ** 53 - 1), 0.1 + 0.2]);
      case 4: return str();
      case 5: return Array.from({ length: rnd.int(4) }, () => val(d + 1));
      default: return randomData(rnd, d + 1);
    }
  };
  const o: JsonObject = {};
  for (let i = rnd.int(5); i > 0; i--) o[str() || 'k'] = val(depth);
  return o;
}

function signed(u: UnsignedEntry): AuditEntry {
  return signEntry(u, signer);
}

function expectSameAsEntryFunctions(e: AuditEntry, c: CanonicalEntry): void {
  const leaf = entryLeaf(e);
  expect(toHex(c.leaf)).toBe(toHex(leaf));
  expect(toHex(c.leafHash)).toBe(toHex(leafHashOfEntry(leaf)));
  expect(toHex(c.signedMessage)).toBe(toHex(entrySigningMessage(e)));
  expect(c.entry).toEqual(e);
}

describe('canonicalEntry / canonicalEntryFromLeaf', () => {
  for (const [name, u] of corpus) {
    it(`${name}: leaf, leaf hash and signed message equal entryLeaf, leafHashOfEntry and entrySigningMessage`, () => {
      const e = signed(u);
      const fromObject = canonicalEntry(JSON.parse(JSON.stringify(e)));
      expect(fromObject.ok).toBe(true);
      if (!fromObject.ok) return;
      expectSameAsEntryFunctions(e, fromObject.value);
      const leaf = entryLeaf(e);
      const fromLeaf = canonicalEntryFromLeaf(leaf);
      expect(fromLeaf.ok).toBe(true);
      if (!fromLeaf.ok) return;
      expectSameAsEntryFunctions(e, fromLeaf.value);
      expect(fromLeaf.value.leaf).toBe(leaf); // the received bytes themselves, not a copy
      expect(verifyCanonicalEntry(fromLeaf.value, nodeVerifier)).toBe(true);
    });
  }

  it('150 random entries (seeded): the same bytes as the entry functions, and the same parse verdict', () => {
    const rnd = new SeededRandom('entry-canonical-v1');
    for (let i = 0; i < 150; i++) {
      const e = signed({ ...fullUnsignedEntry(), id: `r${i}`, data: randomData(rnd) });
      const c = canonicalEntry(e);
      expect(c.ok).toBe(true);
      if (c.ok) expectSameAsEntryFunctions(e, c.value);
      const p = canonicalEntryFromLeaf(entryLeaf(e));
      expect(p.ok && toHex(p.value.signedMessage)).toBe(toHex(entrySigningMessage(e)));
    }
  });

  it('the signed message is the leaf without its sig member, after the domain line', () => {
    const e = signed(fullUnsignedEntry());
    const c = canonicalEntry(e);
    if (!c.ok) throw new Error('entry rejected');
    const text = fromUtf8(c.value.leaf);
    expect(fromUtf8(c.value.signedMessage)).toBe(`cairn/entry/v1\n${text.replace(`,"sig":"${e.sig}"`, '')}`);
    expect(fromUtf8(c.value.leaf.subarray(c.value.sigAt, c.value.sigAt + 8))).toBe(',"sig":"');
  });

  it('a data key named "sig" (or ending in sig) does not move the signed member', () => {
    const e = signed({ ...minimalUnsignedEntry(), data: { sig: 'x', 'a"sig': 'y', nested: { sig: { sig: 'z' } } } });
    const c = canonicalEntryFromLeaf(entryLeaf(e));
    expect(c.ok).toBe(true);
    if (c.ok) {
      expect(toHex(c.value.signedMessage)).toBe(toHex(entrySigningMessage(e)));
      expect(verifyCanonicalEntry(c.value, nodeVerifier)).toBe(true);
      expect(verifyCanonicalEntry(c.value, nobleVerifier)).toBe(true);
    }
  });

  it('verifies with node:crypto and noble alike, and refuses a signature of another entry', () => {
    const a = signed({ ...minimalUnsignedEntry(), id: 'a' });
    const b = signed({ ...minimalUnsignedEntry(), id: 'b' });
    const forged = canonicalEntry({ ...a, sig: b.sig });
    if (!forged.ok) throw new Error('forged entry should still be well formed');
    expect(verifyCanonicalEntry(forged.value, nodeVerifier)).toBe(false);
    expect(verifyCanonicalEntry(forged.value, nobleVerifier)).toBe(false);
    const good = canonicalEntry(a);
    expect(good.ok && verifyCanonicalEntry(good.value, nobleVerifier)).toBe(true);
  });

  it('uses the leaf hash or hasher it is given', () => {
    const e = signed(minimalUnsignedEntry());
    const given = new Uint8Array(32).fill(1);
    const r = canonicalEntryFromLeaf(entryLeaf(e), { leafHash: given });
    expect(r.ok && r.value.leafHash).toBe(given);
    let calls = 0;
    const h = canonicalEntry(e, { hasher: (l) => (calls++, leafHashOfEntry(l)) });
    expect(h.ok && toHex(h.value.leafHash)).toBe(toHex(leafHashOfEntry(entryLeaf(e))));
    if (h.ok) void h.value.leafHash;
    expect(calls).toBe(1);
  });

  it('refuses what validateEntry refuses, with the same errors', () => {
    for (const bad of [null, [], { ...signed(minimalUnsignedEntry()), outcome: 'ok' }, { ...signed(minimalUnsignedEntry()), sig: 'AB' }, { ...minimalUnsignedEntry() }]) {
      const r = canonicalEntry(bad);
      const v = validateEntry(bad);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.errors).toEqual(!v.ok && v.errors);
    }
  });

  it('random byte edits of leaves (seeded): the same verdict and first error code as the former parse', () => {
    const rnd = new SeededRandom('entry-canonical-edits-v1');
    const leaves = corpus.slice(0, 6).map(([, u]) => entryLeaf(signed(u)));
    const edits = ['flip', 'insert', 'delete', 'space', 'quote'] as const;
    for (let i = 0; i < 1000; i++) {
      const leaf = rnd.pick(leaves);
      const at = rnd.int(leaf.length);
      let b: Uint8Array;
      switch (rnd.pick(edits)) {
        case 'flip': b = leaf.slice(); b[at] = b[at]! ^ (1 << rnd.int(8)); break;
        case 'insert': b = concatBytes(leaf.subarray(0, at), rnd.bytes(1), leaf.subarray(at)); break;
        case 'delete': b = concatBytes(leaf.subarray(0, at), leaf.subarray(at + 1)); break;
        case 'space': b = concatBytes(leaf.subarray(0, at), utf8(' '), leaf.subarray(at)); break;
        default: b = concatBytes(leaf.subarray(0, at), utf8('\\u0041'), leaf.subarray(at));
      }
      const now = canonicalEntryFromLeaf(b);
      const before = formerParseLeaf(b);
      expect(now.ok).toBe(before.ok);
      if (!now.ok && !before.ok) expect(now.errors.map((e) => e.code)).toEqual(before.errors.map((e) => e.code));
      if (now.ok && before.ok) expect(now.value.entry).toEqual(before.entry);
    }
  });

  it('a BOM, whitespace, another key order or number spelling is leaf_noncanonical', () => {
    const e = signed(fullUnsignedEntry());
    const leaf = entryLeaf(e);
    const text = fromUtf8(leaf);
    for (const b of [
      concatBytes(Uint8Array.of(0xef, 0xbb, 0xbf), leaf),
      utf8(` ${text}`),
      utf8(JSON.stringify({ v: 1, ...JSON.parse(text) })),
      utf8(text.replace('"rows":3', '"rows":3.0')),
    ]) {
      const r = canonicalEntryFromLeaf(b);
      expect(!r.ok && r.errors[0]!.code).toBe('leaf_noncanonical');
      expect(formerParseLeaf(b).ok).toBe(false);
    }
  });
});

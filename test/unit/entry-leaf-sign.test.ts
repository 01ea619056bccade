// Canonical leaf bytes (RFC 8785 JCS), leaf parsing, the RFC 9162 leaf hash, signing and verifying.
import { describe, expect, it } from 'vitest';
import { entryLeaf, entrySigningMessage, leafHashOfEntry, parseLeaf } from '../../src/entry/leaf.js';
import { EntrySignError, signEntry, verifyEntrySignature } from '../../src/entry/sign.js';
import { validateEntry } from '../../src/entry/validate.js';
import { LEAF_BYTES_MAX } from '../../src/entry/limits.js';
import type { AuditEntry } from '../../src/entry/types.js';
import * as entryIndex from '../../src/entry/index.js';
import { nobleSigner, nobleVerifier } from '../../src/crypto/noble.js';
import { nodeSigner, nodeVerifier } from '../../src/crypto/node.js';
import { sha256 } from '../../src/crypto/hash.js';
import { concatBytes, fromHex, fromUtf8, toHex, utf8 } from '../../src/encoding/bytes.js';
import { fullUnsignedEntry, minimalUnsignedEntry } from './support/entry-fixtures.js';

const TEST1_SEED = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')!; // RFC 8032 TEST 1
const TEST1_PUB = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const signer = nodeSigner(TEST1_SEED);

type Mutable = Record<string, any>;

describe('JCS leaf bytes', () => {
  it('are the sorted, whitespace-free serialization of the entry', () => {
    const e = signEntry(minimalUnsignedEntry(), signer);
    expect(e.client).toBe(TEST1_PUB);
    expect(fromUtf8(entryLeaf(e))).toBe(
      '{"action":"user.login","actor":{"id":"alice"},' +
        `"client":"${TEST1_PUB}","id":"e1","outcome":"denied","resource":{"id":"console","type":"app"},` +
        `"sig":"${e.sig}","time":"2024-05-01T12:00:00Z","v":1}`,
    );
  });
  it('order keys by UTF-16 code units and write numbers the ECMAScript way (RFC 8785 §3.2.2.3, §3.2.3)', () => {
    const e = signEntry({ ...minimalUnsignedEntry(), data: { '\ufb33': 1, '\u{1f600}': 2, b: 9007199254740991, a: 0.1, c: -0, d: 1.5e-7, e: 'é\u2028"\\\u0001', f: 0.000001, g: 1e-7 } }, signer);
    const text = fromUtf8(entryLeaf(e));
    // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB33 in UTF-16 order
    // (code point order would put U+FB33 first).
    expect(text).toContain('"data":{"a":0.1,"b":9007199254740991,"c":0,"d":1.5e-7,"e":"é\u2028\\"\\\\\\u0001","f":0.000001,"g":1e-7,"\u{1f600}":2,"\ufb33":1}');
  });
  it('signing message is the domain-separated JCS without sig, including client', () => {
    const e = signEntry(minimalUnsignedEntry(), signer);
    const msg = fromUtf8(entrySigningMessage(e));
    expect(msg.startsWith('cairn/entry/v1\n{')).toBe(true);
    expect(msg).toContain(`"client":"${TEST1_PUB}"`);
    expect(msg).not.toContain('"sig"');
    const { sig: _s, ...unsigned } = e;
    expect(toHex(entrySigningMessage(unsigned))).toBe(toHex(entrySigningMessage(e)));
  });
});

describe('leafHashOfEntry', () => {
  it('is SHA-256(0x00 ‖ leaf) (RFC 9162 §2.1.1); the empty leaf gives the RFC 6962 value', () => {
    expect(toHex(leafHashOfEntry(new Uint8Array()))).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    const leaf = entryLeaf(signEntry(minimalUnsignedEntry(), signer));
    expect(toHex(leafHashOfEntry(leaf))).toBe(toHex(sha256(concatBytes(Uint8Array.of(0), leaf))));
  });
});

describe('signEntry / verifyEntrySignature', () => {
  for (const [name, s, v] of [
    ['noble', nobleSigner(TEST1_SEED), nobleVerifier],
    ['node', nodeSigner(TEST1_SEED), nodeVerifier],
  ] as const) {
    it(`${name}: signed entries validate and verify with both verifiers`, () => {
      for (const u of [minimalUnsignedEntry(), fullUnsignedEntry()]) {
        const e = signEntry(u, s);
        expect(validateEntry(structuredClone(e)).ok).toBe(true);
        expect(verifyEntrySignature(e, v)).toBe(true);
        expect(verifyEntrySignature(e, nodeVerifier)).toBe(true);
        expect(verifyEntrySignature(e, nobleVerifier)).toBe(true);
      }
    });
  }
  it('noble and node signers produce identical entries (deterministic Ed25519)', () => {
    expect(signEntry(fullUnsignedEntry(), nobleSigner(TEST1_SEED))).toEqual(signEntry(fullUnsignedEntry(), nodeSigner(TEST1_SEED)));
  });
  it('any change to a signed field breaks the signature', () => {
    const e = signEntry(fullUnsignedEntry(), signer);
    const changes: ((x: Mutable) => void)[] = [
      (x) => (x.id = 'other'),
      (x) => (x.time = '2024-05-01T12:00:00.124Z'),
      (x) => (x.actor.id = 'mallory'),
      (x) => delete x.actor.name,
      (x) => (x.outcome = 'failure'),
      (x) => delete x.reason,
      (x) => (x.data.rows = 4),
      (x) => (x.data.query.params[4] = 0.25),
      (x) => (x.client = toHex(nodeSigner(new Uint8Array(32).fill(9)).publicKey)),
    ];
    for (const change of changes) {
      const x = structuredClone(e) as Mutable;
      change(x);
      expect(validateEntry(x).ok).toBe(true);
      expect(verifyEntrySignature(x as AuditEntry, nodeVerifier)).toBe(false);
      expect(verifyEntrySignature(x as AuditEntry, nobleVerifier)).toBe(false);
    }
  });
  it('a signature made without the domain prefix does not verify', () => {
    const e = signEntry(minimalUnsignedEntry(), signer);
    const { sig: _s, ...rest } = e;
    const raw = entrySigningMessage(rest).subarray(utf8('cairn/entry/v1\n').length);
    const forged = { ...e, sig: toHex(signer.sign(raw)) };
    expect(verifyEntrySignature(forged, nodeVerifier)).toBe(false);
  });
  it('verifyEntrySignature returns false, never throws, on malformed entries', () => {
    const e = signEntry(minimalUnsignedEntry(), signer);
    const bad: unknown[] = [null, undefined, {}, { ...e, client: 'zz' }, { ...e, sig: 'zz' }, { ...e, sig: 'ab' }, { ...e, client: 5 }, { ...e, data: { n: NaN } }];
    for (const b of bad) {
      expect(verifyEntrySignature(b as AuditEntry, nodeVerifier)).toBe(false);
      expect(verifyEntrySignature(b as AuditEntry, nobleVerifier)).toBe(false);
    }
  });
  it('signEntry throws EntrySignError entry_invalid with the validation errors', () => {
    let caught: unknown;
    try {
      signEntry({ ...minimalUnsignedEntry(), action: 'BAD' }, signer);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(EntrySignError);
    expect((caught as EntrySignError).code).toBe('entry_invalid');
    expect((caught as EntrySignError).errors[0]).toMatchObject({ code: 'action_format', field: 'action' });
  });
  it('signEntry accepts a matching client and rejects a different one with client_mismatch', () => {
    expect(signEntry({ ...minimalUnsignedEntry(), client: TEST1_PUB }, signer).client).toBe(TEST1_PUB);
    let caught: unknown;
    try {
      signEntry({ ...minimalUnsignedEntry(), client: '00'.repeat(32) }, signer);
    } catch (e) {
      caught = e;
    }
    expect((caught as EntrySignError).code).toBe('client_mismatch');
  });
  it('signEntry does not keep references to the caller objects', () => {
    const u = fullUnsignedEntry();
    const e = signEntry(u, signer);
    (u.data!['query'] as Mutable)['text'] = 'drop table';
    expect(verifyEntrySignature(e, nodeVerifier)).toBe(true);
  });
});

describe('parseLeaf', () => {
  const e = signEntry(fullUnsignedEntry(), signer);
  const leaf = entryLeaf(e);
  const text = fromUtf8(leaf);

  it('round-trips a canonical leaf', () => {
    const r = parseLeaf(leaf);
    expect(r).toEqual({ ok: true, entry: e });
    expect(r.ok && verifyEntrySignature(r.entry, nodeVerifier)).toBe(true);
  });

  const nonCanonical: [string, string][] = [
    ['pretty-printed', JSON.stringify(JSON.parse(text), null, 2)],
    ['trailing newline', text + '\n'],
    ['leading space', ' ' + text],
    ['keys out of order', JSON.stringify({ v: 1, ...JSON.parse(text) })],
    ['escaped ASCII letter', text.replace('"alice@example.com"', '"\\u0061lice@example.com"')],
    ['number written as 3.0', text.replace('"rows":3', '"rows":3.0')],
    ['number written as 3e0', text.replace('"rows":3', '"rows":3e0')],
    ['duplicate key (last wins in JSON.parse)', text.replace('{"action":', '{"action":"x.y","action":')],
    ['escaped slash', text.replace('report-tool/1.2', 'report-tool\\/1.2')],
  ];
  for (const [name, t] of nonCanonical) {
    it(`rejects a non-canonical leaf: ${name} -> leaf_noncanonical`, () => {
      expect(t).not.toBe(text);
      const r = parseLeaf(utf8(t));
      expect(!r.ok && r.errors[0]).toMatchObject({ code: 'leaf_noncanonical', field: '' });
    });
  }
  it('rejects invalid UTF-8 -> leaf_utf8', () => {
    const bad = concatBytes(leaf.subarray(0, 10), Uint8Array.of(0xc3, 0x28), leaf.subarray(10));
    expect(!parseLeaf(bad).ok && (parseLeaf(bad) as { errors: { code: string }[] }).errors[0]!.code).toBe('leaf_utf8');
    expect((parseLeaf(Uint8Array.of(0x7b, 0xc0, 0xaf, 0x7d)) as { errors: { code: string }[] }).errors[0]!.code).toBe('leaf_utf8');
  });
  it('rejects a UTF-8 BOM -> leaf_noncanonical (the decoder strips it, the byte comparison catches it)', () => {
    const r = parseLeaf(concatBytes(Uint8Array.of(0xef, 0xbb, 0xbf), leaf));
    expect(!r.ok && r.errors[0]!.code).toBe('leaf_noncanonical');
  });
  it('rejects truncation and non-JSON -> leaf_json', () => {
    for (const b of [leaf.subarray(0, leaf.length - 1), utf8(''), utf8('nope'), utf8('[]x')]) {
      const r = parseLeaf(b);
      expect(!r.ok && r.errors[0]!.code).toBe('leaf_json');
    }
    expect(!parseLeaf('x' as unknown as Uint8Array).ok).toBe(true);
  });
  it(`rejects leaves over LEAF_BYTES_MAX (${LEAF_BYTES_MAX}) -> leaf_too_large, before decoding`, () => {
    const r = parseLeaf(new Uint8Array(LEAF_BYTES_MAX + 1));
    expect(!r.ok && r.errors[0]).toMatchObject({ code: 'leaf_too_large' });
    expect(!r.ok && r.errors[0]!.message).toContain('LEAF_BYTES_MAX');
  });
  it('passes validation errors through (a canonical leaf of an invalid entry)', () => {
    const invalid = { ...JSON.parse(text), outcome: 'ok' };
    const r = parseLeaf(utf8(entryIndex.jcs(invalid)));
    expect(!r.ok && r.errors[0]).toMatchObject({ code: 'outcome_invalid', field: 'outcome' });
  });
  it('the largest valid entries stay below LEAF_BYTES_MAX', () => {
    // data at DATA_BYTES_MAX plus every other field at its maximum of 3-byte UTF-8 characters.
    const u = fullUnsignedEntry() as Mutable;
    u.actor = { id: '€'.repeat(256), type: 'u'.repeat(64), name: '€'.repeat(256) };
    u.resource = { type: 't'.repeat(64), id: '€'.repeat(256), name: '€'.repeat(256) };
    u.reason = '€'.repeat(1024);
    u.source = { ip: '1111:2222:3333:4444:5555:6666:255.255.255.255', userAgent: '€'.repeat(512) };
    u.requestId = '€'.repeat(256);
    u.tenant = '€'.repeat(256);
    u.data = { a: 'x'.repeat(16000), b: 'x'.repeat(16000), c: 'x'.repeat(16000), d: 'x'.repeat(1123) }; // JCS size = DATA_BYTES_MAX exactly
    const big = signEntry(u as typeof e, signer);
    const bytes = entryLeaf(big).length;
    expect(bytes).toBeGreaterThan(58_000); // ~59 KB: the other limits keep ~6.5 KB of headroom
    expect(bytes).toBeLessThanOrEqual(LEAF_BYTES_MAX);
    expect(parseLeaf(entryLeaf(big)).ok).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import {
  addSignatures,
  formatNote,
  formatSignerKey,
  formatVerifierKey,
  indexKeys,
  keyId,
  mergeNotes,
  parseNote,
  parseSignatureLine,
  parseSignerKey,
  parseVerifierKey,
  signatureLine,
  signNote,
  signText,
  verifierKey,
  verifyNote,
  verifySignature,
  NOTE_BYTES_MAX,
  NOTE_SIGNATURES_MAX,
  type VerifierKey,
} from '../../src/checkpoint/note.js';
import { FormatError } from '../../src/checkpoint/result.js';
import { nobleSigner, nobleVerifier, publicKeyFromSeed } from '../../src/crypto/noble.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import type { Ed25519Verifier } from '../../src/crypto/types.js';
import { fromBase64, fromHex, toBase64, toHex, utf8 } from '../../src/encoding/bytes.js';

function ok<T extends { ok: boolean }>(r: T): Extract<T, { ok: true }> {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r as Extract<T, { ok: true }>;
}

function seed(i: number): Uint8Array {
  return new Uint8Array(32).fill(i);
}

// ---------------------------------------------------------------------------------------------
// Interop vector 1: golang.org/x/mod/sumdb/note (note_test.go, TestSign / TestOpen /
// TestNewVerifier), an independent implementation of signed-note. Values copied verbatim.
const GO_SIGNER_KEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_PETER_KEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_ENOCH_KEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_PETER_SIG = '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const GO_ENOCH_SIG = '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

// ---------------------------------------------------------------------------------------------
// Cairn vector: a checkpoint signed with the RFC 8032 §7.1 TEST 1 seed under the key name
// org1.cairn.example. Cross-checked independently of this code with OpenSSL 3.0 and coreutils:
//   SEED=9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
//   (printf 302e020100300506032b657004220420; printf $SEED) | xxd -r -p > key.der   # PKCS#8 DER
//   openssl pkey -inform DER -in key.der -pubout -outform DER | tail -c 32 > pub.bin
//     -> d75a9801...f707511a (= RFC 8032 TEST 1 public key)
//   (printf 'org1.cairn.example\n\001'; cat pub.bin) | sha256sum | cut -c1-8   -> 7a8b02a1
//   printf 'cairn.example/test-vector\n8\n%s\n' "$(printf 5dc9...4328 | xxd -r -p | base64)" > body.txt
//   openssl pkeyutl -sign -rawin -inkey key.der -keyform DER -in body.txt -out sig.bin
//   (printf 7a8b02a1 | xxd -r -p; cat sig.bin) | base64 -w0        -> the signature below
//   (printf '\001'; cat pub.bin) | base64 -w0                        -> the verifier key's key
// The root is the RFC 6962 8-leaf test tree root (5dc9da79…4328).
const RFC8032_SEED = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')!;
const CAIRN_NAME = 'org1.cairn.example';
const CAIRN_KEY = 'org1.cairn.example+7a8b02a1+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea';
const CAIRN_BODY = 'cairn.example/test-vector\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n';
const CAIRN_SIG_LINE =
  '— org1.cairn.example eosCoZmalqWCkmCXJ+wBadaIna6waipEEGMe7VOg6/viFz3lVEn/eLbyYECTMTYUL65dXWizBDsqOVPntQ5xFbcnxgU=\n';
const CAIRN_NOTE = CAIRN_BODY + '\n' + CAIRN_SIG_LINE;

describe('C2SP signed-note: byte-for-byte vectors', () => {
  it('reproduces the OpenSSL-cross-checked Cairn vector (key ID, verifier key, signature line)', () => {
    const pub = publicKeyFromSeed(RFC8032_SEED);
    expect(toHex(pub)).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(toHex(keyId(CAIRN_NAME, pub))).toBe('7a8b02a1');
    expect(formatVerifierKey(CAIRN_NAME, pub)).toBe(CAIRN_KEY);
    const note = signNote(CAIRN_BODY, [{ name: CAIRN_NAME, signer: nobleSigner(RFC8032_SEED) }]);
    expect(note).toBe(CAIRN_NOTE);
    const sig = signText(CAIRN_BODY, { name: CAIRN_NAME, signer: nobleSigner(RFC8032_SEED) });
    expect(signatureLine(CAIRN_NAME, pub, sig.signature)).toBe(CAIRN_SIG_LINE);
    const key = ok(parseVerifierKey(CAIRN_KEY)).key;
    for (const v of [nobleVerifier, nodeVerifier]) {
      const r = ok(verifyNote(CAIRN_NOTE, [key], v));
      expect(r.signers.map((k) => k.name)).toEqual([CAIRN_NAME]);
      expect(r.text).toBe(CAIRN_BODY);
    }
  });

  it('interoperates with golang.org/x/mod/sumdb/note: signer key, verifier key, signature', () => {
    const sk = ok(parseSignerKey(GO_SIGNER_KEY)).key;
    expect(sk.name).toBe('PeterNeumann');
    expect(sk.verifierKey.text).toBe(GO_PETER_KEY);
    expect(formatSignerKey('PeterNeumann', sk.seed)).toBe(GO_SIGNER_KEY);
    expect(signNote(GO_TEXT, [{ name: 'PeterNeumann', signer: nobleSigner(sk.seed) }])).toBe(GO_TEXT + '\n' + GO_PETER_SIG);
  });

  it('verifies the Go two-signature note (TestOpen) and ignores the unknown key', () => {
    const peter = ok(parseVerifierKey(GO_PETER_KEY)).key;
    const enoch = ok(parseVerifierKey(GO_ENOCH_KEY)).key;
    const msg = GO_TEXT + '\n' + GO_PETER_SIG + GO_ENOCH_SIG;
    const one = ok(verifyNote(msg, [peter], nobleVerifier));
    expect(one.signers.map((k) => k.name)).toEqual(['PeterNeumann']);
    expect(one.unknownSignatures).toBe(1);
    const both = ok(verifyNote(msg, [peter, enoch], nodeVerifier));
    expect(both.signers.map((k) => k.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    const none = verifyNote(msg, [], nobleVerifier);
    expect(none).toMatchObject({ ok: false, code: 'note_no_verified_signature' });
    // Go: a corrupted known signature rejects the whole note.
    const bad = GO_TEXT + '\n' + GO_PETER_SIG.slice(0, 60) + 'ABCD' + GO_PETER_SIG.slice(60);
    expect(verifyNote(bad, [peter], nobleVerifier)).toMatchObject({ ok: false, code: 'note_invalid_signature' });
  });

  it('rejects every substring and every single-byte mutation of the Go keys (TestNewVerifier/TestNewSigner)', () => {
    for (const [k, parse] of [
      [GO_PETER_KEY, parseVerifierKey],
      [GO_SIGNER_KEY, parseSignerKey],
    ] as const) {
      expect(parse(k).ok).toBe(true);
      for (let i = 0; i <= k.length; i++) {
        for (let j = i + 1; j <= k.length; j++) {
          if (i === 0 && j === k.length) continue;
          expect(parse(k.slice(i, j)).ok, k.slice(i, j)).toBe(false);
        }
      }
      for (let i = 0; i < k.length; i++) {
        const mutated = k.slice(0, i) + String.fromCharCode(k.charCodeAt(i) + 1) + k.slice(i + 1);
        expect(parse(mutated).ok, mutated).toBe(false);
      }
    }
    // Go's two extra bad keys: wrong key length and unknown algorithm (with adjusted key IDs).
    // The first one's base64 has non-zero trailing bits, which our strict decoder refuses first.
    expect(parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==')).toMatchObject({ code: 'key_bad_base64' });
    const long = `PeterNeumann+c74f20a3+${toBase64(Uint8Array.of(1, ...new Uint8Array(33)))}`;
    expect(parseVerifierKey(long)).toMatchObject({ code: 'key_bad_length' });
    expect(parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).toMatchObject({ code: 'key_unsupported_algorithm' });
  });
});

describe('verifier and signer key strings: malformed input', () => {
  const pub = publicKeyFromSeed(seed(7));
  const good = formatVerifierKey('org7', pub);

  it('round-trips', () => {
    const k = ok(parseVerifierKey(good)).key;
    expect(k.name).toBe('org7');
    expect(toHex(k.publicKey)).toBe(toHex(pub));
    expect(k.text).toBe(good);
  });

  it.each([
    ['', 'key_malformed'],
    ['org7', 'key_malformed'],
    ['org7+abcdef01', 'key_malformed'],
    ['+' + good.slice(good.indexOf('+') + 1), 'key_bad_name'],
    ['or g7' + good.slice(4), 'key_bad_name'],
    ['org7\u00a0' + good.slice(4), 'key_bad_name'],
    [good.replace(/\+[0-9a-f]{8}\+/, (m) => m.toUpperCase()), 'key_bad_key_id'],
    [good.replace(/\+[0-9a-f]{8}\+/, '+1234567+'), 'key_bad_key_id'],
    [good.replace(/\+[0-9a-f]{8}\+/, '+00000000+'), 'key_id_mismatch'],
    [good + '=', 'key_bad_base64'],
    [good.slice(0, -1) + '-', 'key_bad_base64'],
    [good + ' ', 'key_bad_base64'],
    ['x'.repeat(600), 'key_too_long'],
    [formatSignerKey('org7', seed(7)), 'key_malformed'],
  ])('parseVerifierKey(%j) -> %s', (s, code) => {
    expect(parseVerifierKey(s)).toMatchObject({ ok: false, code });
  });

  it('rejects small-order / non-canonical public keys (vetted trust configuration)', () => {
    const identity = fromHex('0100000000000000000000000000000000000000000000000000000000000000')!;
    const s = formatVerifierKey('weak', identity);
    expect(parseVerifierKey(s)).toMatchObject({ ok: false, code: 'key_rejected' });
  });

  it('never throws on hostile non-string input', () => {
    expect(parseVerifierKey(42 as unknown as string)).toMatchObject({ ok: false, code: 'key_malformed' });
    expect(parseSignerKey(null as unknown as string)).toMatchObject({ ok: false, code: 'key_malformed' });
  });

  it('formatting functions throw FormatError (with a code) on invalid names', () => {
    for (const name of ['', 'a b', 'a+b', 'a\tb', 'x'.repeat(300)]) {
      try {
        formatVerifierKey(name, pub);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
        expect((e as FormatError).code).toBe('key_bad_name');
      }
    }
    expect(() => keyId('ok', new Uint8Array(31))).toThrow(FormatError);
  });
});

describe('parseNote: strict grammar', () => {
  const pub = publicKeyFromSeed(seed(1));
  const key = verifierKey('org1', pub);
  const text = 'hello\nworld\n';
  const note = signNote(text, [{ name: 'org1', signer: nobleSigner(seed(1)) }]);
  const line = note.slice(text.length + 1);

  it('parses text and signatures; text may contain empty lines (split at the LAST empty line)', () => {
    const withBlank = signNote('a\n\nb\n', [{ name: 'org1', signer: nobleSigner(seed(1)) }]);
    const p = ok(parseNote(withBlank)).note;
    expect(p.text).toBe('a\n\nb\n');
    expect(p.signatures).toHaveLength(1);
    expect(ok(verifyNote(withBlank, [key], nobleVerifier)).text).toBe('a\n\nb\n');
    expect(ok(parseNote(utf8(note))).note.text).toBe(text);
  });

  it.each([
    ['no final newline', text + '\n' + line.slice(0, -1), 'note_missing_final_newline'],
    ['no blank line', text + line, 'note_no_signature_block'],
    ['text only', text, 'note_no_signature_block'],
    ['blank line, no signatures', text + '\n', 'note_no_signatures'],
    ['CR', 'hello\r\nworld\n\n' + line, 'note_control_character'],
    ['NUL', 'hel\u0000lo\n\n' + line, 'note_control_character'],
    ['tab', 'hel\tlo\n\n' + line, 'note_control_character'],
    ['ASCII hyphen instead of em dash', text + '\n- org1 ' + line.slice(7), 'note_bad_signature_line'],
    ['en dash', text + '\n' + line.replace('\u2014', '\u2013'), 'note_bad_signature_line'],
    ['unexpected trailing line', note + 'Unexpected line.\n', 'note_bad_signature_line'],
    ['no space after name', text + '\n\u2014 org1\n', 'note_bad_signature_line'],
    ['bad key name', text + '\n' + line.replace('org1', 'org+1'), 'note_bad_key_name'],
    ['empty key name', text + '\n' + line.replace('org1', ''), 'note_bad_key_name'],
    ['double space', text + '\n' + line.replace('org1 ', 'org1  '), 'note_bad_signature_base64'],
    ['bad base64', text + '\n\u2014 org1 !!!!\n', 'note_bad_signature_base64'],
    ['short signature', text + '\n\u2014 org1 AAAAAA==\n', 'note_bad_signature_base64'],
    ['trailing space', text + '\n' + line.slice(0, -1) + ' \n', 'note_bad_signature_base64'],
  ])('%s -> %s', (_label, input, code) => {
    expect(parseNote(input)).toMatchObject({ ok: false, code });
    expect(verifyNote(input, [key], nobleVerifier)).toMatchObject({ ok: false, code });
  });

  it('rejects invalid UTF-8 bytes and lone surrogates', () => {
    const bytes = utf8(note);
    const bad = new Uint8Array([0xff, ...bytes]);
    expect(parseNote(bad)).toMatchObject({ ok: false, code: 'note_not_utf8' });
    expect(parseNote('\ud800' + note)).toMatchObject({ ok: false, code: 'note_not_utf8' });
  });

  it(`bounds the number of signature lines at ${NOTE_SIGNATURES_MAX} and names the limit`, () => {
    const at = text + '\n' + line.repeat(NOTE_SIGNATURES_MAX);
    expect(ok(parseNote(at)).note.signatures).toHaveLength(NOTE_SIGNATURES_MAX);
    const over = text + '\n' + line.repeat(NOTE_SIGNATURES_MAX + 1);
    const r = parseNote(over);
    expect(r).toMatchObject({ ok: false, code: 'note_too_many_signatures' });
    expect(!r.ok && r.message).toContain('NOTE_SIGNATURES_MAX');
    // the spec minimum of 16 cannot be configured away
    expect(parseNote(text + '\n' + line.repeat(16), { signaturesMax: 3 }).ok).toBe(true);
  });

  it('bounds the note size and names the limit', () => {
    const big = 'x'.repeat(NOTE_BYTES_MAX) + '\n\n' + line;
    const r = parseNote(big);
    expect(r).toMatchObject({ ok: false, code: 'note_too_large' });
    expect(!r.ok && r.message).toContain('NOTE_BYTES_MAX');
    expect(parseNote(utf8(big))).toMatchObject({ ok: false, code: 'note_too_large' });
    expect(parseNote(note, { bytesMax: 10 })).toMatchObject({ ok: false, code: 'note_too_large' });
  });

  it('rejects non-string, non-bytes input without throwing', () => {
    expect(parseNote(undefined as unknown as string)).toMatchObject({ ok: false, code: 'note_not_string_or_bytes' });
    expect(parseNote({} as unknown as string)).toMatchObject({ ok: false, code: 'note_not_string_or_bytes' });
  });

  it('never throws on random mutations of a valid note', () => {
    let s = 12345;
    const rnd = () => (s = (s * 1103515245 + 12345) & 0x7fffffff);
    const base = utf8(note);
    for (let i = 0; i < 2000; i++) {
      const b = base.slice();
      const flips = 1 + (rnd() % 3);
      for (let j = 0; j < flips; j++) b[rnd() % b.length] = rnd() & 0xff;
      const r = verifyNote(b, [key], nobleVerifier);
      expect(typeof r.ok).toBe('boolean');
      if (!r.ok) expect(r.code).toMatch(/^note_/);
    }
  });
});

describe('verifyNote: signed-note verification rules', () => {
  const keys = [1, 2, 3].map((i) => verifierKey(`org${i}`, publicKeyFromSeed(seed(i))));
  const text = 'cairn.example/x\n1\n' + 'A'.repeat(43) + '=\n';
  const signers = [1, 2, 3].map((i) => ({ name: `org${i}`, signer: nobleSigner(seed(i)) }));

  it('reports which known keys signed, in order, each once', () => {
    const note = signNote(text, [signers[2]!, signers[0]!]);
    const r = ok(verifyNote(note, keys, nobleVerifier));
    expect(r.signers.map((k) => k.name)).toEqual(['org3', 'org1']);
  });

  it('ignores signatures from a key sharing the name but not the ID (and vice versa)', () => {
    // An impostor key with the same name org1: different key ID, so it is an unknown key.
    const impostor = { name: 'org1', signer: nobleSigner(seed(99)) };
    const note = signNote(text, [impostor, signers[1]!]);
    const r = ok(verifyNote(note, keys, nobleVerifier));
    expect(r.signers.map((k) => k.name)).toEqual(['org2']);
    expect(r.unknownSignatures).toBe(1);
    // Same key ID as org1 but another name: unknown too.
    const sig = signText(text, signers[0]!);
    const renamed = formatNote({ text, signatures: [{ ...sig, name: 'org1x' }, signText(text, signers[1]!)] });
    expect(ok(verifyNote(renamed, keys, nobleVerifier)).unknownSignatures).toBe(1);
  });

  it('rejects the whole note when a known key signature is invalid, even beside valid ones', () => {
    const good = signText(text, signers[0]!);
    const forged = { ...signText(text, signers[1]!), signature: signText('other\n', signers[1]!).signature };
    const note = formatNote({ text, signatures: [good, forged] });
    const r = verifyNote(note, keys, nobleVerifier);
    expect(r).toMatchObject({ ok: false, code: 'note_invalid_signature' });
    expect(!r.ok && r.message).toContain('org2');
    // wrong-length signature from a known key: invalid, not a crash
    const short = formatNote({ text, signatures: [good, { ...good, signature: good.signature.slice(0, 63) }] });
    expect(verifyNote(short, keys, nobleVerifier)).toMatchObject({ ok: false, code: 'note_invalid_signature' });
    // a repeated-but-corrupted line from an already valid signer still rejects (stricter than Go)
    const dup = formatNote({ text, signatures: [good, { ...good, signature: forged.signature }] });
    expect(verifyNote(dup, keys, nodeVerifier)).toMatchObject({ ok: false, code: 'note_invalid_signature' });
  });

  it('treats a throwing verifier as a failed verification, not a crash', () => {
    const throwing: Ed25519Verifier = { name: 'bad', verify: () => { throw new Error('boom'); } };
    const note = signNote(text, [signers[0]!]);
    expect(verifyNote(note, keys, throwing)).toMatchObject({ ok: false, code: 'note_invalid_signature' });
  });

  it('refuses an ambiguous key configuration (same name and ID, different keys)', () => {
    const k = keys[0]!;
    const clash: VerifierKey = { ...k, publicKey: keys[1]!.publicKey };
    expect(indexKeys([k, clash])).toMatchObject({ ok: false, code: 'note_ambiguous_key' });
    expect(verifyNote(signNote(text, [signers[0]!]), [k, clash], nobleVerifier)).toMatchObject({ ok: false, code: 'note_ambiguous_key' });
    expect(indexKeys([k, k]).ok).toBe(true);
  });
});

describe('signature lines: gossip and merge', () => {
  const text = 'merge\n';
  const a = { name: 'orgA', signer: nobleSigner(seed(10)) };
  const b = { name: 'orgB', signer: nobleSigner(seed(11)) };
  const keys = [verifierKey('orgA', a.signer.publicKey), verifierKey('orgB', b.signer.publicKey)];

  it('parses a single gossiped line and merges it into a note', () => {
    const sa = signText(text, a);
    const lineB = signatureLine('orgB', b.signer.publicKey, signText(text, b).signature);
    const sb = ok(parseSignatureLine(lineB)).signature;
    expect(sb.name).toBe('orgB');
    const merged = ok(addSignatures({ text, signatures: [sa] }, [sb, sb, sa])).note;
    expect(merged.signatures).toHaveLength(2);
    const s = formatNote(merged);
    expect(ok(verifyNote(s, keys, nobleVerifier)).signers.map((k) => k.name)).toEqual(['orgA', 'orgB']);
  });

  it('mergeNotes requires identical texts', () => {
    const n1 = ok(parseNote(signNote(text, [a]))).note;
    const n2 = ok(parseNote(signNote(text, [b]))).note;
    const n3 = ok(parseNote(signNote('other\n', [b]))).note;
    expect(ok(mergeNotes(n1, n2)).note.signatures).toHaveLength(2);
    expect(mergeNotes(n1, n3)).toMatchObject({ ok: false, code: 'note_text_mismatch' });
  });

  it('addSignatures enforces NOTE_SIGNATURES_MAX', () => {
    const sa = signText(text, a);
    const many = Array.from({ length: NOTE_SIGNATURES_MAX + 1 }, (_, i) => ({ ...sa, name: `k${i}` }));
    expect(addSignatures({ text, signatures: [] }, many)).toMatchObject({ ok: false, code: 'note_too_many_signatures' });
  });

  it.each([
    ['no newline', (l: string) => l.slice(0, -1), 'note_missing_final_newline'],
    ['two lines', (l: string) => l + l, 'note_bad_signature_line'],
    ['CR', (l: string) => l.slice(0, -1) + '\r\n', 'note_control_character'],
    ['bad prefix', (l: string) => 'x' + l.slice(1), 'note_bad_signature_line'],
  ])('parseSignatureLine rejects %s', (_l, mutate, code) => {
    const line = signatureLine('orgA', a.signer.publicKey, signText(text, a).signature);
    expect(parseSignatureLine(mutate(line))).toMatchObject({ ok: false, code });
  });

  it('formatNote and signNote reject malformed texts with FormatError codes', () => {
    for (const [t, code] of [
      ['no newline', 'note_missing_final_newline'],
      ['a\rb\n', 'note_control_character'],
      ['\ud800\n', 'note_not_utf8'],
    ] as const) {
      try {
        signNote(t, [a]);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
        expect((e as FormatError).code).toBe(code);
      }
    }
    expect(() => formatNote({ text, signatures: [] })).toThrow(FormatError);
    expect(() => signatureLine('orgA', a.signer.publicKey, new Uint8Array(10))).toThrow(FormatError);
  });

  it('a signature line decodes to key ID ‖ 64-byte signature', () => {
    const line = signatureLine('orgA', a.signer.publicKey, signText(text, a).signature);
    const raw = fromBase64(line.slice('— orgA '.length, -1))!;
    expect(raw).toHaveLength(68);
    expect(toHex(raw.slice(0, 4))).toBe(toHex(keyId('orgA', a.signer.publicKey)));
  });
});

describe('verification cost and single signatures', () => {
  const text = 'cost\n';
  const s = { name: 'orgC', signer: nobleSigner(seed(20)) };
  const key = verifierKey('orgC', s.signer.publicKey);

  it('verifies each distinct signature line once (copies of a valid line cost no extra Ed25519)', () => {
    let calls = 0;
    const counting: Ed25519Verifier = { name: 'count', verify: (p, m, sg) => (calls++, nobleVerifier.verify(p, m, sg)) };
    const note = signNote(text, [s]);
    const line = note.slice(text.length + 1);
    const padded = note + line.repeat(50);
    const r = ok(verifyNote(padded, [key], counting));
    expect(r.signers).toHaveLength(1);
    expect(calls).toBe(1);
  });

  it('verifySignature checks one gossiped signature', () => {
    const sig = signText(text, s);
    expect(ok(verifySignature(text, sig, [key], nodeVerifier)).key.name).toBe('orgC');
    expect(verifySignature('other\n', sig, [key], nodeVerifier)).toMatchObject({ ok: false, code: 'note_invalid_signature' });
    expect(verifySignature(text, { ...sig, name: 'orgD' }, [key], nodeVerifier)).toMatchObject({ ok: false, code: 'note_no_verified_signature' });
  });
});

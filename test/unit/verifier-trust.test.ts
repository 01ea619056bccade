import { describe, expect, it } from 'vitest';
import { formatVerifierKey } from '../../src/checkpoint/keys.js';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { fromHex, utf8 } from '../../src/encoding/bytes.js';
import { formatTrustFile, parseTrustFile, TRUST_FILE_BYTES_MAX } from '../../src/verifier/index.js';

const keys = [1, 2, 3, 4, 5, 6, 7].map((i) => formatVerifierKey(`org${i}.example`, publicKeyFromSeed(new Uint8Array(32).fill(i))));

function file(obj: unknown): string {
  return JSON.stringify(obj);
}

describe('parseTrustFile', () => {
  it('parses a valid file and round-trips through formatTrustFile', () => {
    const r = parseTrustFile(file({ origin: 'cairn.example/devnet', quorum: 3, keys: keys.slice(0, 4) }));
    if (!r.ok) throw new Error(r.message);
    expect(r.trust.origin).toBe('cairn.example/devnet');
    expect(r.trust.quorum).toBe(3);
    expect(r.trust.keys.map((k) => k.name)).toEqual(['org1.example', 'org2.example', 'org3.example', 'org4.example']);
    const again = parseTrustFile(utf8(formatTrustFile(r.trust)));
    expect(again.ok && again.trust.keys.map((k) => k.text)).toEqual(keys.slice(0, 4));
  });

  it('accepts quorum from floor(2n/3)+1 up to n, for n = 1..7', () => {
    for (let n = 1; n <= 7; n++) {
      const q = Math.floor((2 * n) / 3) + 1;
      for (let quorum = 0; quorum <= n + 1; quorum++) {
        const r = parseTrustFile(file({ origin: 'o', quorum, keys: keys.slice(0, n) }));
        if (quorum < q) expect(r, `n=${n} quorum=${quorum}`).toMatchObject({ ok: false, code: 'trust_quorum_too_low' });
        else if (quorum > n) expect(r, `n=${n} quorum=${quorum}`).toMatchObject({ ok: false, code: 'trust_quorum_too_high' });
        else expect(r.ok, `n=${n} quorum=${quorum}`).toBe(true);
      }
    }
    const low = parseTrustFile(file({ origin: 'o', quorum: 2, keys: keys.slice(0, 4) }));
    expect(!low.ok && low.message).toContain('floor(2n/3)+1 = 3');
  });

  const base = { origin: 'cairn.example/devnet', quorum: 3, keys: keys.slice(0, 4) };
  const identity = formatVerifierKey('weak.example', fromHex('01' + '00'.repeat(31))!);
  it.each([
    ['not JSON', '{origin:', 'trust_not_json'],
    ['empty', '', 'trust_not_json'],
    ['array', '[]', 'trust_not_object'],
    ['null', 'null', 'trust_not_object'],
    ['string', '"x"', 'trust_not_object'],
    ['unknown field (typo)', file({ ...base, quroum: 4 }), 'trust_unknown_field'],
    ['missing origin', file({ quorum: 3, keys: base.keys }), 'trust_bad_origin'],
    ['empty origin', file({ ...base, origin: '' }), 'trust_bad_origin'],
    ['multi-line origin', file({ ...base, origin: 'a\nb' }), 'trust_bad_origin'],
    ['numeric origin', file({ ...base, origin: 5 }), 'trust_bad_origin'],
    ['huge origin', file({ ...base, origin: 'o'.repeat(2000) }), 'trust_bad_origin'],
    ['missing quorum', file({ origin: base.origin, keys: base.keys }), 'trust_bad_quorum'],
    ['string quorum', file({ ...base, quorum: '3' }), 'trust_bad_quorum'],
    ['fractional quorum', file({ ...base, quorum: 3.5 }), 'trust_bad_quorum'],
    ['missing keys', file({ origin: base.origin, quorum: 3 }), 'trust_bad_keys'],
    ['no keys', file({ ...base, keys: [] }), 'trust_bad_keys'],
    ['keys object', file({ ...base, keys: {} }), 'trust_bad_keys'],
    ['non-string key', file({ ...base, keys: [...keys.slice(0, 3), 7] }), 'trust_bad_key'],
    ['malformed key', file({ ...base, keys: [...keys.slice(0, 3), 'nope'] }), 'trust_bad_key'],
    ['small-order key', file({ ...base, keys: [...keys.slice(0, 3), identity] }), 'trust_bad_key'],
    ['duplicate key', file({ ...base, keys: [...keys.slice(0, 3), keys[0]] }), 'trust_duplicate_key'],
    [
      'same public key under two names',
      file({ ...base, keys: [...keys.slice(0, 3), formatVerifierKey('alias.example', publicKeyFromSeed(new Uint8Array(32).fill(1)))] }),
      'trust_duplicate_key',
    ],
    [
      'same name, two public keys',
      file({ ...base, keys: [...keys.slice(0, 3), formatVerifierKey('org1.example', publicKeyFromSeed(new Uint8Array(32).fill(9)))] }),
      'trust_duplicate_key',
    ],
    ['too many keys', file({ ...base, quorum: 101, keys: Array.from({ length: 101 }, () => keys[0]) }), 'trust_too_many_keys'],
    ['too large', ' '.repeat(TRUST_FILE_BYTES_MAX + 1), 'trust_too_large'],
  ])('%s -> %s', (_l, text, code) => {
    expect(parseTrustFile(text)).toMatchObject({ ok: false, code });
  });

  it('rejects invalid UTF-8 and non-text input without throwing', () => {
    expect(parseTrustFile(new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({ ok: false, code: 'trust_not_utf8' });
    expect(parseTrustFile(new Uint8Array(TRUST_FILE_BYTES_MAX + 1))).toMatchObject({ ok: false, code: 'trust_too_large' });
    expect(parseTrustFile(undefined as unknown as string)).toMatchObject({ ok: false, code: 'trust_not_json' });
  });
});

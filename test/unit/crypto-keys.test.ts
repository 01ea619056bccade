// Key import/export: round trips, interop with node:crypto (OpenSSL) PEM/JWK, and every error code.
import { describe, expect, it } from 'vitest';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  KEY_TEXT_LENGTH_MAX,
  parseJwk,
  parsePrivateKey,
  parsePrivateKeyPem,
  parsePublicKey,
  parsePublicKeyHex,
  parsePublicKeyPem,
  parseSeedHex,
  privateKeyToJwk,
  privateKeyToPem,
  publicKeyToHex,
  publicKeyToJwk,
  publicKeyToPem,
  seedToHex,
  type KeyResult,
} from '../../src/crypto/keys.js';
import { publicKeyFromSeed, randomSeed } from '../../src/crypto/noble.js';
import { CryptoError } from '../../src/crypto/errors.js';
import { fromBase64Url, toBase64Url } from '../../src/encoding/base64url.js';
import { fromHex, toHex } from '../../src/encoding/bytes.js';

function code<T>(r: KeyResult<T>): string {
  if (r.ok) return 'ok';
  expect(r.message.length).toBeGreaterThan(0);
  return r.code;
}

const seed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')!; // RFC 8032 TEST 1
const pub = publicKeyFromSeed(seed);

describe('round trips', () => {
  it('hex, PEM and JWK round-trip seeds and public keys', () => {
    for (let i = 0; i < 5; i++) {
      const s = i === 0 ? seed : randomSeed();
      const p = publicKeyFromSeed(s);
      expect(toHex((parseSeedHex(seedToHex(s)) as { value: Uint8Array }).value)).toBe(toHex(s));
      expect(toHex((parsePublicKeyHex(publicKeyToHex(p)) as { value: Uint8Array }).value)).toBe(toHex(p));
      expect(toHex((parsePrivateKeyPem(privateKeyToPem(s)) as { value: Uint8Array }).value)).toBe(toHex(s));
      expect(toHex((parsePublicKeyPem(publicKeyToPem(p)) as { value: Uint8Array }).value)).toBe(toHex(p));
      const jwk = parseJwk(privateKeyToJwk(s));
      expect(jwk.ok && toHex(jwk.value.seed!) === toHex(s) && toHex(jwk.value.publicKey) === toHex(p)).toBe(true);
      for (const text of [seedToHex(s), privateKeyToPem(s), JSON.stringify(privateKeyToJwk(s))]) {
        const r = parsePrivateKey(text);
        expect(r.ok && toHex(r.value.seed) === toHex(s) && toHex(r.value.publicKey) === toHex(p)).toBe(true);
      }
      for (const text of [publicKeyToHex(p), publicKeyToPem(p), JSON.stringify(publicKeyToJwk(p)), JSON.stringify(privateKeyToJwk(s))]) {
        const r = parsePublicKey(text);
        expect(r.ok && toHex(r.value)).toBe(toHex(p));
      }
    }
  });
  it('JWK of RFC 8032 TEST 1 has the RFC 8037 §A.1/A.2 values', () => {
    // RFC 8037 Appendix A uses the RFC 8032 TEST 1 key.
    expect(privateKeyToJwk(seed)).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
      x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
    });
  });
});

describe('interop with node:crypto (OpenSSL)', () => {
  it('node reads our PEM and JWK; we read node-generated PEM and JWK', () => {
    for (let i = 0; i < 5; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const nodeJwk = privateKey.export({ format: 'jwk' }) as { x: string; d: string };
      const s = fromBase64Url(nodeJwk.d)!;
      const p = fromBase64Url(nodeJwk.x)!;
      const fromNodePem = parsePrivateKeyPem(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
      expect(fromNodePem.ok && toHex(fromNodePem.value)).toBe(toHex(s));
      const fromNodePub = parsePublicKeyPem(publicKey.export({ format: 'pem', type: 'spki' }) as string);
      expect(fromNodePub.ok && toHex(fromNodePub.value)).toBe(toHex(p));
      const fromNodeJwk = parseJwk(nodeJwk);
      expect(fromNodeJwk.ok && toHex(fromNodeJwk.value.seed!)).toBe(toHex(s));
      // And the other way round.
      expect((createPrivateKey(privateKeyToPem(s)).export({ format: 'jwk' }) as { d: string }).d).toBe(nodeJwk.d);
      expect((createPublicKey(publicKeyToPem(p)).export({ format: 'jwk' }) as { x: string }).x).toBe(nodeJwk.x);
      expect(privateKeyToPem(s)).toBe(privateKey.export({ format: 'pem', type: 'pkcs8' }));
      expect(publicKeyToPem(p)).toBe(publicKey.export({ format: 'pem', type: 'spki' }));
    }
  });
  it('reads the RFC 8410 §10.1 example public key', () => {
    const r = parsePublicKeyPem('-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n');
    expect(r.ok && toHex(r.value)).toBe('19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1');
  });
  it('accepts CRLF line ends and surrounding blank lines', () => {
    const text = '\r\n' + privateKeyToPem(seed).replace(/\n/g, '\r\n') + '\r\n\r\n';
    expect(code(parsePrivateKeyPem(text))).toBe('ok');
  });
});

describe('error codes', () => {
  const privPem = privateKeyToPem(seed);
  const pubPem = publicKeyToPem(pub);
  const cases: [string, () => KeyResult<unknown>, string][] = [
    ['text over KEY_TEXT_LENGTH_MAX', () => parsePrivateKey('a'.repeat(KEY_TEXT_LENGTH_MAX + 1)), 'key_text_too_long'],
    ['PEM over KEY_TEXT_LENGTH_MAX', () => parsePublicKeyPem(pubPem + ' '.repeat(KEY_TEXT_LENGTH_MAX)), 'key_text_too_long'],
    ['non-string input', () => parsePublicKey(42 as unknown as string), 'key_format_unknown'],
    ['unknown format', () => parsePrivateKey('ssh-ed25519 AAAA'), 'key_format_unknown'],
    ['unknown public format', () => parsePublicKey('not a key'), 'key_format_unknown'],
    ['hex with a non-hex digit', () => parseSeedHex('zz' + '00'.repeat(31)), 'hex_malformed'],
    ['odd-length hex', () => parsePublicKeyHex('abc'), 'hex_malformed'],
    ['seed of 31 bytes', () => parseSeedHex('00'.repeat(31)), 'seed_length'],
    ['seed of 33 bytes via parsePrivateKey', () => parsePrivateKey('00'.repeat(33)), 'seed_length'],
    ['public key of 33 bytes', () => parsePublicKeyHex('00'.repeat(33)), 'key_length'],
    ['PEM without END', () => parsePrivateKeyPem(privPem.split('\n').slice(0, 2).join('\n')), 'pem_malformed'],
    ['PEM with mismatched labels', () => parsePrivateKeyPem(privPem.replace('END PRIVATE KEY', 'END PUBLIC KEY')), 'pem_malformed'],
    ['PEM with a header line', () => parsePrivateKeyPem(privPem.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n')), 'pem_malformed'],
    ['two PEM blocks', () => parsePublicKeyPem(pubPem + pubPem), 'pem_malformed'],
    ['explanatory text before the block', () => parsePublicKeyPem('my key\n' + pubPem), 'pem_malformed'],
    ['public PEM where a private one is expected', () => parsePrivateKeyPem(pubPem), 'pem_label'],
    ['private PEM where a public one is expected', () => parsePublicKey(privPem), 'pem_label'],
    ['encrypted PKCS#8 label', () => parsePrivateKey(privPem.replace(/PRIVATE KEY/g, 'ENCRYPTED PRIVATE KEY')), 'pem_label'],
    ['PEM body with invalid base64', () => parsePrivateKeyPem(privPem.replace('MC4C', 'MC*C')), 'pem_base64'],
    ['PEM body with missing padding', () => parsePublicKeyPem(pubPem.replace('=\n', '\n')), 'pem_base64'],
    [
      'RSA-sized DER in a PUBLIC KEY block',
      () => parsePublicKeyPem(`-----BEGIN PUBLIC KEY-----\n${'AAAA'.repeat(20)}\n-----END PUBLIC KEY-----\n`),
      'der_unsupported',
    ],
    [
      'X25519 key (OID 1.3.101.110) in a PUBLIC KEY block',
      () => parsePublicKeyPem(publicKeyToPem(pub).replace('MCowBQYDK2VwAyEA', 'MCowBQYDK2VuAyEA')),
      'der_unsupported',
    ],
    ['JWK not JSON', () => parseJwk('{"kty":'), 'jwk_malformed'],
    ['JWK an array', () => parseJwk([]), 'jwk_malformed'],
    ['JWK null', () => parseJwk(null), 'jwk_malformed'],
    ['JWK wrong kty', () => parseJwk({ ...publicKeyToJwk(pub), kty: 'EC' }), 'jwk_kty'],
    ['JWK wrong crv', () => parseJwk({ ...publicKeyToJwk(pub), crv: 'X25519' }), 'jwk_crv'],
    ['JWK x missing', () => parseJwk({ kty: 'OKP', crv: 'Ed25519' }), 'jwk_x'],
    ['JWK x padded', () => parseJwk({ ...publicKeyToJwk(pub), x: publicKeyToJwk(pub).x + '=' }), 'jwk_x'],
    ['JWK x standard alphabet', () => parseJwk({ ...publicKeyToJwk(pub), x: '+/' + publicKeyToJwk(pub).x.slice(2) }), 'jwk_x'],
    ['JWK x of 31 bytes', () => parseJwk({ ...publicKeyToJwk(pub), x: toBase64Url(pub.subarray(1)) }), 'jwk_x'],
    ['JWK d not a string', () => parseJwk({ ...publicKeyToJwk(pub), d: 5 }), 'jwk_d'],
    ['JWK d of 16 bytes', () => parseJwk({ ...publicKeyToJwk(pub), d: toBase64Url(seed.subarray(16)) }), 'jwk_d'],
    ['JWK d for another key', () => parseJwk({ ...publicKeyToJwk(pub), d: toBase64Url(randomSeed()) }), 'jwk_mismatch'],
    ['public JWK where a private key is expected', () => parsePrivateKey(JSON.stringify(publicKeyToJwk(pub))), 'jwk_private_missing'],
  ];
  for (const [name, run, expected] of cases) {
    it(`${name} -> ${expected}`, () => {
      expect(code(run())).toBe(expected);
    });
  }
  it('export functions throw CryptoError on wrong lengths', () => {
    const bad = new Uint8Array(31);
    for (const [f, c] of [
      [seedToHex, 'seed_length'],
      [privateKeyToPem, 'seed_length'],
      [privateKeyToJwk, 'seed_length'],
      [publicKeyToHex, 'key_length'],
      [publicKeyToPem, 'key_length'],
      [publicKeyToJwk, 'key_length'],
    ] as const) {
      let caught: unknown;
      try {
        f(bad);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(CryptoError);
      expect((caught as CryptoError).code).toBe(c);
    }
  });
  it('base64url rejects non-canonical trailing bits and impossible lengths', () => {
    expect(fromBase64Url('AB')).toBeNull(); // 'B' leaves non-zero unused bits
    expect(toHex(fromBase64Url('AA')!)).toBe('00');
    expect(fromBase64Url('A')).toBeNull();
    expect(fromBase64Url('AA==')).toBeNull();
    expect(fromBase64Url('')!.length).toBe(0);
  });
});

// HTTP Message Signatures (RFC 9421, Ed25519) and Content-Digest (RFC 9530): the RFC's own
// Ed25519 example (Appendix B.2.6) verifies and is reproduced byte for byte; requests signed by
// signRequest verify; replayed, expired, future-dated, body-altered, unknown-key, under-covered and
// nonce-less requests are rejected with their reasons; the replay cache is bounded per key.
import { describe, expect, it } from 'vitest';
import { ReplayCache } from '../../node/auth/replay.js';
import { contentDigest, signatureBase, signRequest, verifyRequestSignature } from '../../node/auth/httpsig.js';
import type { SignatureVerifyOptions } from '../../node/auth/httpsig.js';
import { parseDictionary } from '../../node/auth/sf.js';
import type { InnerList } from '../../node/auth/sf.js';
import type { RequestLike } from '../../node/auth/types.js';
import { parsePrivateKey, parsePublicKey } from '../../src/crypto/keys.js';
import { nodeSigner } from '../../src/crypto/node.js';

// RFC 9421 Appendix B.1.4 (test-key-ed25519) and B.2 (test-request), B.2.6 (sig-b26).
const RFC_PRIVATE = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----';
const RFC_PUBLIC = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----';
const RFC_BODY = new TextEncoder().encode('{"hello": "world"}');
const RFC_INPUT = 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"';
const RFC_SIGNATURE = 'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:';
const RFC_BASE = [
  '"date": Tue, 20 Apr 2021 02:07:55 GMT',
  '"@method": POST',
  '"@path": /foo',
  '"@authority": example.com',
  '"content-type": application/json',
  '"content-length": 18',
  '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
].join('\n');

function rfcRequest(overrides: Record<string, string> = {}): RequestLike {
  return {
    method: 'POST',
    url: '/foo?param=Value&Pet=dog',
    headers: {
      host: 'example.com',
      date: 'Tue, 20 Apr 2021 02:07:55 GMT',
      'content-type': 'application/json',
      'content-digest': 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
      'content-length': '18',
      'signature-input': RFC_INPUT,
      signature: RFC_SIGNATURE,
      ...overrides,
    },
    body: RFC_BODY,
    tls: true,
  };
}

const rfcPub = (() => {
  const r = parsePublicKey(RFC_PUBLIC);
  if (!r.ok) throw new Error(r.message);
  return r.value;
})();

function bareOptions(): SignatureVerifyOptions {
  return {
    keyFor: (k) => (k === 'test-key-ed25519' ? rfcPub : undefined),
    nowMs: 1618884473_000,
    windowSeconds: 300,
    futureSkewSeconds: 30,
    replay: null,
    requireCoverage: false,
  };
}

describe('RFC 9421 Appendix B.2.6 (Ed25519)', () => {
  it('the signature base is exactly the RFC text and the RFC signature verifies', () => {
    const list = parseDictionary(RFC_INPUT).get('sig-b26') as InnerList;
    expect(signatureBase(rfcRequest(), list)).toBe(RFC_BASE);
    const r = verifyRequestSignature(rfcRequest(), bareOptions());
    expect(r).toMatchObject({ ok: true, keyid: 'test-key-ed25519', label: 'sig-b26', created: 1618884473 });
  });

  it('signing with the RFC key reproduces the RFC signature (Ed25519 is deterministic)', () => {
    const k = parsePrivateKey(RFC_PRIVATE);
    if (!k.ok) throw new Error(k.message);
    const h = signRequest(
      { method: 'POST', url: 'https://example.com/foo?param=Value&Pet=dog', headers: { date: 'Tue, 20 Apr 2021 02:07:55 GMT', 'content-type': 'application/json', 'content-length': '18', 'content-digest': rfcRequest().headers['content-digest'] as string }, body: RFC_BODY },
      { keyid: 'test-key-ed25519', signer: nodeSigner(k.value.seed), created: 1618884473, nonce: null, alg: false, label: 'sig-b26', components: ['date', '@method', '@path', '@authority', 'content-type', 'content-length'] },
    );
    expect(h['signature-input']).toBe(RFC_INPUT);
    expect(h.signature).toBe(RFC_SIGNATURE);
  });

  it('a changed covered field, or a changed body, fails', () => {
    expect(verifyRequestSignature(rfcRequest({ date: 'Tue, 20 Apr 2021 02:07:56 GMT' }), bareOptions())).toMatchObject({ ok: false, status: 401, reason: 'signature_invalid' });
    const altered = { ...rfcRequest(), body: new TextEncoder().encode('{"hello": "World"}') };
    expect(verifyRequestSignature(altered, bareOptions())).toMatchObject({ ok: false, reason: 'signature_digest' });
  });
});

describe('Cairn requests signed with signRequest', () => {
  const seed = new Uint8Array(32).fill(7);
  const signer = nodeSigner(seed);
  const NOW = Date.UTC(2026, 0, 1) ;
  const nowS = Math.floor(NOW / 1000);
  const origin = 'https://peer.example:8443';

  function options(replay = new ReplayCache(10_000, 1_000)): SignatureVerifyOptions {
    return { keyFor: (k) => (k === 'auditor-1' ? signer.publicKey : undefined), nowMs: NOW, windowSeconds: 300, futureSkewSeconds: 30, replay };
  }

  function signed(opts: { body?: string; created?: number; nonce?: string | null; components?: string[]; keyid?: string; method?: string } = {}): RequestLike {
    const body = opts.body === undefined ? undefined : new TextEncoder().encode(opts.body);
    const method = opts.method ?? (body ? 'POST' : 'GET');
    const h = signRequest(
      { method, url: `${origin}/v1/entries/by-id/abc/e1?full=1`, ...(body ? { body } : {}) },
      { keyid: opts.keyid ?? 'auditor-1', signer, created: opts.created ?? nowS, ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}), ...(opts.components ? { components: opts.components } : {}) },
    );
    return { method, url: '/v1/entries/by-id/abc/e1?full=1', headers: { host: 'peer.example:8443', ...h }, body: body ?? null, tls: true };
  }

  it('verifies, covering method, target URI and content digest', () => {
    const r = verifyRequestSignature(signed({ body: '{"q":1}' }), options());
    expect(r).toMatchObject({ ok: true, keyid: 'auditor-1', components: ['@method', '@target-uri', 'content-digest'] });
  });

  it('a replayed request is rejected; a failed signature does not burn the nonce', () => {
    const replay = new ReplayCache(10_000, 1_000);
    const req = signed();
    const forged = { ...req, url: '/v1/entries/by-id/abc/OTHER?full=1' };
    expect(verifyRequestSignature(forged, options(replay))).toMatchObject({ ok: false, reason: 'signature_invalid' });
    expect(verifyRequestSignature(req, options(replay)).ok).toBe(true);
    expect(verifyRequestSignature(req, options(replay))).toMatchObject({ ok: false, status: 401, reason: 'signature_replayed' });
  });

  it('expired and future-dated signatures are rejected', () => {
    expect(verifyRequestSignature(signed({ created: nowS - 301 }), options())).toMatchObject({ ok: false, reason: 'signature_expired' });
    expect(verifyRequestSignature(signed({ created: nowS + 31 }), options())).toMatchObject({ ok: false, reason: 'signature_future' });
    expect(verifyRequestSignature(signed({ created: nowS - 299 }), options()).ok).toBe(true);
  });

  it('an altered body is rejected, also when the attacker recomputes the digest', () => {
    const req = signed({ body: '{"q":1}' });
    const altered = { ...req, body: new TextEncoder().encode('{"q":2}') };
    expect(verifyRequestSignature(altered, options())).toMatchObject({ ok: false, reason: 'signature_digest' });
    const redigested = { ...altered, headers: { ...altered.headers, 'content-digest': contentDigest(altered.body) } };
    expect(verifyRequestSignature(redigested, options())).toMatchObject({ ok: false, reason: 'signature_invalid' });
  });

  it('a body the signature does not cover is rejected', () => {
    const req = signed({ components: ['@method', '@target-uri'] });
    const withBody = { ...req, method: 'GET', body: new TextEncoder().encode('x'), headers: { ...req.headers, 'content-digest': contentDigest(new TextEncoder().encode('x')) } };
    expect(verifyRequestSignature(withBody, options())).toMatchObject({ ok: false, reason: 'signature_components' });
  });

  it('unknown key, missing coverage, missing nonce, other algorithms are rejected', () => {
    expect(verifyRequestSignature(signed({ keyid: 'stranger' }), options())).toMatchObject({ ok: false, reason: 'signature_key_unknown' });
    expect(verifyRequestSignature(signed({ components: ['@method', '@path'] }), options())).toMatchObject({ ok: false, reason: 'signature_components' });
    expect(verifyRequestSignature(signed({ nonce: null }), options())).toMatchObject({ ok: false, reason: 'signature_nonce' });
    const req = signed();
    const rsa = { ...req, headers: { ...req.headers, 'signature-input': String(req.headers['signature-input']).replace('alg="ed25519"', 'alg="rsa-v1_5-sha256"') } };
    expect(verifyRequestSignature(rsa, options())).toMatchObject({ ok: false, reason: 'signature_alg' });
    const noHeaders = { ...req, headers: { host: 'peer.example:8443' } };
    expect(verifyRequestSignature(noHeaders, options())).toMatchObject({ ok: false, reason: 'signature_malformed' });
    const junk = { ...req, headers: { ...req.headers, signature: 'sig=:not base64!:' } };
    expect(verifyRequestSignature(junk, options())).toMatchObject({ ok: false, reason: 'signature_malformed' });
  });

  it('authority + path + query coverage is accepted in place of @target-uri', () => {
    const r = verifyRequestSignature(signed({ components: ['@method', '@authority', '@path', '@query'] }), options());
    expect(r.ok).toBe(true);
  });

  it('the replay cache is bounded per key and refuses (503) rather than forgetting early', () => {
    const replay = new ReplayCache(1_000, 2);
    expect(verifyRequestSignature(signed(), options(replay)).ok).toBe(true);
    expect(verifyRequestSignature(signed(), options(replay)).ok).toBe(true);
    expect(verifyRequestSignature(signed(), options(replay))).toMatchObject({ ok: false, status: 503, reason: 'replay_cache_full' });
    // After the window, old nonces expire and room returns.
    const later = { ...options(replay), nowMs: NOW + 302_000 };
    const fresh = signRequest({ method: 'GET', url: `${origin}/v1/entries/by-id/abc/e1?full=1` }, { keyid: 'auditor-1', signer, created: nowS + 302 });
    expect(verifyRequestSignature({ method: 'GET', url: '/v1/entries/by-id/abc/e1?full=1', headers: { host: 'peer.example:8443', ...fresh }, tls: true }, later).ok).toBe(true);
    expect(replay.size).toBe(1);
  });
});

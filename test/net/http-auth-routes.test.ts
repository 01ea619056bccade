// Access control on the routes of a real peer (LevelDB in a temp dir, HTTP on 127.0.0.1) with an
// organization's policy trusting a real, certified OpenID provider (`oidc-provider` on loopback)
// and Ed25519 keys for RFC 9421 signed requests. Public routes (checkpoint, hash tiles,
// consistency proofs, healthz) answer without credentials; entries, bundles, receipts, status
// and metrics answer 401 with WWW-Authenticate and the specific reason for each bad credential;
// a role that needs MFA without the claim is 403; a signature key gets a short-lived token.
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { decodeJwt, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../node/auth/index.js';
import { fromBase64 } from '../../src/encoding/bytes.js';
import { verifyConsistencyResult } from '../../src/merkle/verify.js';
import { verifyCheckpoint, type TrustRoot } from '../../src/verifier/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { call, makeHttpCluster, type HttpCluster } from './helpers/http-cluster.js';
import { bearer, leafHashHex, signedCall, submitFinal, tenantEntries, testKey, type Answer } from './helpers/auth-peer.js';
import { startOidcProvider, type TestOidcProvider } from './helpers/oidc-provider.js';

const AUDIENCE = 'urn:cairn:peer-test';
const tool = testKey('audit-tool');
const ops = testKey('ops-tool');
let idp: TestOidcProvider;
let c: HttpCluster;
let url: string;
let entry: AuditEntry;

beforeAll(async () => {
  idp = await startOidcProvider(AUDIENCE, {
    'auditor-mfa': { claims: { groups: ['cairn-auditors'], amr: ['pwd', 'otp'] } },
    'auditor-nomfa': { claims: { groups: ['cairn-auditors'], amr: ['pwd'] } },
    'other-api': { claims: { groups: ['cairn-auditors'], amr: ['otp'] }, audience: 'urn:other:api' },
    future: { claims: { groups: ['cairn-auditors'], amr: ['otp'], nbf: Math.floor(Date.now() / 1000) + 3600 } },
    'short-lived': { claims: { groups: ['cairn-auditors'], amr: ['otp'] }, ttl: 1 },
  });
  const p = parsePolicy({
    issuers: [{ issuer: idp.issuer, audience: AUDIENCE, algorithms: ['ES256'], clockSkewSeconds: 0, roles: [{ claim: 'groups', value: 'cairn-auditors', role: 'auditors' }] }],
    keys: [
      { name: tool.name, publicKey: tool.publicKeyHex, roles: ['tools'] },
      { name: ops.name, publicKey: ops.publicKeyHex, roles: ['ops'] },
    ],
    roles: { auditors: { kind: 'auditor', mfa: true }, tools: { kind: 'auditor' }, ops: { kind: 'operator' } },
    signatures: { windowSeconds: 60, futureSkewSeconds: 5 },
  });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  c = await makeHttpCluster(1, { label: 'authroutes' });
  const s = await c.startWithHttp(0, { auth: { policy: p.policy, fetchTimeoutMs: 5000 } } as never);
  url = s.url;
  [entry] = tenantEntries(c, ['acme']) as [AuditEntry];
  await submitFinal(c, url, [entry]);
}, 120_000);
afterAll(async () => {
  await c?.close();
  await idp?.close();
});

function expect401(r: Answer, reason: string): void {
  expect({ status: r.status, code: r.json?.error?.code, reason: r.json?.error?.reason }, r.text).toEqual({ status: 401, code: 'unauthenticated', reason });
  expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="cairn"/);
}

function b64u(s: string): string {
  return Buffer.from(s).toString('base64url');
}

describe('without credentials', () => {
  it('entries, bundles, receipts, status and metrics answer 401 with WWW-Authenticate', async () => {
    for (const path of [`/v1/entries/${leafHashHex(entry)}`, `/v1/entries/by-id/${entry.client}/${entry.id}`, '/tile/entries/000.p/1', '/v1/status', '/metrics']) {
      const r = await call(`${url}${path}`);
      expect401(r, 'credentials_missing');
      expect(r.headers.get('www-authenticate'), path).toBe('Bearer realm="cairn"');
      expect(r.text).not.toContain('acme');
    }
    expect401(await call(`${url}/v1/entries/${leafHashHex(entry)}`, { headers: { accept: 'text/plain' } }), 'credentials_missing');
    // whoami answers, and says so.
    expect((await call(`${url}/v1/auth/whoami`)).json).toMatchObject({ principal: 'anonymous', roles: [], accessControl: true });
  });

  it('the checkpoint, hash tiles, consistency proofs and healthz stay public', async () => {
    const cp = await call(`${url}/checkpoint`);
    expect(cp.status).toBe(200);
    expect(cp.headers.get('access-control-allow-origin')).toBe('*');
    const size = Number(cp.text.split('\n')[1]);
    expect(size).toBeGreaterThanOrEqual(1);
    const tile = await call(`${url}/tile/0/000.p/${Math.min(size, 255)}`);
    expect(tile.status).toBe(200);
    expect(tile.headers.get('cache-control')).toMatch(/^public/);
    expect((await call(`${url}/v1/proofs/consistency?from=1&to=${size}`)).status).toBe(200);
    expect((await call(`${url}/healthz`)).status).toBe(200);
  });

  it('a tlog client without credentials verifies checkpoints and their consistency as the log grows', async () => {
    const trust: TrustRoot = { origin: c.genesis.origin, keys: c.genesis.validators.map((v) => v.key), quorum: c.genesis.quorum };
    const v1 = verifyCheckpoint(trust, (await call(`${url}/checkpoint`)).text);
    if (!v1.ok) throw new Error(JSON.stringify(v1));
    await submitFinal(c, url, tenantEntries(c, ['acme', 'globex'], 1, 'grow'));
    const v2 = verifyCheckpoint(trust, (await call(`${url}/checkpoint`)).text);
    if (!v2.ok) throw new Error(JSON.stringify(v2));
    expect(v2.size).toBe(v1.size + 2);
    const proof = await call(`${url}/v1/proofs/consistency?from=${v1.size}&to=${v2.size}`);
    expect(proof.status).toBe(200);
    const ok = verifyConsistencyResult(v1.size, v2.size, (proof.json.proof as string[]).map((b) => fromBase64(b)!), v1.root, v2.root);
    expect(ok.ok, JSON.stringify(ok)).toBe(true);
  });
});

describe('OpenID Connect bearer tokens from a real provider', () => {
  it('a valid token reads entries and bundles (bundles cached private)', async () => {
    const t = await idp.token('auditor-mfa');
    const r = await call(`${url}/v1/entries/${leafHashHex(entry)}`, bearer(t));
    expect(r.status, r.text).toBe(200);
    expect(r.json.entry).toEqual(entry);
    const b = await call(`${url}/tile/entries/000.p/1`, bearer(t));
    expect(b.status).toBe(200);
    expect(b.headers.get('cache-control')).toBe('private, max-age=10');
    const who = await call(`${url}/v1/auth/whoami`, bearer(t));
    expect(who.json).toMatchObject({ principal: `${idp.issuer}#auditor-mfa`, kind: 'oidc', roles: [{ name: 'auditors', kind: 'auditor' }], scope: 'full' });
  });

  it('a role requiring MFA with a token lacking the claim: 403 mfa_required', async () => {
    const r = await call(`${url}/v1/entries/${leafHashHex(entry)}`, bearer(await idp.token('auditor-nomfa')));
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ code: 'forbidden', reason: 'mfa_required' });
    expect(r.text).not.toContain('acme');
  });

  it('each bad token is 401 with its reason', async () => {
    const good = await idp.token('auditor-mfa');
    const [header, payload, sig] = good.split('.') as [string, string, string];
    const cases: [string, string][] = [];
    cases.push([await idp.token('other-api'), 'token_audience']);
    cases.push([await idp.token('future'), 'token_not_yet_valid']);
    cases.push([`${b64u(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${payload}.`, 'token_alg_not_allowed']);
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: JWK[] };
    const pub = jwks.keys.find((k) => k.kid === 'test-es256')!;
    const hsHeader = b64u(JSON.stringify({ alg: 'HS256', kid: 'test-es256' }));
    cases.push([`${hsHeader}.${payload}.${createHmac('sha256', JSON.stringify(pub)).update(`${hsHeader}.${payload}`).digest('base64url')}`, 'token_alg_not_allowed']);
    const claims = decodeJwt(good);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    cases.push([await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'not-published' }).sign(privateKey), 'token_kid_unknown']);
    cases.push([await new SignJWT({ ...claims, iss: 'https://login.example.com/realms/acme' }).setProtectedHeader({ alg: 'ES256', kid: 'x' }).sign(privateKey), 'token_issuer_unknown']);
    cases.push([`${header}.${b64u(JSON.stringify({ ...claims, sub: 'someone-else' }))}.${sig}`, 'token_signature']);
    cases.push(['not-a-jwt', 'token_malformed']);
    for (const [t, reason] of cases) {
      const r = await call(`${url}/v1/entries/${leafHashHex(entry)}`, bearer(t));
      expect401(r, reason);
      expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(r.text).not.toContain(t.slice(0, 40));
    }
  });

  it('expired: a real token after its lifetime is 401 token_expired', async () => {
    const t = await idp.token('short-lived');
    const exp = decodeJwt(t).exp! * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, exp - Date.now()) + 1100));
    expect401(await call(`${url}/v1/entries/${leafHashHex(entry)}`, bearer(t)), 'token_expired');
  });
});

describe('RFC 9421 signed requests', () => {
  const target = () => `${url}/v1/entries/${leafHashHex(entry)}`;

  it('a signed request reads; the same request replayed is 401 signature_replayed', async () => {
    const nonce = `nonce-${Date.now()}-replay-test`;
    const r = await signedCall(target(), tool, { nonce });
    expect(r.status, r.text).toBe(200);
    expect(r.json.entry).toEqual(entry);
    expect401(await signedCall(target(), tool, { nonce }), 'signature_replayed');
  });

  it('expired and future-dated signatures are 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect401(await signedCall(target(), tool, { created: now - 3600 }), 'signature_expired');
    expect401(await signedCall(target(), tool, { created: now + 3600 }), 'signature_future');
  });

  it('a body changed after signing is 401 signature_digest; the intact one gets a token', async () => {
    expect401(await signedCall(`${url}/v1/auth/token`, tool, { method: 'POST', signedBody: '{"a":1}', body: '{"a":2}', headers: { 'content-type': 'application/json' } }), 'signature_digest');
    const ok = await signedCall(`${url}/v1/auth/token`, tool, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    expect(ok.status, ok.text).toBe(200);
  });

  it('a signature for another path does not read this one', async () => {
    const sig = await import('../../node/auth/index.js').then((m) => m.signRequest({ method: 'GET', url: `${url}/v1/status` }, { keyid: tool.name, signer: tool.signer }));
    expect401(await call(target(), { headers: sig }), 'signature_invalid');
  });
});

describe('POST /v1/auth/token and GET /v1/auth/whoami', () => {
  it('a signature principal gets a short-lived token that reads with its own roles', async () => {
    const r = await signedCall(`${url}/v1/auth/token`, tool, { method: 'POST' });
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.json.roles).toEqual(['tools']);
    expect(r.json.expiresAt - Date.now() / 1000).toBeLessThanOrEqual(900);
    const read = await call(`${url}/v1/entries/${leafHashHex(entry)}`, bearer(r.json.token));
    expect(read.status).toBe(200);
    const who = await call(`${url}/v1/auth/whoami`, bearer(r.json.token));
    expect(who.json).toMatchObject({ principal: 'key:audit-tool', kind: 'token', scope: 'full', accessControl: true });
    // A token does not buy another token.
    const again = await call(`${url}/v1/auth/token`, { method: 'POST', ...bearer(r.json.token) });
    expect(again.status).toBe(403);
  });

  it('an OpenID principal gets no peer token (403), and an operator reads status and metrics but no entries', async () => {
    expect((await call(`${url}/v1/auth/token`, { method: 'POST', ...bearer(await idp.token('auditor-mfa')) })).status).toBe(403);
    expect((await signedCall(`${url}/v1/status`, ops)).status).toBe(200);
    expect((await signedCall(`${url}/metrics`, ops)).status).toBe(200);
    const r = await signedCall(`${url}/v1/entries/${leafHashHex(entry)}`, ops);
    expect(r.status).toBe(403);
    expect(r.json.error.reason).toBe('role_missing');
    // The auditor key may not read metrics.
    expect((await signedCall(`${url}/metrics`, tool)).status).toBe(403);
  });
});

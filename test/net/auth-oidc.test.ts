// OpenID Connect bearer tokens against a real, certified OpenID provider (`oidc-provider`)
// started on loopback. Valid tokens come from the provider (client credentials grant, JWT access
// tokens, claims added by the provider's own extraTokenClaims hook); the attacks that a provider
// never issues (alg none, HS256 keyed with the public key, unknown kid, tampered payload) are
// crafted from the provider's real keys and tokens. The verifier finds the keys by OpenID
// discovery, as a peer would.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessControl, parsePolicy } from '../../node/auth/index.js';
import type { AuthError, Principal } from '../../node/auth/index.js';
import { nodeSigner } from '../../src/crypto/node.js';
import { startOidcProvider, type TestOidcProvider } from './helpers/oidc-provider.js';

const AUDIENCE = 'urn:cairn:peer-test';

// Clients of the test provider and what the provider adds to their tokens.
const CLIENTS: Record<string, { claims: Record<string, unknown>; audience?: string; ttl?: number }> = {
  'auditor-mfa': { claims: { groups: ['cairn-auditors'], amr: ['pwd', 'otp'] } },
  'auditor-nomfa': { claims: { groups: ['cairn-auditors'], amr: ['pwd'] } },
  'acme-reader': { claims: { groups: ['acme-team'] } },
  'other-api': { claims: { groups: ['cairn-auditors'], amr: ['otp'] }, audience: 'urn:other:api' },
  future: { claims: { groups: ['cairn-auditors'], amr: ['otp'], nbf: Math.floor(Date.now() / 1000) + 3600 } },
  'short-lived': { claims: { groups: ['cairn-auditors'], amr: ['otp'] }, ttl: 1 },
};

let idp: TestOidcProvider;
let issuer: string;

function token(clientId: string): Promise<string> {
  return idp.token(clientId);
}

function access(opts: { issuerUrl?: string; now?: () => number; skew?: number; jwksUri?: string } = {}): AccessControl {
  const p = parsePolicy({
    issuers: [{
      issuer: opts.issuerUrl ?? issuer,
      audience: AUDIENCE,
      algorithms: ['ES256'],
      clockSkewSeconds: opts.skew ?? 0,
      ...(opts.jwksUri ? { jwksUri: opts.jwksUri } : {}),
      roles: [
        { claim: 'groups', value: 'cairn-auditors', role: 'auditors' },
        { claim: 'groups', value: 'acme-team', role: 'acme-readers' },
      ],
    }],
    roles: {
      auditors: { kind: 'auditor', mfa: true },
      'acme-readers': { kind: 'reader', scope: 'entry.tenant == "acme"' },
    },
  });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return new AccessControl(p.policy, { peerName: 'org-a', tokenSigner: nodeSigner(new Uint8Array(32).fill(1)), fetchTimeoutMs: 5000, ...(opts.now ? { now: opts.now } : {}) });
}

function bearer(t: string) {
  return { method: 'GET', url: '/v1/entries/x', headers: { host: 'peer.test', authorization: `Bearer ${t}` }, tls: true };
}

function b64u(s: string | Uint8Array): string {
  return Buffer.from(s).toString('base64url');
}

beforeAll(async () => {
  idp = await startOidcProvider(AUDIENCE, CLIENTS);
  issuer = idp.issuer;
});

afterAll(async () => {
  await idp.close();
});

function expectError(r: Principal | AuthError, reason: string): void {
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect({ status: r.status, reason: r.reason }).toEqual({ status: 401, reason });
  expect(r.wwwAuthenticate).toMatch(/^Bearer realm="cairn", error="invalid_token"/);
}

describe('OpenID Connect tokens from a real provider', () => {
  it('a valid token with MFA claims authenticates and may read', async () => {
    const t = await token('auditor-mfa');
    expect(decodeProtectedHeader(t).alg).toBe('ES256');
    const ac = access();
    const p = await ac.authenticate(bearer(t));
    expect(p).toMatchObject({ ok: true, kind: 'oidc', id: `${issuer}#auditor-mfa`, subject: 'auditor-mfa' });
    if (!p.ok) return;
    expect(p.roles.map((r) => r.name)).toEqual(['auditors']);
    expect(ac.authorize(p, 'read.entry')).toEqual({ allow: true });
    expect(ac.authorize(p, 'read.bundle')).toEqual({ allow: true });
    expect(ac.authorize(p, 'read.metrics')).toMatchObject({ allow: false, error: { status: 403, reason: 'role_missing' } });
  });

  it('a role that requires MFA, with a token lacking the claim: authenticated, then 403 mfa_required', async () => {
    const ac = access();
    const p = await ac.authenticate(bearer(await token('auditor-nomfa')));
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.roles).toEqual([]);
    expect(ac.authorize(p, 'read.entry')).toMatchObject({ allow: false, error: { status: 403, error: 'forbidden', reason: 'mfa_required' } });
  });

  it('expired: a real token after its lifetime', async () => {
    const t = await token('short-lived');
    const exp = decodeJwt(t).exp!;
    const ac = access({ now: () => (exp + 2) * 1000 });
    expectError(await ac.authenticate(bearer(t)), 'token_expired');
    // The same token inside its lifetime is fine: the failure is the time, nothing else.
    expect((await access({ now: () => (exp - 1) * 1000 }).authenticate(bearer(t))).ok).toBe(true);
  });

  it('not yet valid: the provider set nbf an hour ahead', async () => {
    expectError(await access({ skew: 60 }).authenticate(bearer(await token('future'))), 'token_not_yet_valid');
  });

  it('wrong issuer: a peer that trusts another issuer', async () => {
    const t = await token('auditor-mfa');
    expectError(await access({ issuerUrl: 'https://login.example.com/realms/acme' }).authenticate(bearer(t)), 'token_issuer_unknown');
  });

  it('wrong audience: a token the provider issued for another API', async () => {
    expectError(await access().authenticate(bearer(await token('other-api'))), 'token_audience');
  });

  it('alg none: the real claims with no signature', async () => {
    const t = await token('auditor-mfa');
    const [, payload] = t.split('.');
    const none = `${b64u(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${payload}.`;
    expectError(await access().authenticate(bearer(none)), 'token_alg_not_allowed');
  });

  it('HS256 keyed with the provider\'s public key (algorithm confusion)', async () => {
    const t = await token('auditor-mfa');
    const [, payload] = t.split('.');
    const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: JWK[] };
    const pubJwk = jwks.keys.find((k) => k.kid === 'test-es256')!;
    expect(pubJwk.d).toBeUndefined();
    const header = b64u(JSON.stringify({ alg: 'HS256', kid: 'test-es256' }));
    for (const secret of [JSON.stringify(pubJwk), `${pubJwk.x}${pubJwk.y}`]) {
      const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
      expectError(await access().authenticate(bearer(`${header}.${payload}.${mac}`)), 'token_alg_not_allowed');
    }
  });

  it('unknown kid: the real claims signed by a key the provider does not publish', async () => {
    const claims = decodeJwt(await token('auditor-mfa'));
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'not-published' }).sign(privateKey);
    expectError(await access().authenticate(bearer(forged)), 'token_kid_unknown');
  });

  it('tampered payload: the real signature over changed claims', async () => {
    const t = await token('acme-reader');
    const [header, payload, sig] = t.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.groups = ['cairn-auditors'];
    claims.amr = ['otp'];
    const tampered = `${header}.${b64u(JSON.stringify(claims))}.${sig}`;
    expectError(await access().authenticate(bearer(tampered)), 'token_signature');
    // The untampered token authenticates with its real, scoped role.
    const p = await access().authenticate(bearer(t));
    expect(p.ok && p.roles.map((r) => r.name)).toEqual(['acme-readers']);
  });

  it('a scoped reader from the provider reads only entries in its scope; others are concealed', async () => {
    const ac = access();
    const p = await ac.authenticate(bearer(await token('acme-reader')));
    if (!p.ok) throw new Error(p.message);
    const base = { v: 1 as const, id: 'e', time: '2026-01-01T00:00:00Z', actor: { id: 'a' }, action: 'db.query', resource: { type: 't', id: 'r' }, outcome: 'success' as const, client: 'ab'.repeat(32), sig: 'cd'.repeat(64) };
    expect(ac.authorize(p, 'read.entry', { entry: { ...base, tenant: 'acme' } })).toEqual({ allow: true });
    expect(ac.authorize(p, 'read.entry', { entry: { ...base, tenant: 'globex' } })).toMatchObject({ allow: false, conceal: true });
    expect(ac.authorize(p, 'read.bundle')).toMatchObject({ allow: false, error: { status: 403, reason: 'full_scope_required' } });
  });

  it('a JWKS endpoint that does not answer 200 is 503 issuer_unavailable', async () => {
    const r = await access({ jwksUri: `${issuer}/no-such-jwks` }).authenticate(bearer(await token('auditor-mfa')));
    expect(r).toMatchObject({ ok: false, status: 503, reason: 'issuer_unavailable' });
    // The same token with the provider's real JWKS (named explicitly, no discovery) is accepted.
    expect((await access({ jwksUri: `${issuer}/jwks` }).authenticate(bearer(await token('auditor-mfa')))).ok).toBe(true);
  });

  it('an unreachable identity provider is 503 issuer_unavailable, not a bad token', async () => {
    const t = await token('auditor-mfa');
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadIssuer = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const claims = decodeJwt(t);
    const resigned = await new SignJWT({ ...claims, iss: deadIssuer }).setProtectedHeader({ alg: 'ES256', kid: 'x' }).sign(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const r = await access({ issuerUrl: deadIssuer }).authenticate(bearer(resigned));
    expect(r).toMatchObject({ ok: false, status: 503, reason: 'issuer_unavailable' });
  });
});

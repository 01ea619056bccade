// AccessControl: who may do what. Signature principals get their key's roles; peer-issued tokens
// carry only those roles, expire within 15 minutes, and stop working when the key or role is
// removed; anonymous callers read only public routes (none when the policy says so); scoped
// readers never see entries outside their scope and such entries are concealed as "not found".
import { describe, expect, it } from 'vitest';
import { AccessControl, parsePolicy, signRequest } from '../../node/auth/index.js';
import type { Policy, Principal, RequestLike } from '../../node/auth/index.js';
import { TokenCache } from '../../node/auth/token-cache.js';
import { nodeSigner } from '../../src/crypto/node.js';
import type { AuditEntry } from '../../src/entry/types.js';

const peerSigner = nodeSigner(new Uint8Array(32).fill(9));
const toolSigner = nodeSigner(new Uint8Array(32).fill(5));
const readerSigner = nodeSigner(new Uint8Array(32).fill(6));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const NOW = Date.UTC(2026, 5, 1);

function policy(extra: Record<string, unknown> = {}, keys?: unknown[]): Policy {
  const r = parsePolicy({
    keys: keys ?? [
      { name: 'audit-tool', publicKey: hex(toolSigner.publicKey), roles: ['auditors'] },
      { name: 'acme-bot', publicKey: hex(readerSigner.publicKey), roles: ['acme-readers'] },
    ],
    roles: {
      auditors: { kind: 'auditor' },
      'acme-readers': { kind: 'reader', scope: 'entry.tenant == "acme"' },
      ops: { kind: 'operator' },
    },
    ...extra,
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.policy;
}

function ac(p = policy(), now = () => NOW): AccessControl {
  return new AccessControl(p, { peerName: 'org-a', tokenSigner: peerSigner, now });
}

function signedGet(keyid: string, signer = toolSigner, path = '/v1/entries/by-hash/ab'): RequestLike {
  const h = signRequest({ method: 'GET', url: `https://peer.example${path}` }, { keyid, signer, created: Math.floor(NOW / 1000) });
  return { method: 'GET', url: path, headers: { host: 'peer.example', ...h }, tls: true };
}

function withBearer(token: string): RequestLike {
  return { method: 'GET', url: '/metrics', headers: { host: 'peer.example', authorization: `Bearer ${token}` }, tls: true };
}

const entry = (tenant: string): AuditEntry => ({
  v: 1, id: `e-${tenant}`, time: '2026-06-01T00:00:00Z', actor: { id: 'a' }, action: 'db.query',
  resource: { type: 'db.table', id: 't' }, outcome: 'success', tenant, client: 'ab'.repeat(32), sig: 'cd'.repeat(64),
});

async function principal(a: AccessControl, req: RequestLike): Promise<Principal> {
  const p = await a.authenticate(req);
  if (!p.ok) throw new Error(`${p.reason}: ${p.message}`);
  return p;
}

describe('access control', () => {
  it('anonymous: public routes open, restricted ones 401 with a challenge', async () => {
    const a = ac();
    const p = await principal(a, { method: 'GET', url: '/checkpoint', headers: { host: 'peer.example' }, tls: true });
    expect(p.kind).toBe('anonymous');
    expect(a.authorize(p, 'read.checkpoint')).toEqual({ allow: true });
    const d = a.authorize(p, 'read.entry', { entry: entry('acme') });
    expect(d).toMatchObject({ allow: false, error: { status: 401, error: 'unauthenticated', reason: 'credentials_missing', wwwAuthenticate: 'Bearer realm="cairn"' } });
    expect(a.authorize(p, 'read.metrics')).toMatchObject({ allow: false, error: { status: 401 } });
  });

  it('publicRequiresAuth: even the checkpoint needs credentials', async () => {
    const a = ac(policy({ publicRequiresAuth: true }));
    const anon = await principal(a, { method: 'GET', url: '/checkpoint', headers: { host: 'peer.example' }, tls: true });
    expect(a.authorize(anon, 'read.checkpoint')).toMatchObject({ allow: false, error: { status: 401 } });
    const p = await principal(a, signedGet('acme-bot', readerSigner, '/checkpoint'));
    expect(a.authorize(p, 'read.checkpoint')).toEqual({ allow: true });
  });

  it('a signature principal gets its key\'s roles; an auditor reads everything, bundles included', async () => {
    const a = ac();
    const p = await principal(a, signedGet('audit-tool'));
    expect(p).toMatchObject({ kind: 'key', id: 'key:audit-tool', keyName: 'audit-tool' });
    expect(a.authorize(p, 'read.entry', { entry: entry('globex') })).toEqual({ allow: true });
    expect(a.authorize(p, 'read.bundle')).toEqual({ allow: true });
    expect(a.scopeOf(p)).toEqual({ full: true });
    expect(a.authorize(p, 'read.status')).toMatchObject({ allow: false, error: { status: 403, reason: 'role_missing' } });
  });

  it('a scoped reader: in-scope allowed, out-of-scope concealed as not found, bundles refused', async () => {
    const a = ac();
    const p = await principal(a, signedGet('acme-bot', readerSigner));
    expect(a.authorize(p, 'read.entry', { entry: entry('acme') })).toEqual({ allow: true });
    const out = a.authorize(p, 'read.entry', { entry: entry('globex') });
    expect(out).toMatchObject({ allow: false, conceal: true, error: { reason: 'out_of_scope', message: 'entry not found' } });
    expect(a.authorize(p, 'read.bundle')).toMatchObject({ allow: false, conceal: false, error: { status: 403, reason: 'full_scope_required' } });
    const s = a.scopeOf(p);
    expect(s.full).toBe(false);
    if (!s.full) expect([s.matches(entry('acme')), s.matches(entry('globex'))]).toEqual([true, false]);
  });

  it('both a bearer token and a signature, or a malformed Authorization, are refused', async () => {
    const a = ac();
    const req = signedGet('audit-tool');
    expect(await a.authenticate({ ...req, headers: { ...req.headers, authorization: 'Bearer x.y.z' } })).toMatchObject({ ok: false, reason: 'credentials_ambiguous' });
    expect(await a.authenticate({ ...req, headers: { host: 'h', authorization: 'Basic dTpw' } })).toMatchObject({ ok: false, status: 401, reason: 'token_malformed' });
  });

  it('peer tokens: issued to a signature principal with its own roles, usable as bearer, ≤ 15 min', async () => {
    const a = ac();
    const p = await principal(a, signedGet('acme-bot', readerSigner));
    const t = a.issueToken(p);
    if (!('token' in t)) throw new Error(t.message);
    expect(t.roles).toEqual(['acme-readers']);
    expect(t.expiresAt - Math.floor(NOW / 1000)).toBe(600);
    const q = await principal(a, withBearer(t.token));
    expect(q).toMatchObject({ kind: 'token', id: 'key:acme-bot' });
    expect(q.roles.map((r) => r.name)).toEqual(['acme-readers']);
    expect(a.authorize(q, 'read.entry', { entry: entry('globex') })).toMatchObject({ allow: false, conceal: true });
    // Not re-issuable from a token (only signature principals get tokens).
    expect(a.issueToken(q)).toMatchObject({ ok: false, status: 403 });
    // Expired after its lifetime.
    expect(await ac(policy(), () => NOW + 601_000).authenticate(withBearer(t.token))).toMatchObject({ ok: false, reason: 'token_expired' });
  });

  it('peer tokens stop working when the key is removed, lose a role when it is taken away, and cannot be altered', async () => {
    const a = ac();
    const t = a.issueToken(await principal(a, signedGet('audit-tool')));
    if (!('token' in t)) throw new Error(t.message);
    const removed = ac(policy({}, [{ name: 'acme-bot', publicKey: hex(readerSigner.publicKey), roles: ['acme-readers'] }]));
    expect(await removed.authenticate(withBearer(t.token))).toMatchObject({ ok: false, reason: 'token_revoked' });
    const demoted = ac(policy({}, [{ name: 'audit-tool', publicKey: hex(toolSigner.publicKey), roles: ['ops'] }]));
    const d = await principal(demoted, withBearer(t.token));
    expect(d.roles).toEqual([]);
    const [prefix, claims, sig] = t.token.split('.') as [string, string, string];
    const forged = JSON.parse(Buffer.from(claims, 'base64url').toString());
    forged.exp += 3600;
    expect(await a.authenticate(withBearer(`${prefix}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${sig}`))).toMatchObject({ ok: false, reason: 'token_signature' });
    const otherPeer = new AccessControl(policy(), { peerName: 'org-b', tokenSigner: nodeSigner(new Uint8Array(32).fill(10)), now: () => NOW });
    expect(await otherPeer.authenticate(withBearer(t.token))).toMatchObject({ ok: false, reason: 'token_signature' });
  });

  it('a verified token is remembered, but never past its expiry, and a different token is verified afresh', async () => {
    let now = NOW;
    const a = ac(policy(), () => now);
    const t = a.issueToken(await principal(a, signedGet('audit-tool')));
    if (!('token' in t)) throw new Error(t.message);
    const first = await principal(a, withBearer(t.token));
    expect(await principal(a, withBearer(t.token))).toBe(first); // served from the cache
    now = NOW + 599_000;
    expect((await a.authenticate(withBearer(t.token))).ok).toBe(true);
    now = NOW + 600_000;
    expect(await a.authenticate(withBearer(t.token))).toMatchObject({ ok: false, reason: 'token_expired' });
    const [prefix, claims, sig] = t.token.split('.') as [string, string, string];
    // The first character carries 6 bits of the signature (the last one carries only 2 and padding,
    // so replacing it could decode to the same bytes).
    const flipped = `${prefix}.${claims}.${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`;
    now = NOW;
    expect(await a.authenticate(withBearer(flipped))).toMatchObject({ ok: false, reason: 'token_signature' });
  });

  it('the token cache is bounded in count and characters, least recently used evicted', () => {
    const p = { ok: true as const, kind: 'token' as const, id: 'key:x', roles: [], rolesMissingMfa: [], expiresAt: NOW + 60_000 };
    const c = new TokenCache(3, 1_000);
    for (const t of ['t1', 't2', 't3']) c.set(t, p);
    expect(c.get('t1', NOW)).toBe(p); // t1 now most recent
    c.set('t4', p);
    expect([c.get('t2', NOW), c.size]).toEqual([undefined, 3]);
    c.set('x'.repeat(60), p); // within charsMax/16
    c.set('y'.repeat(900), p); // above charsMax/16: not cached
    expect(c.get('y'.repeat(900), NOW)).toBeUndefined();
    expect(c.get('t1', NOW + 60_000)).toBeUndefined(); // expired
  });

  it('an unknown signature key is 401 with a reason that names no secret', async () => {
    const r = await ac().authenticate(signedGet('nobody', toolSigner));
    expect(r).toMatchObject({ ok: false, status: 401, reason: 'signature_key_unknown' });
    if (!r.ok) expect(r.message).not.toMatch(/sig=|:[A-Za-z0-9+/]{40,}/);
  });
});

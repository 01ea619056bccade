// The access policy is validated at load: every mistake is reported with the path of the bad
// field, and unsafe settings (HMAC or `none` algorithms, plain-HTTP issuers off loopback, readers
// without a scope, unvetted keys) are refused.
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../node/auth/index.js';
import { nodeSigner } from '../../src/crypto/node.js';

const keyHex = Buffer.from(nodeSigner(new Uint8Array(32).fill(3)).publicKey).toString('hex');

const good = {
  publicRequiresAuth: false,
  issuers: [{
    issuer: 'https://login.example.com/realms/acme',
    audience: 'cairn',
    algorithms: ['RS256', 'ES256'],
    roles: [{ claim: 'realm_access.roles', value: 'cairn-auditor', role: 'auditors' }],
  }],
  keys: [{ name: 'audit-tool', publicKey: keyHex, roles: ['auditors', 'ops'] }],
  roles: {
    auditors: { kind: 'auditor', mfa: { amr: ['hwk', 'otp'] } },
    'acme-readers': { kind: 'reader', scope: 'entry.tenant == "acme"' },
    ops: { kind: 'operator' },
  },
  tokens: { ttlSeconds: 300 },
};

function errorsOf(input: unknown): { path: string; message: string }[] {
  const r = parsePolicy(input);
  return r.ok ? [] : r.errors;
}

describe('policy', () => {
  it('a complete policy parses, with defaults filled in', () => {
    const r = parsePolicy(good);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.policy.issuers[0]).toMatchObject({ audience: ['cairn'], jwksUri: null, clockSkewSeconds: 60 });
    expect(r.policy.roles.get('auditors')).toMatchObject({ kind: 'auditor', mfa: { acr: [], amr: ['hwk', 'otp'] } });
    expect(r.policy.roles.get('auditors')!.scope.full).toBe(true);
    expect(r.policy.roles.get('acme-readers')!.scope.full).toBe(false);
    expect(r.policy.signatures).toEqual({ windowSeconds: 300, futureSkewSeconds: 30, replayEntriesMax: 200_000, replayEntriesPerKeyMax: 20_000 });
    expect(r.policy.tokens.ttlSeconds).toBe(300);
  });

  it('HMAC and none algorithms are refused, with the path of the bad entry', () => {
    const e = errorsOf({ ...good, issuers: [{ ...good.issuers[0], algorithms: ['RS256', 'HS256', 'none'] }] });
    expect(e.map((x) => x.path)).toEqual(['auth.issuers[0].algorithms[1]', 'auth.issuers[0].algorithms[2]']);
  });

  it('issuers must use https except on loopback, and must pin audience and algorithms', () => {
    const e = errorsOf({ ...good, issuers: [{ issuer: 'http://idp.example.com', roles: [] }] });
    expect(e.map((x) => x.path).sort()).toEqual(['auth.issuers[0].algorithms', 'auth.issuers[0].audience', 'auth.issuers[0].issuer']);
    expect(errorsOf({ ...good, issuers: [{ ...good.issuers[0], issuer: 'http://127.0.0.1:8080' }] })).toEqual([]);
  });

  it('a reader needs a scope, and a bad scope is reported with its position', () => {
    expect(errorsOf({ ...good, roles: { ...good.roles, r: { kind: 'reader' } } })[0]?.path).toBe('auth.roles.r.scope');
    const e = errorsOf({ ...good, roles: { ...good.roles, r: { kind: 'reader', scope: 'entry.tenant == ' } } });
    expect(e[0]?.path).toBe('auth.roles.r.scope');
    expect(e[0]?.message).toMatch(/filter_syntax.*column/);
    expect(errorsOf({ ...good, roles: { ...good.roles, r: { kind: 'auditor', scope: 'true' } } })[0]?.path).toBe('auth.roles.r.scope');
  });

  it('references to unknown roles, bad keys, duplicates and unknown fields are reported', () => {
    const e = errorsOf({
      ...good,
      keys: [
        { name: 'k1', publicKey: keyHex, roles: ['nope'] },
        { name: 'k1', publicKey: '00'.repeat(32), roles: [] },
        { name: 'Bad Name', publicKey: 'zz', roles: [] },
      ],
      extra: 1,
    });
    const paths = e.map((x) => x.path);
    expect(paths).toContain('auth.keys[0].roles[0]');
    expect(paths).toContain('auth.keys[1].publicKey'); // small-order point: refused by vetting
    expect(paths).toContain('auth.keys[2].name');
    expect(paths).toContain('auth.keys[2].publicKey');
    expect(paths).toContain('auth.extra');
    const i = errorsOf({ ...good, issuers: [{ ...good.issuers[0], roles: [{ claim: 'groups', value: 'g', role: 'ghost' }] }] });
    expect(i.map((x) => x.path)).toEqual(['auth.issuers[0].roles[0].role']);
  });

  it('peer tokens live at most 15 minutes', () => {
    expect(errorsOf({ ...good, tokens: { ttlSeconds: 901 } }).map((x) => x.path)).toEqual(['auth.tokens.ttlSeconds']);
  });

  it('not an object', () => {
    expect(errorsOf([])).toEqual([{ path: 'auth', message: 'must be an object' }]);
  });
});

// The `auth` section of the peer config and the policy file it names (YAML or JSON): accepted
// shapes, and every refusal naming its field, so a typo cannot leave a peer open or misconfigured.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicyFile, parsePolicyText } from '../../node/auth/policy-file.js';
import { tokenSeedFrom } from '../../node/http/attach.js';
import { parseConfig } from '../../node/peer/config.js';
import { testKey } from './helpers/auth-peer.js';

const base = { dataDir: 'd', genesis: 'g.json', signingKey: 's.key', p2pKey: 'p.key' };
const key = testKey('cfg');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-authcfg-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function failOf(auth: unknown): { code: string; field?: string } {
  const r = parseConfig({ ...base, auth }, '/etc/cairn');
  if (r.ok) throw new Error('accepted');
  return { code: r.code, ...(r.field !== undefined ? { field: r.field } : {}) };
}

describe('peer config auth section', () => {
  it('resolves paths against the config directory and keeps the options', () => {
    const r = parseConfig({ ...base, auth: { policy: 'policy.yaml', tls: { cert: 'c.pem', key: '/abs/k.pem', ca: 'ca.pem', requestClientCert: true }, allowPlainHttp: true, corsOrigins: ['https://console.acme.example', 'http://127.0.0.1:8080'], metaAuditKey: 'ma.key' } }, '/etc/cairn');
    expect(r.ok && r.config.auth).toEqual({
      policy: '/etc/cairn/policy.yaml',
      tls: { cert: '/etc/cairn/c.pem', key: '/abs/k.pem', ca: '/etc/cairn/ca.pem', requestClientCert: true },
      allowPlainHttp: true,
      corsOrigins: ['https://console.acme.example', 'http://127.0.0.1:8080'],
      metaAuditKey: '/etc/cairn/ma.key',
    });
    const none = parseConfig(base, '/etc/cairn');
    expect(none.ok && none.config.auth).toBeNull();
  });

  it('refuses bad fields, naming them', () => {
    expect(failOf({ polcy: 'x' })).toEqual({ code: 'config_unknown_field', field: 'auth.polcy' });
    expect(failOf({ policy: '' })).toMatchObject({ field: 'auth.policy' });
    expect(failOf({ tls: { cert: 'c.pem' } })).toMatchObject({ field: 'auth.tls.key' });
    expect(failOf({ tls: { cert: 'c', key: 'k', requestClientCert: true } })).toEqual({ code: 'config_bad_tls', field: 'auth.tls.ca' });
    expect(failOf({ allowPlainHttp: 'yes' })).toMatchObject({ field: 'auth.allowPlainHttp' });
    for (const o of ['https://console.acme.example/', 'https://Console.acme.example', '*', 'console.acme.example', 'https://a.example/path']) {
      expect(failOf({ corsOrigins: [o] }), o).toEqual({ code: 'config_bad_auth', field: 'auth.corsOrigins[0]' });
    }
    expect(failOf({ corsOrigins: new Array(65).fill('https://a.example') })).toMatchObject({ field: 'auth.corsOrigins' });
  });
});

describe('policy file', () => {
  it('reads YAML and JSON', async () => {
    const yaml = `publicRequiresAuth: true\nkeys:\n  - name: cfg\n    publicKey: "${key.publicKeyHex}"\n    roles: [readers]\nroles:\n  readers:\n    kind: reader\n    scope: entry.tenant == "acme"\nmetaAudit:\n  failClosed: true\n`;
    await writeFile(join(dir, 'p.yaml'), yaml);
    const p = await loadPolicyFile(join(dir, 'p.yaml'));
    expect(p.publicRequiresAuth).toBe(true);
    expect(p.metaAudit.failClosed).toBe(true);
    expect(p.roles.get('readers')?.scope.source).toBe('entry.tenant == "acme"');
    const json = parsePolicyText(JSON.stringify({ keys: [{ name: 'cfg', publicKey: key.publicKeyHex, roles: ['a'] }], roles: { a: { kind: 'auditor' } } }), 'p.json');
    expect(json.keys.map((k) => k.name)).toEqual(['cfg']);
    expect(json.metaAudit.failClosed).toBe(false);
  });

  it('refuses invalid files with the path of the bad field', async () => {
    expect(() => parsePolicyText('roles: { r: { kind: reader } }', 'p.yaml')).toThrow(/config_bad_policy: policy file p\.yaml: policy\.roles\.r\.scope/);
    expect(() => parsePolicyText('metaAudit: { failClosed: 1 }', 'p.yaml')).toThrow(/policy\.metaAudit\.failClosed/);
    expect(() => parsePolicyText('a: [1, 2', 'p.yaml')).toThrow(/not valid YAML or JSON/);
    expect(() => parsePolicyText('a: 1\na: 2\n', 'p.yaml')).toThrow(/config_bad_policy/);
    // Alias expansion is bounded: a "billion laughs" document is refused, not expanded.
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${new Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
    expect(() => parsePolicyText(bomb, 'bomb.yaml')).toThrow(/not valid YAML or JSON: .*alias/i);
    await expect(loadPolicyFile(join(dir, 'absent.yaml'))).rejects.toThrow(/config_bad_policy: cannot read policy file/);
  });

  it('peer tokens are signed with a key derived from the organization seed, never the seed itself', () => {
    const seed = new Uint8Array(32).fill(7);
    const t = tokenSeedFrom(seed);
    expect(t.length).toBe(32);
    expect(Buffer.from(t).equals(Buffer.from(seed))).toBe(false);
    expect(Buffer.from(tokenSeedFrom(seed)).equals(Buffer.from(t))).toBe(true);
  });
});

// The explorer's static routes (node/http/ui-routes.ts) on a bare Fastify app: strict CSP and the
// other security headers, immutable caching only for content-hashed assets, gzip on request, 404
// for unknown or oddly named assets, and a 404 that says how to build when there is no build.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUiConfig, registerUiRoutes, UI_CSP } from '../../node/http/ui-routes.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-ui-unit-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><script type="module" src="assets/explorer-ABC123.js"></script>');
  await writeFile(join(dir, 'assets', 'explorer-ABC123.js'), 'console.log(1);'.repeat(100));
  await writeFile(join(dir, 'assets', 'notes.txt'), 'not an asset');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('explorer static routes', () => {
  it('serves index.html revalidated and hashed assets immutable, both under the strict CSP', async () => {
    const app = Fastify();
    registerUiRoutes(app, dir);
    const index = await app.inject({ method: 'GET', url: '/ui/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toContain('text/html');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toBe(UI_CSP);
    expect(UI_CSP).toContain("default-src 'none'");
    expect(UI_CSP).toContain("frame-ancestors 'none'");
    expect(UI_CSP).not.toMatch(/unsafe-|\*/);
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    const js = await app.inject({ method: 'GET', url: '/ui/assets/explorer-ABC123.js', headers: { 'accept-encoding': 'gzip' } });
    expect(js.statusCode).toBe(200);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(js.rawPayload).toString()).toBe('console.log(1);'.repeat(100));
    expect(js.headers['content-security-policy']).toBe(UI_CSP);
    const redirect = await app.inject({ method: 'GET', url: '/ui' });
    expect(redirect.statusCode).toBe(301);
    expect(redirect.headers.location).toBe('/ui/');
    for (const bad of ['/ui/assets/notes.txt', '/ui/assets/missing-1.js', '/ui/assets/..%2Findex.html']) {
      expect((await app.inject({ method: 'GET', url: bad })).statusCode, bad).toBe(404);
    }
    await app.close();
  });

  it('without a build, /ui/ answers 404 not_found saying how to build', async () => {
    const app = Fastify();
    registerUiRoutes(app, null);
    const r = await app.inject({ method: 'GET', url: '/ui/' });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('not_found');
    expect(r.json().error.message).toContain('npm run build');
    await app.close();
  });
});

describe('explorer UI config (CAIRN_UI_CONFIG, GET /ui/config.json)', () => {
  it('serves the operator\'s identity provider and peers, and widens connect-src to exactly their origins', async () => {
    const file = join(dir, 'ui-config.json');
    await writeFile(file, JSON.stringify({ oidc: { issuer: 'https://login.example.com/realms/acme', clientId: 'cairn-explorer' }, peers: [{ name: 'org2.example', url: 'https://cairn.org2.example:8443/' }] }));
    const app = Fastify();
    registerUiRoutes(app, dir, file);
    const c = await app.inject({ method: 'GET', url: '/ui/config.json' });
    expect(c.statusCode).toBe(200);
    expect(c.json()).toEqual({ oidc: { issuer: 'https://login.example.com/realms/acme', clientId: 'cairn-explorer', scope: 'openid', resource: null, name: 'login.example.com' }, peers: [{ name: 'org2.example', url: 'https://cairn.org2.example:8443' }] });
    const index = await app.inject({ method: 'GET', url: '/ui/' });
    expect(index.headers['content-security-policy']).toBe(UI_CSP.replace("connect-src 'self'", "connect-src 'self' https://login.example.com https://cairn.org2.example:8443"));
    // Edited without a restart; an invalid file costs the config, not the page, and says why.
    await writeFile(file, JSON.stringify({ peers: [{ name: 'x', url: 'javascript:alert(1)' }] }));
    const bad = await app.inject({ method: 'GET', url: '/ui/config.json' });
    expect(bad.json()).toMatchObject({ oidc: null, peers: [], problem: expect.stringContaining('peers[0].url must be an http(s) URL') });
    expect((await app.inject({ method: 'GET', url: '/ui/' })).headers['content-security-policy']).toBe(UI_CSP);
    await app.close();
  });

  it('refuses unknown keys, a scope without openid, credentials in URLs and oversized lists', () => {
    expect(parseUiConfig({ oidc: { issuer: 'https://a.example', clientId: 'c', scope: 'profile' } })).toMatchObject({ ok: false, message: expect.stringContaining('openid') });
    expect(parseUiConfig({ peer: [] })).toMatchObject({ ok: false, message: expect.stringContaining('unknown key') });
    expect(parseUiConfig({ peers: [{ name: 'a', url: 'https://u:p@a.example' }] })).toMatchObject({ ok: false, message: expect.stringContaining('credentials') });
    expect(parseUiConfig({ peers: Array.from({ length: 33 }, (_, i) => ({ name: `p${i}`, url: 'https://a.example' })) }).ok).toBe(false);
    expect(parseUiConfig({}).ok).toBe(true);
  });
});

// The exporter role on a real peer (LevelDB in a temp dir, HTTP on 127.0.0.1): an exporter scoped
// to tenant "acme" streams exactly the acme entries (never a globex one), reads checkpoints (to
// verify what it forwards), and is refused random access: GET /v1/entries/<hash> and search are
// 403 role_missing, even for an entry inside its scope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../node/auth/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { makeHttpCluster, type HttpCluster } from './helpers/http-cluster.js';
import { leafHashHex, signedCall, submitFinal, tenantEntries, testKey } from './helpers/auth-peer.js';

const exporter = testKey('acme-exporter');
let c: HttpCluster;
let url: string;
let entries: AuditEntry[];

beforeAll(async () => {
  c = await makeHttpCluster(1, { label: 'authexporter' });
  const p = parsePolicy({
    keys: [{ name: exporter.name, publicKey: exporter.publicKeyHex, roles: ['acme-siem'] }],
    roles: { 'acme-siem': { kind: 'exporter', scope: 'entry.tenant == "acme"' } },
  });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  const s = await c.startWithHttp(0, { auth: { policy: p.policy } } as never);
  url = s.url;
  entries = tenantEntries(c, ['acme', 'globex', 'acme', 'globex'], 0, 'exp');
  await submitFinal(c, url, entries);
}, 120_000);
afterAll(async () => {
  await c?.close();
});

describe('an exporter scoped to tenant acme', () => {
  it('streams the acme entries and only those', async () => {
    const final = c.peers[0]!.status().finalSize;
    const r = await signedCall(`${url}/v1/stream?until=${final}`, exporter);
    expect(r.status).toBe(200);
    const lines = r.text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; leafHash?: string; leaf?: string });
    const got = lines.filter((l) => l.type === 'entry').map((l) => l.leafHash);
    const acme = entries.filter((e) => e.tenant === 'acme').map(leafHashHex);
    const globex = entries.filter((e) => e.tenant === 'globex').map(leafHashHex);
    for (const h of acme) expect(got).toContain(h);
    for (const h of globex) expect(got).not.toContain(h);
    for (const l of lines.filter((x) => x.type === 'entry')) expect((JSON.parse(l.leaf!) as AuditEntry).tenant).toBe('acme');
    expect(lines[lines.length - 1]).toMatchObject({ type: 'heartbeat', next: final });
  });

  it('reads checkpoints but gets 403 on an entry by hash (even in scope) and on search', async () => {
    expect((await signedCall(`${url}/checkpoint`, exporter)).status).toBe(200);
    const acme = entries.find((e) => e.tenant === 'acme')!;
    const byHash = await signedCall(`${url}/v1/entries/${leafHashHex(acme)}`, exporter);
    expect(byHash.status).toBe(403);
    expect(byHash.text).toMatch(/role_missing/);
    const search = await signedCall(`${url}/v1/search?tenant=acme`, exporter);
    expect(search.status).toBe(403);
  });

  it('the policy refuses an exporter role without a scope', () => {
    const p = parsePolicy({ roles: { siem: { kind: 'exporter' } } });
    expect(p.ok).toBe(false);
    if (!p.ok) expect(JSON.stringify(p.errors)).toMatch(/an exporter needs a scope/);
  });
});

// A reader scoped to tenant "acme" on a real peer (LevelDB in a temp dir, HTTP on 127.0.0.1):
// it reads acme entries, and cannot obtain a globex entry by hash, by (client, id), by receipt or
// through an entry bundle. For every route the answer about an existing globex entry is the same,
// byte for byte (status, headers except Date, body), as the answer about an entry that does not
// exist, so no answer reveals that the globex entry exists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../node/auth/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { makeHttpCluster, type HttpCluster } from './helpers/http-cluster.js';
import { leafHashHex, observable, signedCall, submitFinal, tenantEntries, testKey } from './helpers/auth-peer.js';

const reader = testKey('acme-reader');
const auditor = testKey('auditor');
let c: HttpCluster;
let url: string;
let acme: AuditEntry;
let globex: AuditEntry;

beforeAll(async () => {
  c = await makeHttpCluster(1, { label: 'authscope' });
  const p = parsePolicy({
    keys: [
      { name: reader.name, publicKey: reader.publicKeyHex, roles: ['acme-readers'] },
      { name: auditor.name, publicKey: auditor.publicKeyHex, roles: ['auditors'] },
    ],
    roles: { 'acme-readers': { kind: 'reader', scope: 'entry.tenant == "acme"' }, auditors: { kind: 'auditor' } },
  });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  const s = await c.startWithHttp(0, { auth: { policy: p.policy } } as never);
  url = s.url;
  [acme, globex] = tenantEntries(c, ['acme', 'globex']) as [AuditEntry, AuditEntry];
  await submitFinal(c, url, [acme, globex]);
}, 120_000);
afterAll(async () => {
  await c?.close();
});

const NONEXISTENT = 'ab'.repeat(32);

describe('a reader scoped to tenant acme', () => {
  it('reads an acme entry by hash, by id and as a receipt', async () => {
    const byHash = await signedCall(`${url}/v1/entries/${leafHashHex(acme)}`, reader);
    expect(byHash.status).toBe(200);
    expect(byHash.json.entry).toEqual(acme);
    const byId = await signedCall(`${url}/v1/entries/by-id/${acme.client}/${acme.id}`, reader);
    expect(byId.status).toBe(200);
    expect(byId.json.leafHash).toBe(leafHashHex(acme));
    const receipt = await signedCall(`${url}/v1/entries/${leafHashHex(acme)}`, reader, { headers: { accept: 'text/plain' } });
    expect(receipt.status).toBe(200);
    expect(receipt.text.startsWith('c2sp.org/tlog-proof@v1\n')).toBe(true);
  });

  it('gets a globex entry by hash exactly as a hash that does not exist', async () => {
    const hidden = await signedCall(`${url}/v1/entries/${leafHashHex(globex)}`, reader);
    const missing = await signedCall(`${url}/v1/entries/${NONEXISTENT}`, reader);
    expect(hidden.status).toBe(404);
    expect(observable(hidden)).toEqual(observable(missing));
    expect(hidden.text).not.toContain('globex');
    // The auditor sees that it exists: the 404 above is concealment, not absence.
    expect((await signedCall(`${url}/v1/entries/${leafHashHex(globex)}`, auditor)).status).toBe(200);
  });

  it('gets a globex entry by (client, id) exactly as an id that does not exist', async () => {
    const hidden = await signedCall(`${url}/v1/entries/by-id/${globex.client}/${globex.id}`, reader);
    const missing = await signedCall(`${url}/v1/entries/by-id/${globex.client}/no-such-id-${globex.id.length}`, reader);
    expect(hidden.status).toBe(404);
    expect(observable(hidden)).toEqual(observable(missing));
  });

  it('gets no receipt for a globex entry, answered exactly as for a hash that does not exist', async () => {
    const accept = { accept: 'text/plain' };
    const hidden = await signedCall(`${url}/v1/entries/${leafHashHex(globex)}`, reader, { headers: accept });
    const missing = await signedCall(`${url}/v1/entries/${NONEXISTENT}`, reader, { headers: accept });
    expect(hidden.status).toBe(404);
    expect(observable(hidden)).toEqual(observable(missing));
    const hiddenById = await signedCall(`${url}/v1/entries/by-id/${globex.client}/${globex.id}`, reader, { headers: accept });
    expect(observable(hiddenById)).toEqual(observable(missing));
  });

  it('gets no entry bundle (they mix every tenant): 403 full_scope_required; the auditor gets it, privately cached', async () => {
    const r = await signedCall(`${url}/tile/entries/000.p/2`, reader);
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ code: 'forbidden', reason: 'full_scope_required' });
    expect(r.text).not.toContain('globex');
    const a = await signedCall(`${url}/tile/entries/000.p/2`, auditor);
    expect(a.status).toBe(200);
    expect(a.headers.get('cache-control')).toMatch(/^private/);
    expect(Buffer.from(a.text).includes('globex')).toBe(true);
  });

  it('a long-poll for a globex entry waits and ends exactly as one for an entry that does not exist', async () => {
    const q = '?wait=final&timeout=300ms';
    const hidden = await signedCall(`${url}/v1/entries/${leafHashHex(globex)}${q}`, reader);
    const missing = await signedCall(`${url}/v1/entries/${NONEXISTENT}${q}`, reader);
    expect(hidden.status).toBe(404);
    const strip = (o: ReturnType<typeof observable>) => ({ ...o, headers: { ...o.headers, 'cairn-waited-ms': 'x' } });
    expect(strip(observable(hidden))).toEqual(strip(observable(missing)));
    expect(Number(hidden.headers.get('cairn-waited-ms')), JSON.stringify(observable(hidden))).toBeGreaterThanOrEqual(250);
  });
});

// GET /v1/search and GET /v1/resources/{type}/{id}/history on a real peer (libp2p on 127.0.0.1,
// LevelDB in a temp dir, HTTP on 127.0.0.1): filters, pagination with cursors (each entry exactly
// once, pinned while the log grows), results verified by the SDK against the trust root, history
// in log order with changes, stable 400 codes, long-poll on `newer`, and a scoped reader that
// never gets (nor can count) an entry of another tenant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnClient } from '../../src/client/client.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import type { AuditEntry } from '../../src/entry/types.js';
import type { SearchFilter } from '../../src/search/fields.js';
import { verifySearchAnswer } from '../../src/search/verify.js';
import { decodePage } from '../../src/search/wire.js';
import type { TrustRoot } from '../../src/verifier/index.js';
import { startHttpServer, type HttpServer } from '../../node/http/server.js';
import { makeCluster, type Cluster } from '../peer-support/cluster.js';
import { call } from './helpers/http-cluster.js';
import { parsePolicy } from '../../node/auth/index.js';
import { signedCall, testKey } from './helpers/auth-peer.js';
import { entryOf, submitFinal, testGate, trustOf, type GateRecord } from './search-support.js';

let c: Cluster;
let open: HttpServer;
let gated: HttpServer;
let policed: HttpServer;
const reader = testKey('search-acme-reader');
const auditor = testKey('search-auditor');
let trust: TrustRoot;
const records: GateRecord[] = [];
const gateState = { recordFails: false };
/** Our entries by log index. */
const byIndex = new Map<number, AuditEntry>();
let t0: number;

beforeAll(async () => {
  c = await makeCluster(1, { label: 'search' });
  const peer = await c.start(0);
  open = await startHttpServer(peer, { host: '127.0.0.1', port: 0 });
  gated = await startHttpServer(peer, { host: '127.0.0.1', port: 0, gate: testGate(records, gateState) });
  // The peer's own policy gate (AccessControl from a parsed policy, request signatures).
  const policy = parsePolicy({
    keys: [
      { name: reader.name, publicKey: reader.publicKeyHex, roles: ['acme-readers'] },
      { name: auditor.name, publicKey: auditor.publicKeyHex, roles: ['auditors'] },
    ],
    roles: { 'acme-readers': { kind: 'reader', scope: 'entry.tenant == "acme"' }, auditors: { kind: 'auditor' } },
  });
  if (!policy.ok) throw new Error(JSON.stringify(policy.errors));
  policed = await startHttpServer(peer, { host: '127.0.0.1', port: 0, auth: { policy: policy.policy } } as never);
  trust = trustOf(c.genesis);
  const [a, b] = c.clients;
  t0 = Date.now() - 60_000;
  const entries: AuditEntry[] = [];
  for (let i = 0; i < 12; i++) {
    const acme = i % 2 === 0;
    entries.push(
      entryOf(acme ? a! : b!, {
        actor: acme ? 'alice' : i % 3 === 0 ? 'carol' : 'bob',
        action: i % 4 === 0 ? 'db.table.drop' : 'db.query',
        type: 'table',
        id: acme ? 'payments' : 'orders',
        tenant: acme ? 'acme' : 'globex',
        timeMs: t0 + i * 1000,
        data: { before: { rows: i }, after: { rows: i + 1 } },
      }),
    );
  }
  // carol works for both tenants; 'globex-only' actor appears only in globex entries
  entries.push(entryOf(a!, { actor: 'carol', action: 'user.login', type: 'user', id: 'carol', tenant: 'acme', timeMs: t0 + 20_000 }));
  entries.push(entryOf(b!, { actor: 'zoe', action: 'user.login', type: 'user', id: 'zoe', tenant: 'globex', timeMs: t0 + 21_000 }));
  const idx = await submitFinal(open.url, entries);
  idx.forEach((n, i) => byIndex.set(n, entries[i]!));
}, 120_000);

afterAll(async () => {
  await open?.close();
  await gated?.close();
  await policed?.close();
  await c?.close();
});

/** Log indexes of our entries matching `pred`, oldest first. */
function expected(pred: (e: AuditEntry) => boolean): number[] {
  return [...byIndex.entries()].filter(([, e]) => pred(e)).map(([i]) => i).sort((x, y) => x - y);
}

async function sdkAll(client: CairnClient, f: SearchFilter, order: 'oldest' | 'newest', limit = 3): Promise<number[]> {
  const out: number[] = [];
  for await (const p of client.search(f, { trust, verifier: nodeVerifier, order, limit })) {
    expect(p.verified).toBe(true);
    out.push(...p.results.map((r) => r.index));
  }
  return out;
}

describe('search and history on a real peer', () => {
  it('filters by actor, resource, action prefix, time and tenant; every page verifies with the SDK', async () => {
    const client = new CairnClient({ url: open.url });
    const cases: [SearchFilter, (e: AuditEntry) => boolean][] = [
      [{ actor: 'alice' }, (e) => e.actor.id === 'alice'],
      [{ resourceType: 'table', resourceId: 'orders' }, (e) => e.resource.id === 'orders'],
      [{ actionPrefix: 'db.table.' }, (e) => e.action.startsWith('db.table.')],
      [{ action: 'user.login' }, (e) => e.action === 'user.login'],
      [{ tenant: 'globex', actor: 'carol' }, (e) => e.tenant === 'globex' && e.actor.id === 'carol'],
      [{ fromMs: t0 + 3000, toMs: t0 + 8000 }, (e) => Date.parse(e.time) >= t0 + 3000 && Date.parse(e.time) < t0 + 8000],
    ];
    for (const [f, pred] of cases) {
      const want = expected(pred);
      expect(want.length, JSON.stringify(f)).toBeGreaterThan(0);
      expect(await sdkAll(client, f, 'oldest'), JSON.stringify(f)).toEqual(want);
      expect(await sdkAll(client, f, 'newest', 2), JSON.stringify(f)).toEqual([...want].reverse());
    }
  }, 60_000);

  it('pages with cursors return each entry exactly once, pinned to one checkpoint while the log grows', async () => {
    const want = expected((e) => e.action.startsWith('db.'));
    const first = await call(`${open.url}/v1/search?action=db.*&order=oldest&limit=2`);
    expect(first.status).toBe(200);
    // The log grows between pages: the next pages stay on the first page's checkpoint.
    const late = entryOf(c.clients[0]!, { actor: 'alice', action: 'db.query', type: 'table', id: 'payments', tenant: 'acme' });
    const more = await submitFinal(open.url, [late]);
    byIndex.set(more[0]!, late);
    const seen: number[] = [];
    let page = first.json;
    for (let n = 0; n < 50; n++) {
      const d = decodePage(page);
      expect(d.ok).toBe(true);
      if (!d.ok) return;
      expect(d.page.checkpoint).toBe(first.json.checkpoint);
      const v = verifySearchAnswer(trust, { ...d.page, filter: { actionPrefix: 'db.' } }, { verifier: nodeVerifier });
      expect(v.ok, JSON.stringify(v)).toBe(true);
      seen.push(...d.page.results.map((r) => r.index));
      if (d.page.next === undefined) break;
      const r = await call(`${open.url}/v1/search?action=db.*&limit=2&cursor=${d.page.next}`);
      expect(r.status, r.text).toBe(200);
      page = r.json;
    }
    expect(seen).toEqual(want);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).not.toContain(more[0]);
  }, 60_000);

  it('history of a resource in log order, verified, with field-level changes', async () => {
    const want = expected((e) => e.resource.type === 'table' && e.resource.id === 'payments');
    const r = await call(`${open.url}/v1/resources/table/payments/history?limit=4`);
    expect(r.status, r.text).toBe(200);
    expect(r.json.order).toBe('oldest');
    expect(r.json.steps).toHaveLength(r.json.results.length);
    expect(r.json.steps[0].changes).toEqual([{ op: 'replace', path: '/rows', old: 0, new: 1 }]);
    const client = new CairnClient({ url: open.url });
    const got: number[] = [];
    for await (const p of client.history('table', 'payments', { trust, verifier: nodeVerifier, limit: 4 })) {
      expect(p.verified).toBe(true);
      got.push(...p.results.map((x) => x.index));
    }
    expect(got).toEqual(want);
  }, 60_000);

  it('refuses bad input with stable codes', async () => {
    const bad: [string, number, string, string?][] = [
      ['/v1/search?limit=0', 400, 'bad_request', 'limit'],
      ['/v1/search?limit=1001', 400, 'bad_request', 'limit'],
      ['/v1/search?limit=abc', 400, 'bad_request', 'limit'],
      ['/v1/search?order=sideways', 400, 'bad_request', 'order'],
      ['/v1/search?nope=1', 400, 'bad_request', 'nope'],
      ['/v1/search?actor=a&actor=b', 400, 'bad_request', 'actor'],
      ['/v1/search?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', 400, 'bad_request'],
      ['/v1/search?from=yesterday', 400, 'bad_request'],
      ['/v1/search?action=*', 400, 'bad_request'],
      [`/v1/search?actor=${'a'.repeat(300)}`, 400, 'bad_request'],
      [`/v1/search?actor=${'a'.repeat(5000)}`, 400, 'bad_request'],
      ['/v1/search?cursor=not-a-cursor!', 400, 'cursor_malformed'],
      [`/v1/search?cursor=${'A'.repeat(500)}`, 400, 'cursor_malformed', 'cursor'],
      ['/v1/search?timeout=5s', 400, 'bad_request', 'timeout'],
      ['/v1/search?newer=-1', 400, 'bad_request', 'newer'],
      ['/v1/search?newer=1&timeout=10m', 400, 'bad_request', 'timeout'],
      ['/v1/resources/table/payments/history?order=newest', 400, 'bad_request', 'order'],
      ['/v1/resources/table/payments/history?limit=0', 400, 'bad_request', 'limit'],
    ];
    for (const [path, status, code, field] of bad) {
      const r = await call(`${open.url}${path}`);
      expect(r.status, path).toBe(status);
      expect(r.json.error.code, path).toBe(code);
      if (field !== undefined) expect(r.json.error.field, path).toBe(field);
    }
    // Cursors: tampered, and one of another query.
    const p = await call(`${open.url}/v1/search?actor=alice&limit=1`);
    const cur: string = p.json.next;
    const flipped = cur.slice(0, 30) + (cur[30] === 'A' ? 'B' : 'A') + cur.slice(31);
    expect((await call(`${open.url}/v1/search?actor=alice&cursor=${flipped}`)).json.error.code).toBe('cursor_tampered');
    expect((await call(`${open.url}/v1/search?actor=bob&cursor=${cur}`)).json.error.code).toBe('cursor_mismatch');
    const m = await call(`${open.url}/v1/search`, { method: 'POST' });
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('GET');
  }, 60_000);

  it('newer=<size> long-polls until a larger final checkpoint, or answers at the timeout', async () => {
    const size = (await call(`${open.url}/v1/search?limit=1`)).json.treeSize as number;
    const t = Date.now();
    const idle = await call(`${open.url}/v1/search?actor=nobody&newer=${size}&timeout=300ms`);
    expect(idle.status).toBe(200);
    expect(idle.json.treeSize).toBe(size);
    expect(Date.now() - t).toBeGreaterThanOrEqual(250);
    const poll = call(`${open.url}/v1/search?actor=dave&newer=${size}&timeout=20s`);
    await new Promise((r) => setTimeout(r, 200));
    const dave = entryOf(c.clients[0]!, { actor: 'dave', action: 'db.query', type: 'table', id: 'payments', tenant: 'acme' });
    const [n] = await submitFinal(open.url, [dave]);
    byIndex.set(n!, dave);
    const r = await poll;
    expect(r.status).toBe(200);
    expect(r.json.treeSize).toBeGreaterThan(size);
    expect(r.json.results.map((x: { index: number }) => x.index)).toEqual([n]);
  }, 60_000);
});

describe('access gate', () => {
  const as = (who: string | undefined) => (who === undefined ? {} : { headers: { 'x-test-who': who } });

  it('a reader scoped to acme never gets a globex entry, on any page, and is recorded', async () => {
    const client = new CairnClient({ url: gated.url, headers: { 'x-test-who': 'acme' } });
    const all: number[] = [];
    for await (const p of client.search({}, { trust, verifier: nodeVerifier, order: 'oldest', limit: 2 })) {
      for (const e of p.entries) expect(e.tenant).toBe('acme');
      all.push(...p.results.map((r) => r.index));
    }
    expect(all).toEqual(expected((e) => e.tenant === 'acme'));
    records.length = 0;
    const r = await call(`${gated.url}/v1/search?tenant=acme&actor=alice&order=oldest`, as('acme'));
    expect(r.status).toBe(200);
    expect(r.json.plan.streams).toContain('scope:tenant');
    expect(records).toEqual([{ actor: 'key:acme', action: 'cairn.read.search', resource: { type: 'query', id: 'search?actor=alice&tenant=acme&order=oldest' } }]);
  }, 60_000);

  it('for the scoped reader a query matching only globex looks exactly like an empty result', async () => {
    const strip = (j: { filter: unknown }) => ({ ...j, filter: null });
    const pairs: [string, string][] = [
      ['tenant=globex', 'tenant=initech'],
      ['actor=zoe', 'actor=nobody'],
      ['resource.type=table&resource.id=orders', 'resource.type=table&resource.id=nothing'],
    ];
    for (const [onlyGlobex, nothing] of pairs) {
      for (const extra of ['', '&limit=1', '&order=oldest&limit=1']) {
        const a = await call(`${gated.url}/v1/search?${onlyGlobex}${extra}`, as('acme'));
        const b = await call(`${gated.url}/v1/search?${nothing}${extra}`, as('acme'));
        expect(a.status).toBe(200);
        expect(a.json.results).toEqual([]);
        expect(a.json.next).toBeUndefined();
        expect(strip(a.json)).toEqual(strip(b.json));
      }
      // The full-scope auditor does see them (so the query does match entries).
      const seen = await call(`${gated.url}/v1/search?${onlyGlobex}`, as('auditor'));
      expect(seen.json.results.length).toBeGreaterThan(0);
    }
    const h = await call(`${gated.url}/v1/resources/table/orders/history`, as('acme'));
    const h0 = await call(`${gated.url}/v1/resources/table/nothing/history`, as('acme'));
    expect(h.json.results).toEqual([]);
    expect(strip(h.json)).toEqual(strip(h0.json));
  }, 60_000);

  it('401 without credentials, 403 without the action, 503 when the read cannot be recorded; cursors bound to the scope', async () => {
    const anon = await call(`${gated.url}/v1/search?actor=alice`);
    expect(anon.status).toBe(401);
    expect(anon.json.error.code).toBe('unauthenticated');
    const op = await call(`${gated.url}/v1/resources/table/payments/history`, as('operator'));
    expect(op.status).toBe(403);
    gateState.recordFails = true;
    try {
      const r = await call(`${gated.url}/v1/search?actor=alice`, as('acme'));
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('unavailable');
      expect(r.text).not.toContain('results');
    } finally {
      gateState.recordFails = false;
    }
    const p = await call(`${gated.url}/v1/search?actor=alice&limit=1`, as('acme'));
    expect(p.json.next).toBeDefined();
    const other = await call(`${gated.url}/v1/search?actor=alice&limit=1&cursor=${p.json.next}`, as('auditor'));
    expect(other.json.error.code).toBe('cursor_mismatch');
  }, 60_000);
});

describe("the peer's policy gate", () => {
  it('a reader scoped to acme: only acme results, a globex-only query answers exactly like an empty one; anonymous gets 401', async () => {
    const all = await signedCall(`${policed.url}/v1/search?order=oldest&limit=1000`, reader);
    expect(all.status, all.text).toBe(200);
    const got = (all.json.results as { index: number }[]).map((r) => r.index);
    expect(got).toEqual(expected((e) => e.tenant === 'acme'));
    for (const [onlyGlobex, nothing] of [
      ['tenant=globex', 'tenant=initech'],
      ['actor=zoe&limit=1', 'actor=nobody&limit=1'],
    ]) {
      const a = await signedCall(`${policed.url}/v1/search?${onlyGlobex}`, reader);
      const b = await signedCall(`${policed.url}/v1/search?${nothing}`, reader);
      expect(a.status).toBe(200);
      expect(a.json.results).toEqual([]);
      expect({ ...a.json, filter: null }).toEqual({ ...b.json, filter: null });
      expect((await signedCall(`${policed.url}/v1/search?${onlyGlobex}`, auditor)).json.results.length).toBeGreaterThan(0);
    }
    const anon = await call(`${policed.url}/v1/search?actor=alice`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBeTruthy();
  }, 60_000);
});

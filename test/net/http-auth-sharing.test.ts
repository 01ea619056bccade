// The gate with the genesis sharing mode and the meta-audit log, on two real peers (libp2p and
// LevelDB on 127.0.0.1 / temp dirs). In own-clients mode org0's peer serves only entries of the
// clients org0 vouches for, even to its own auditor; a consortium auditor named in the genesis
// reads everything (entries and bundles) on it. Restricted reads and denials become final
// cairn.read.* / cairn.auth.denied entries signed by org0's meta-audit client; with
// metaAudit.failClosed a full queue makes restricted reads answer 503 with no content.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy, type Policy } from '../../node/auth/index.js';
import { startHttpServer, type HttpServer } from '../../node/http/server.js';
import { openMetaAudit, type MetaAudit } from '../../node/meta-audit/index.js';
import { buildGenesis, type Genesis } from '../../node/peer/genesis.js';
import { startPeer, type Peer } from '../../node/peer/peer.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { makeClients, makeOrgs, type ClientFixture, type OrgFixture } from '../peer-support/fixtures.js';
import { entriesOf, metaAuditClients, until } from '../peer-support/meta-audit.js';
import { call } from './helpers/http-cluster.js';
import { leafHashHex, observable, signedCall, testKey } from './helpers/auth-peer.js';
import { signEntry } from '../../src/entry/index.js';

const auditor = testKey('local-auditor');
const external = testKey('ext-auditor');
let orgs: OrgFixture[];
let clients: ClientFixture[];
let ma: ClientFixture[];
let genesis: Genesis;
const dirs: string[] = [];
const peers: Peer[] = [];
const servers: HttpServer[] = [];
const audits: MetaAudit[] = [];
let policy: Policy;
let url: string;
let own: AuditEntry;
let other: AuditEntry;

async function tempDir(label: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `cairn-${label}-`));
  dirs.push(d);
  return d;
}

function entryOf(c: ClientFixture, id: string): AuditEntry {
  return signEntry({ v: 1, id, time: new Date().toISOString(), tenant: 'acme', actor: { id: 'u' }, action: 'db.query', resource: { type: 'table', id: 't' }, outcome: 'success' }, c.signer);
}

beforeAll(async () => {
  orgs = await makeOrgs(2, 'share');
  clients = makeClients(2, 'shareclient');
  ma = metaAuditClients(orgs);
  // Client i is vouched by org i mod 2: shareclient0 and org0's meta-audit client by org0.
  genesis = buildGenesis({
    origin: 'cairn.example/sharing',
    validators: orgs.map((o) => ({ name: o.name, verifierKey: o.verifierKey, peerId: o.peerId, addrs: [`/ip4/127.0.0.1/tcp/${o.port}`] })),
    clients: [...clients, ...ma].map((c, i) => ({ name: c.name, publicKey: c.publicKeyHex, vouchedBy: orgs[i % 2]!.name })),
    limits: { timeouts: { proposeMs: 1500, prevoteMs: 500, precommitMs: 500, deltaMs: 250 }, blockIntervalMs: 20 },
    sharing: 'own-clients',
    auditors: [{ name: 'ext-auditor', publicKey: external.publicKeyHex }],
  });
  for (let i = 0; i < 2; i++) {
    const o = orgs[i]!;
    peers.push(await startPeer({ genesis, signingSeed: o.seed, p2pKey: o.p2pKey, dataDir: await tempDir(`share${i}`), listen: [`/ip4/127.0.0.1/tcp/${o.port}`] }));
  }
  const p = parsePolicy({ keys: [{ name: auditor.name, publicKey: auditor.publicKeyHex, roles: ['auditors'] }], roles: { auditors: { kind: 'auditor' } } });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  policy = p.policy;
  const audit = await openMetaAudit({ peer: peers[0]!, dir: await tempDir('ma'), seed: ma[0]!.seed, limits: { coalesceWindowMs: 50, pollMs: 50 } });
  audits.push(audit);
  const s = await startHttpServer(peers[0]!, { host: '127.0.0.1', port: 0, auth: { policy }, metaAudit: audit });
  servers.push(s);
  url = s.url;
  own = entryOf(clients[0]!, `own-${Date.now()}`);
  other = entryOf(clients[1]!, `other-${Date.now()}`);
  expect((await peers[0]!.submit([own, other])).map((r) => ('status' in r ? r.status : r.error.code))).toEqual(['accepted', 'accepted']);
  await until('entries final', () => peers[0]!.status().finalSize >= 2, 60_000, () => JSON.stringify(peers[0]!.status().consensus));
}, 120_000);

afterAll(async () => {
  for (const s of servers) await s.close();
  for (const a of audits) await a.close().catch(() => undefined);
  for (const p of peers) await p.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('own-clients sharing', () => {
  it("the peer's own auditor reads its organization's clients' entries; another organization's entry looks absent", async () => {
    expect((await signedCall(`${url}/v1/entries/${leafHashHex(own)}`, auditor)).status).toBe(200);
    const hidden = await signedCall(`${url}/v1/entries/${leafHashHex(other)}`, auditor);
    const missing = await signedCall(`${url}/v1/entries/${'cd'.repeat(32)}`, auditor);
    expect(hidden.status).toBe(404);
    expect(observable(hidden)).toEqual(observable(missing));
    const bundle = await signedCall(`${url}/tile/entries/000.p/2`, auditor);
    expect(bundle.status).toBe(403);
    expect(bundle.json.error.reason).toBe('full_scope_required');
  });

  it('a consortium auditor from the genesis reads every entry and the bundles on this peer', async () => {
    const key = { ...external, name: 'consortium.ext-auditor' };
    const r = await signedCall(`${url}/v1/entries/${leafHashHex(other)}`, key);
    expect(r.status, r.text).toBe(200);
    expect(r.json.entry).toEqual(other);
    expect((await signedCall(`${url}/tile/entries/000.p/2`, key)).status).toBe(200);
    const who = await signedCall(`${url}/v1/auth/whoami`, key);
    expect(who.json).toMatchObject({ principal: 'key:consortium.ext-auditor', scope: 'full', sharing: 'own-clients' });
  });
});

describe('meta-audit', () => {
  it('a restricted read and a denial become final meta-audit entries naming the principal', async () => {
    expect((await signedCall(`${url}/v1/entries/${leafHashHex(own)}`, auditor)).status).toBe(200);
    expect((await call(`${url}/v1/status`)).status).toBe(401);
    const find = async () => (await entriesOf(peers[0]!, ma[0]!.publicKeyHex)).filter((e) => e.actor.id === 'key:local-auditor' || e.action === 'cairn.auth.denied');
    await until('meta-audit entries final', async () => {
      const es = await find();
      return es.some((e) => e.action === 'cairn.read.entry' && e.outcome === 'success') && es.some((e) => e.action === 'cairn.auth.denied' && e.actor.id === 'anonymous');
    }, 60_000, () => JSON.stringify(audits[0]!.stats()));
    const es = await find();
    const read = es.find((e) => e.action === 'cairn.read.entry' && e.outcome === 'success')!;
    expect(read.actor.id).toBe('key:local-auditor');
    expect(JSON.stringify(read)).toContain(leafHashHex(own));
    const denied = es.find((e) => e.action === 'cairn.auth.denied' && e.actor.id === 'anonymous')!;
    expect(denied.reason).toBe('credentials_missing');
    expect(denied.resource).toEqual({ type: 'route', id: 'GET /v1/status' });
    // The concealed read of another organization's entry is recorded too (reason only in the record).
    expect(es.some((e) => e.outcome === 'denied' && e.reason === 'out_of_scope')).toBe(true);
  });

  it('failClosed: when the meta-audit queue is full, restricted reads answer 503 unavailable and no content', async () => {
    const fc = parsePolicy({ keys: [{ name: auditor.name, publicKey: auditor.publicKeyHex, roles: ['auditors'] }], roles: { auditors: { kind: 'auditor' } }, metaAudit: { failClosed: true } });
    if (!fc.ok) throw new Error(JSON.stringify(fc.errors));
    // A queue with room for one record and no pump: the second distinct read finds it full.
    const full = await openMetaAudit({ peer: peers[0]!, dir: await tempDir('ma-full'), seed: ma[0]!.seed, failClosed: true, pump: false, limits: { maxRecords: 1, coalesceResourcesMax: 1 } });
    audits.push(full);
    const s = await startHttpServer(peers[0]!, { host: '127.0.0.1', port: 0, auth: { policy: fc.policy }, metaAudit: full });
    servers.push(s);
    const first = await signedCall(`${s.url}/v1/entries/${leafHashHex(own)}`, auditor);
    expect(first.status).toBe(200);
    const second = await signedCall(`${s.url}/v1/entries/${leafHashHex(other)}`, { ...external, name: 'consortium.ext-auditor' });
    const third = await signedCall(`${s.url}/tile/entries/000.p/2`, { ...external, name: 'consortium.ext-auditor' });
    for (const r of [second, third]) {
      expect(r.status, r.text).toBe(503);
      expect(r.json.error.code).toBe('unavailable');
      expect(r.headers.get('retry-after')).not.toBeNull();
      expect(r.text).not.toContain('acme');
    }
  });
});

// The agent against a real in-process peer (libp2p, LevelDB, the HTTP API on 127.0.0.1): JSON events
// and OTLP logs become final entries with the documented mapping; the intake answers only after the
// spool write; duplicates and conflicting ids; a full spool answers 503 spool_full and drops
// nothing; an unreachable first peer fails over; events that waited longer than the genesis
// maxClockSkewMs are re-signed with a fresh time under the same id and logged once.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../node/http/server.js';
import { startAgent, type Agent } from '../../node/agent/index.js';
import { fetchAgentStatus } from '../../node/cli/agent.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { makeCluster, type Cluster } from '../peer-support/cluster.js';
import { freePort, makeClients } from '../peer-support/fixtures.js';
import { entriesOf, until } from '../peer-support/meta-audit.js';

const agentClient = makeClients(1, 'agent-peer')[0]!;
let c: Cluster;
let http: HttpServer | null = null;
let port: number;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  // One organization (quorum 1) and a 3 s clock-skew window, so the re-timing case is quick.
  c = await makeCluster(1, { label: 'agpeer', extraClients: () => [agentClient], limits: { maxClockSkewMs: 3_000 } });
  await c.start(0);
  port = await freePort();
  http = await startHttpServer(c.peers[0]!, { host: '127.0.0.1', port });
});
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});
afterAll(async () => {
  await http?.close();
  await c?.close();
});

async function agentWith(peers: string[], limits: Record<string, number> = {}): Promise<Agent> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-agent-'));
  const agent = await startAgent({ spoolDir: join(dir, 'spool'), signer: agentClient.signer, peers, listen: { host: '127.0.0.1', port: 0 }, limits: { checkFirstMs: 100, ...limits } });
  cleanups.push(async () => {
    await agent.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return agent;
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function logged(): Promise<Map<string, AuditEntry[]>> {
  const m = new Map<string, AuditEntry[]>();
  for (const e of await entriesOf(c.peers[0]!, agentClient.publicKeyHex)) m.set(e.id, [...(m.get(e.id) ?? []), e]);
  return m;
}

describe('cairn agent with a real peer', () => {
  it('JSON events and OTLP logs become final entries with the documented mapping (~5 s)', async () => {
    const agent = await agentWith([`http://127.0.0.1:${port}`]);
    const one = await post(agent.url!, '/v1/events', { id: 'evt-one', actor: { id: 'alice', type: 'user' }, action: 'db.query', resource: { type: 'db.table', id: 'payments' }, outcome: 'success', data: { rows: 3 } });
    expect(one).toEqual({ status: 200, body: { id: 'evt-one', status: 'spooled' } });
    // Answered only once durable: the spool already holds it.
    expect(agent.status().counters.accepted).toBe(1);
    const many = await post(agent.url!, '/v1/events', [
      { actor: { id: 'bob' }, action: 'file.read', resource: { type: 'file', id: '/etc/hosts' } },
      { id: 'evt-one', actor: { id: 'alice', type: 'user' }, action: 'db.query', resource: { type: 'db.table', id: 'payments' }, outcome: 'success', data: { rows: 3 } },
    ]);
    expect(many.status).toBe(200);
    const results = many.body.results as { id: string; status: string }[];
    expect(results[0]!.id).toMatch(/^ag-[0-9a-f]{16}-\d+$/);
    expect(results[1]).toEqual({ id: 'evt-one', status: 'duplicate' });
    // The same id with other content is refused whole.
    const clash = await post(agent.url!, '/v1/events', { id: 'evt-one', actor: { id: 'mallory' }, action: 'db.query', resource: { type: 'db.table', id: 'payments' } });
    expect(clash.status).toBe(409);
    expect((clash.body.error as { code: string }).code).toBe('event_conflict');
    const bad = await post(agent.url!, '/v1/events', [{ actor: { id: 'x' }, action: 'NOT AN ACTION', resource: { type: 't', id: '1' } }]);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_event', field: '[0].action' });

    const otlpBody = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'billing' } }] },
          scopeLogs: [
            {
              scope: { name: 'billing.audit' },
              logRecords: [
                {
                  timeUnixNano: String(BigInt(Date.now()) * 1_000_000n + 123n),
                  severityNumber: 9,
                  severityText: 'INFO',
                  eventName: 'invoice.approve',
                  body: { stringValue: 'invoice 77 approved' },
                  traceId: '5b8efff798038103d269b633813fc60c',
                  attributes: [
                    { key: 'enduser.id', value: { stringValue: 'carol' } },
                    { key: 'cairn.resource.type', value: { stringValue: 'invoice' } },
                    { key: 'cairn.resource.id', value: { stringValue: '77' } },
                    { key: 'event.outcome', value: { stringValue: 'success' } },
                    { key: 'client.address', value: { stringValue: '192.0.2.7' } },
                    { key: 'amount', value: { intValue: '1200' } },
                  ],
                },
                { severityText: 'WARN', body: { stringValue: 'no event name' } },
              ],
            },
          ],
        },
      ],
    };
    expect(await post(agent.url!, '/v1/logs', otlpBody)).toEqual({ status: 200, body: {} });

    await until('4 entries final', async () => (await logged()).size >= 4 && agent.status().spool.events === 0, 30_000, () => JSON.stringify(agent.status()));
    const log = await logged();
    expect([...log.values()].every((l) => l.length === 1)).toBe(true);
    expect(log.size).toBe(4);
    expect(log.get('evt-one')![0]).toMatchObject({ actor: { id: 'alice', type: 'user' }, action: 'db.query', outcome: 'success', data: { rows: 3 } });
    expect(log.get(results[0]!.id)![0]).toMatchObject({ actor: { id: 'bob' }, action: 'file.read', outcome: 'unknown' });
    const otel = [...log.values()].map((l) => l[0]!).filter((e) => e.id.startsWith('otel-'));
    expect(otel).toHaveLength(2);
    const inv = otel.find((e) => e.action === 'invoice.approve')!;
    expect(inv).toMatchObject({
      actor: { id: 'carol', type: 'user' },
      resource: { type: 'invoice', id: '77' },
      outcome: 'success',
      source: { ip: '192.0.2.7' },
      requestId: '5b8efff798038103d269b633813fc60c',
      data: { body: 'invoice 77 approved', severityText: 'INFO', attributes: { amount: 1200 }, resource: { 'service.name': 'billing' }, scope: 'billing.audit' },
    });
    expect(inv.time).toMatch(/\.\d{3}000123Z$/);
    expect(otel.find((e) => e !== inv)).toMatchObject({ actor: { id: 'billing', type: 'service' }, action: 'otel.log.warn', resource: { type: 'service', id: 'billing' } });

    const st = await fetchAgentStatus({ url: agent.url! });
    expect(st.counters).toMatchObject({ accepted: 4, duplicates: 1, final: 4, conflicts: 0 });
    const metrics = await (await fetch(agent.url + '/metrics')).text();
    expect(metrics).toMatch(/^cairn_agent_final_total 4$/m);
    expect(metrics).toMatch(/^cairn_agent_spool_events 0$/m);

    // The same OTLP batch again after it was final (an exporter's retry): the same ids. The record
    // with its own timestamp is the same entry (known-final); the one without gets another time,
    // so the log answers conflict for its id. Neither is logged twice.
    expect((await post(agent.url!, '/v1/logs', otlpBody)).status).toBe(200);
    await until('the retry settled', () => agent.status().spool.events === 0, 30_000, () => JSON.stringify(agent.status()));
    expect(agent.status().counters).toMatchObject({ accepted: 6, final: 5, conflicts: 1 });
    const again = await logged();
    expect(again.size).toBe(4);
    expect([...again.values()].every((l) => l.length === 1)).toBe(true);
  }, 60_000);

  it('fails over from an unreachable peer; a full spool answers 503 spool_full and keeps everything it took (~5 s)', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const agent = await agentWith([dead, `http://127.0.0.1:${port}`], { spoolEventsMax: 50 });
    const ev = (i: number) => ({ id: `fo-${i}`, actor: { id: 'dave' }, action: 'api.call', resource: { type: 'endpoint', id: `e${i}` } });
    // 50 fit; the request that would pass spoolEventsMax is refused whole.
    expect((await post(agent.url!, '/v1/events', Array.from({ length: 40 }, (_, i) => ev(i)))).status).toBe(200);
    const full = await post(agent.url!, '/v1/events', Array.from({ length: 20 }, (_, i) => ev(40 + i)));
    if (full.status === 503) {
      expect((full.body.error as { code: string }).code).toBe('spool_full');
      expect(agent.status().counters.full).toBeGreaterThan(0);
    } else {
      // The agent may already have drained part of the spool: then the request fits.
      expect(full.status).toBe(200);
    }
    const want = full.status === 200 ? 60 : 40;
    await until('all final', async () => agent.status().counters.final >= want && agent.status().spool.events === 0, 30_000, () => JSON.stringify(agent.status()));
    const st = agent.status();
    expect(st.peers[0]!.failures).toBeGreaterThan(0);
    expect(st.peers[1]!.failures).toBe(0);
    const log = await logged();
    for (let i = 0; i < want; i++) expect(log.get(`fo-${i}`), `fo-${i}`).toHaveLength(1);
  }, 60_000);

  it('a spool that cannot drain refuses with 503 spool_full, never drops, and drains once a peer is reachable', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const agent = await agentWith([dead], { spoolEventsMax: 10 });
    const ev = (i: number) => ({ id: `sf-${i}`, actor: { id: 'erin' }, action: 'api.call', resource: { type: 'endpoint', id: `e${i}` } });
    expect((await post(agent.url!, '/v1/events', Array.from({ length: 10 }, (_, i) => ev(i)))).status).toBe(200);
    const full = await post(agent.url!, '/v1/events', ev(10));
    expect(full.status).toBe(503);
    expect(full.body.error).toMatchObject({ code: 'spool_full' });
    expect((await fetch(agent.url + '/healthz')).status).toBe(503);
    expect(agent.status().spool).toMatchObject({ events: 10, full: true });
    expect(agent.status().counters.final).toBe(0);
  }, 30_000);

  it('events that waited longer than maxClockSkewMs are re-signed with a fresh time and logged once (~8 s)', async () => {
    // The agent's only peer URL answers nothing at first; it opens after the skew window passed.
    const laterPort = await freePort();
    const agent = await agentWith([`http://127.0.0.1:${laterPort}`], { peerBackoffMaxMs: 300 });
    const ids = Array.from({ length: 30 }, (_, i) => `late-${i}`);
    expect((await post(agent.url!, '/v1/events', ids.map((id) => ({ id, actor: { id: 'frank' }, action: 'api.call', resource: { type: 'endpoint', id } })))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3_600));
    const second = await startHttpServer(c.peers[0]!, { host: '127.0.0.1', port: laterPort });
    cleanups.push(() => second.close());
    await until('re-timed entries final', async () => agent.status().spool.events === 0, 30_000, () => JSON.stringify(agent.status()));
    expect(agent.status().counters.retimed).toBe(30);
    const log = await logged();
    for (const id of ids) {
      const l = log.get(id)!;
      expect(l, id).toHaveLength(1);
      expect(typeof (l[0]!.data as Record<string, unknown>).cairnOriginalTime).toBe('string');
    }
  }, 60_000);
});

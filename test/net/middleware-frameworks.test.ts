// The API middleware on real Express and Fastify servers (127.0.0.1), recording through a real
// agent into a real in-process peer: success, failure, denied (403), unauthenticated (401) and an
// unmatched route each become the documented final entry; the adjust hook drops and changes
// events. The direct-to-peer sink (no agent) records too.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../node/http/server.js';
import { startAgent, type Agent } from '../../node/agent/index.js';
import { cairnExpress, cairnFastify, type AuditEvent, type RequestInfo } from '../../node/middleware/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { makeCluster, type Cluster } from '../peer-support/cluster.js';
import { makeClients } from '../peer-support/fixtures.js';
import { entriesOf, until } from '../peer-support/meta-audit.js';

const [agentClient, directClient] = makeClients(2, 'mw-client');
let c: Cluster;
let http: HttpServer;
let agent: Agent;
let dir: string;
let expressUrl: string;
let expressServer: import('node:http').Server;
let fastify: FastifyInstance;
let fastifyUrl: string;

// Drop health checks; tag everything else with a tenant.
const adjust = (ev: AuditEvent, info: RequestInfo): AuditEvent | null => (info.path === '/healthz' ? null : { ...ev, tenant: 'acme' });

beforeAll(async () => {
  c = await makeCluster(1, { label: 'mwpeer', extraClients: () => [agentClient!, directClient!] });
  await c.start(0);
  http = await startHttpServer(c.peers[0]!, { host: '127.0.0.1', port: 0 });
  dir = await mkdtemp(join(tmpdir(), 'cairn-mw-'));
  agent = await startAgent({ spoolDir: join(dir, 'spool'), signer: agentClient!.signer, peers: [http.url], listen: { host: '127.0.0.1', port: 0 }, limits: { checkFirstMs: 100 } });

  const app = express();
  // A stand-in for the application's authentication: X-User names the user.
  app.use((req, _res, next) => {
    const u = req.headers['x-user'];
    if (typeof u === 'string') (req as unknown as { user: unknown }).user = { id: u, name: `User ${u}` };
    next();
  });
  app.use(cairnExpress({ agent: agent.url!, flushMs: 10, adjust }));
  app.get('/healthz', (_req, res) => void res.send('ok'));
  app.get('/accounts/:id', (req, res) => {
    if ((req as unknown as { user?: unknown }).user === undefined) return void res.status(401).json({ error: 'login' });
    if (req.params.id === 'secret') return void res.status(403).json({ error: 'no' });
    res.json({ id: req.params.id });
  });
  app.post('/accounts/:id/transfers/:transferId', (_req, res) => void res.status(500).json({ error: 'boom' }));
  await new Promise<void>((r) => {
    expressServer = app.listen(0, '127.0.0.1', () => r());
  });
  expressUrl = `http://127.0.0.1:${(expressServer.address() as { port: number }).port}`;

  fastify = Fastify();
  fastify.addHook('onRequest', async (req) => {
    const u = req.headers['x-user'];
    if (typeof u === 'string') (req as unknown as { user: unknown }).user = { id: u, name: `User ${u}` };
  });
  await fastify.register(cairnFastify, { agent: agent.url!, flushMs: 10, adjust });
  fastify.get('/healthz', async () => 'ok');
  fastify.get('/accounts/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    if ((req as unknown as { user?: unknown }).user === undefined) return reply.code(401).send({ error: 'login' });
    if (id === 'secret') return reply.code(403).send({ error: 'no' });
    return { id };
  });
  fastify.post('/accounts/:id/transfers/:transferId', async (_req, reply) => reply.code(500).send({ error: 'boom' }));
  fastifyUrl = await fastify.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await fastify?.close();
  await new Promise((r) => expressServer?.close(r));
  await agent?.stop();
  await http?.close();
  await c?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function call(base: string, method: string, path: string, requestId: string, user?: string): Promise<number> {
  const headers: Record<string, string> = { 'x-request-id': requestId, 'user-agent': 'mw-test/1.0' };
  if (user !== undefined) headers['x-user'] = user;
  const res = await fetch(base + path, { method, headers, signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.status;
}

async function byRequestId(client: string, want: number): Promise<Map<string, AuditEntry>> {
  let m = new Map<string, AuditEntry>();
  await until(`${want} entries final`, async () => {
    m = new Map((await entriesOf(c.peers[0]!, client)).map((e) => [e.requestId ?? e.id, e]));
    return m.size >= want;
  }, 30_000, () => JSON.stringify(agent.status()));
  return m;
}

describe('audit middleware (Express and Fastify)', () => {
  it('records success, failure, denied and unauthenticated requests as the documented entries (~5 s)', async () => {
    for (const [fw, base] of [['ex', expressUrl], ['fa', fastifyUrl]] as const) {
      expect(await call(base, 'GET', '/accounts/42', `${fw}-success`, 'alice')).toBe(200);
      expect(await call(base, 'POST', '/accounts/42/transfers/7', `${fw}-failure`, 'alice')).toBe(500);
      expect(await call(base, 'GET', '/accounts/secret', `${fw}-denied`, 'bob')).toBe(403);
      expect(await call(base, 'GET', '/accounts/42', `${fw}-anon`)).toBe(401);
      expect(await call(base, 'GET', '/nowhere/9', `${fw}-unmatched`, 'alice')).toBe(404);
      expect(await call(base, 'GET', '/healthz', `${fw}-health`)).toBe(200);
    }
    const m = await byRequestId(agentClient!.publicKeyHex, 10);
    // Let a late health-check event (it must not exist) arrive too.
    await new Promise((r) => setTimeout(r, 300));
    const all = await entriesOf(c.peers[0]!, agentClient!.publicKeyHex);
    expect(all).toHaveLength(10);
    for (const fw of ['ex', 'fa']) {
      const common = { tenant: 'acme', source: { ip: '127.0.0.1', userAgent: 'mw-test/1.0' } };
      expect(m.get(`${fw}-success`), fw).toMatchObject({
        ...common,
        actor: { id: 'alice', type: 'user', name: 'User alice' },
        action: 'http.get.accounts',
        resource: { type: 'accounts', id: '42' },
        outcome: 'success',
        data: { method: 'GET', route: '/accounts/:id', status: 200, params: { id: '42' } },
      });
      expect(m.get(`${fw}-success`)!.reason).toBeUndefined();
      expect(m.get(`${fw}-failure`), fw).toMatchObject({
        ...common,
        actor: { id: 'alice' },
        action: 'http.post.accounts.transfers',
        resource: { type: 'transfers', id: '7' },
        outcome: 'failure',
        reason: 'HTTP 500',
        data: { route: '/accounts/:id/transfers/:transferId', status: 500, params: { id: '42', transferId: '7' } },
      });
      expect(m.get(`${fw}-denied`), fw).toMatchObject({ actor: { id: 'bob' }, action: 'http.get.accounts', resource: { type: 'accounts', id: 'secret' }, outcome: 'denied', reason: 'HTTP 403' });
      expect(m.get(`${fw}-anon`), fw).toMatchObject({ actor: { id: 'anonymous', type: 'anonymous' }, outcome: 'denied', reason: 'HTTP 401' });
      expect(m.get(`${fw}-unmatched`), fw).toMatchObject({ action: 'http.get.unmatched', resource: { type: 'http.route', id: '/nowhere/9' }, outcome: 'failure' });
      expect(m.has(`${fw}-health`)).toBe(false);
    }
  }, 60_000);

  it('sends directly to peers with the SDK when no agent runs', async () => {
    const app = Fastify();
    await app.register(cairnFastify, { peers: [http.url], signer: directClient!.signer, flushMs: 10 });
    app.get('/things/:thing', async () => ({ ok: true }));
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      expect(await call(url, 'GET', '/things/t1', 'direct-1', 'zoe')).toBe(200);
      const m = await byRequestId(directClient!.publicKeyHex, 1);
      expect(m.get('direct-1')).toMatchObject({ actor: { id: 'anonymous', type: 'anonymous' }, action: 'http.get.things', resource: { type: 'things', id: 't1' }, outcome: 'success' });
    } finally {
      await app.close();
    }
  }, 30_000);
});

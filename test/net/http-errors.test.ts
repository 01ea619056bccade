// HTTP API error paths (docs/api.md): every error status is provoked and its body's code checked.
// One peer of a 4-organization genesis runs alone: it has no quorum, so nothing it accepts ever
// becomes final and its mempool only grows — which makes "pending", "busy" and "unhealthy"
// deterministic.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEntry } from '../../src/entry/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { makeClients } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';
import type { HttpServer } from '../../node/http/server.js';
import { call, makeHttpCluster, postJson, type HttpCluster } from './helpers/http-cluster.js';

let c: HttpCluster;
let api: HttpServer;
let url: string;
const MEMPOOL_MAX = 40;

beforeAll(async () => {
  c = await makeHttpCluster(4, { label: 'httperr', limits: { maxBlockEntries: MEMPOOL_MAX, mempoolMaxEntries: MEMPOOL_MAX } });
  api = await c.startWithHttp(0);
  url = api.url;
});
afterAll(async () => {
  await c?.close();
});

const made = new Map<string, AuditEntry>();
/** Entry i of this file (the same object on every call for the same i and client). */
function entry(i: number, over: Partial<AuditEntry> = {}, client = c.clients[0]!): AuditEntry {
  const k = `${client.name}/${i}`;
  if (!made.has(k)) made.set(k, makeEntries([client], 1, `err${i}`)[0]!);
  const e = made.get(k);
  if (Object.keys(over).length === 0) return e!;
  const { sig: _s, client: _c, ...unsigned } = e!;
  return signEntry({ ...unsigned, ...over } as any, client.signer);
}

function expectError(r: { status: number; json: any }, status: number, code: string, field?: string) {
  expect(r.status, JSON.stringify(r.json)).toBe(status);
  expect(r.json?.error?.code, JSON.stringify(r.json)).toBe(code);
  expect(typeof r.json.error.message).toBe('string');
  if (field !== undefined) expect(r.json.error.field).toBe(field);
}

describe('POST /v1/entries errors', () => {
  it('202 accepted, then 200 known-pending for the same entry', async () => {
    const e = entry(1);
    const a = await postJson(`${url}/v1/entries`, e);
    expect(a.status).toBe(202);
    expect(a.json).toEqual({ status: 'accepted', leafHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const b = await postJson(`${url}/v1/entries`, e);
    expect(b.status).toBe(200);
    expect(b.json).toEqual({ status: 'known-pending', leafHash: a.json.leafHash });
  });

  it('400 malformed with the field path', async () => {
    const e = entry(2) as any;
    const r = await postJson(`${url}/v1/entries`, { ...e, actor: { id: '' } });
    expectError(r, 400, 'malformed', 'actor.id');
    const r2 = await postJson(`${url}/v1/entries`, { ...e, data: { list: [1, { x: Number.NaN }] }, extra: 1 });
    expectError(r2, 400, 'malformed');
    expect(r2.json.error.field).toBeTruthy();
  });

  it('400 invalid_json, 400 bad_request for a non-entry body or empty array', async () => {
    expectError(await postJson(`${url}/v1/entries`, '{"v":1,'), 400, 'invalid_json');
    expectError(await postJson(`${url}/v1/entries`, '{"__proto__":{"x":1}}'), 400, 'invalid_json');
    expectError(await postJson(`${url}/v1/entries`, '42'), 400, 'bad_request');
    expectError(await postJson(`${url}/v1/entries`, '"x"'), 400, 'bad_request');
    expectError(await postJson(`${url}/v1/entries`, '[]'), 400, 'bad_request');
    expectError(await call(`${url}/v1/entries`, { method: 'POST', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
  });

  it('deeply nested bodies are refused with a code, never a crash', async () => {
    // Far too deep: refused by the shape scan before JSON.parse (400 too_deep).
    const depth = 200_000;
    const arr = await postJson(`${url}/v1/entries`, '['.repeat(depth) + ']'.repeat(depth));
    expectError(arr, 400, 'too_deep');
    expect(arr.json.error.message).toContain('jsonDepthMax');
    const e = entry(13) as any;
    const nested = JSON.stringify({ ...e, data: { x: '__NEST__' } }).replace('"__NEST__"', '{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
    expectError(await postJson(`${url}/v1/entries`, nested), 400, 'too_deep');
    // Just deeper than DATA_DEPTH_MAX but within jsonDepthMax: the entry validator names the field.
    const justDeep = JSON.stringify({ ...e, data: { x: '__NEST__' } }).replace('"__NEST__"', '{"a":'.repeat(16) + '1' + '}'.repeat(16));
    const r = await postJson(`${url}/v1/entries`, justDeep);
    expectError(r, 400, 'malformed');
    expect(r.json.error.field).toMatch(/^data/);
    expect((await call(`${url}/v1/status`)).status).toBe(200);
  });

  it('400 clock_skew for an entry from another time', async () => {
    const r = await postJson(`${url}/v1/entries`, entry(3, { time: '2001-01-01T00:00:00Z' }));
    expectError(r, 400, 'clock_skew', 'time');
  });

  it('401 unknown_client for a key not in the genesis', async () => {
    const stranger = makeClients(1, 'stranger')[0]!;
    const r = await postJson(`${url}/v1/entries`, entry(4, {}, stranger));
    expectError(r, 401, 'unknown_client', 'client');
  });

  it('403 bad_signature when the signed content was changed', async () => {
    const e = entry(5);
    const r = await postJson(`${url}/v1/entries`, { ...e, action: 'db.drop' });
    expectError(r, 403, 'bad_signature', 'sig');
  });

  it('409 conflict: same (client, id), different content', async () => {
    const a = entry(6);
    expect((await postJson(`${url}/v1/entries`, a)).status).toBe(202);
    const { sig: _s, client: _c, ...unsigned } = a;
    const b = signEntry({ ...unsigned, outcome: 'failure' } as any, c.clients[0]!.signer);
    expectError(await postJson(`${url}/v1/entries`, b), 409, 'conflict', 'id');
  });

  it('413 body_too_large, 413 too_many_entries, 415 unsupported_media_type', async () => {
    const small = await startSecond({ bodyBytesMax: 4096 });
    try {
      const big = { ...entry(7), data: { blob: 'x'.repeat(8000) } };
      const r = await postJson(`${small.url}/v1/entries`, big);
      expectError(r, 413, 'body_too_large');
      expect(r.json.error.message).toContain('4096 bytes (bodyBytesMax)');
    } finally {
      await small.close();
    }
    const many = makeEntries(c.clients, 1001, 'many');
    const r2 = await postJson(`${url}/v1/entries`, many);
    expectError(r2, 413, 'too_many_entries');
    expect(r2.json.error.message).toContain('entriesPerRequestMax');
    const r3 = await call(`${url}/v1/entries`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(entry(8)) });
    expectError(r3, 415, 'unsupported_media_type');
    const r4 = await call(`${url}/v1/entries`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' });
    expectError(r4, 415, 'unsupported_media_type');
  });

  it('array: per-item results with [i]-prefixed fields; all-same-error arrays take that status', async () => {
    const good = entry(9);
    const bad = { ...entry(10), action: 'changed.action' };
    const r = await postJson(`${url}/v1/entries`, [good, bad, { v: 1 }]);
    expect(r.status).toBe(202);
    expect(r.json.results[0]).toEqual({ status: 'accepted', leafHash: expect.any(String) });
    expect(r.json.results[1].error).toMatchObject({ code: 'bad_signature', field: '[1].sig' });
    expect(r.json.results[2].error.code).toBe('malformed');
    expect(r.json.results[2].error.field).toMatch(/^\[2\]/);
    // Re-sending: the first is known, the rest fail differently -> 200.
    const again = await postJson(`${url}/v1/entries`, [good, bad]);
    expect(again.status).toBe(200);
    expect(again.json.results[0].status).toBe('known-pending');
    // Every item fails with the same code -> that status, with a summary error.
    const allBad = await postJson(`${url}/v1/entries`, [bad, { ...entry(11), action: 'other.action' }]);
    expectError(allBad, 403, 'bad_signature', '[0].sig');
    expect(allBad.json.error.message).toContain('all 2 entries rejected');
    expect(allBad.json.results).toHaveLength(2);
  });

  it('503 busy when the mempool is full (and Retry-After)', async () => {
    const size = c.peers[0]!.status().mempool.entries;
    const fill = makeEntries(c.clients, MEMPOOL_MAX - size + 2, 'fill');
    const r = await postJson(`${url}/v1/entries`, fill);
    expect(r.status).toBe(202);
    const busy = r.json.results.filter((x: any) => x.error?.code === 'busy');
    expect(busy.length).toBe(2);
    const one = await postJson(`${url}/v1/entries`, entry(12));
    expectError(one, 503, 'busy');
    expect(one.json.error.message).toContain('mempoolMaxEntries');
    expect(one.headers.get('retry-after')).toBe('1');
  });
});

describe('read errors', () => {
  it('404 entry_not_found, 400 bad hash/client/id, 404 not_final receipt of a pending entry', async () => {
    expectError(await call(`${url}/v1/entries/${'ab'.repeat(32)}`), 404, 'entry_not_found');
    expectError(await call(`${url}/v1/entries/xyz`), 400, 'bad_request', 'hash');
    expectError(await call(`${url}/v1/entries/by-id/zz/abc`), 400, 'bad_request', 'client');
    expectError(await call(`${url}/v1/entries/by-id/${'ab'.repeat(32)}/${'a'.repeat(129)}`), 400, 'bad_request', 'id');
    expectError(await call(`${url}/v1/entries/by-id/${'ab'.repeat(32)}/${'a'.repeat(300)}`), 400, 'bad_request');
    expectError(await call(`${url}/v1/entries/by-id/${'ab'.repeat(32)}/%E0%A4%A`), 400, 'bad_request');
    expectError(await call(`${url}/v1/entries/by-id/${'ab'.repeat(32)}/x`), 404, 'entry_not_found');
    const e = entry(1); // accepted earlier in this file: pending forever (no quorum)
    const got = await call(`${url}/v1/entries/by-id/${e.client}/${e.id}`);
    expect(got.status).toBe(200);
    expect(got.json.status).toBe('pending');
    expect(got.json.entry).toEqual(e);
    const rc = await call(`${url}/v1/entries/${got.json.leafHash}`, { headers: { accept: 'text/plain' } });
    expectError(rc, 404, 'not_final');
  });

  it('long-poll on a pending entry times out after the given timeout and returns its current state', async () => {
    const e = entry(1);
    const t0 = Date.now();
    const r = await call(`${url}/v1/entries/by-id/${e.client}/${e.id}?wait=final&timeout=400ms`);
    const ms = Date.now() - t0;
    expect(r.status).toBe(200);
    expect(r.json.status).toBe('pending');
    expect(ms).toBeGreaterThanOrEqual(380);
    expect(ms).toBeLessThan(3000);
    expect(Number(r.headers.get('cairn-waited-ms'))).toBeGreaterThanOrEqual(380);
    // Bad wait parameters.
    expectError(await call(`${url}/v1/entries/by-id/${e.client}/${e.id}?wait=soon`), 400, 'bad_request', 'wait');
    expectError(await call(`${url}/v1/entries/by-id/${e.client}/${e.id}?wait=final&timeout=ten`), 400, 'bad_request', 'timeout');
    const tooLong = await call(`${url}/v1/entries/by-id/${e.client}/${e.id}?wait=final&timeout=61s`);
    expectError(tooLong, 400, 'bad_request', 'timeout');
    expect(tooLong.json.error.message).toContain('waitTimeoutMsMax');
  });

  it('429 too_many_waiters and 429 too_many_requests', async () => {
    const e = entry(1);
    const second = await startSecond({ waitersMax: 1, inFlightMax: 2 });
    try {
      const slow = call(`${second.url}/v1/entries/by-id/${e.client}/${e.id}?wait=final&timeout=1500ms`);
      await new Promise((r) => setTimeout(r, 200));
      const w = await call(`${second.url}/v1/entries/by-id/${e.client}/${e.id}?wait=final&timeout=1s`);
      expectError(w, 429, 'too_many_waiters');
      expect(w.json.error.message).toContain('waitersMax');
      // Two requests in flight (the waiter and one more that waits on a slow body) -> the third is refused.
      const sock = connect(second.port, '127.0.0.1');
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write('POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
      await new Promise((r) => setTimeout(r, 200));
      const busy = await call(`${second.url}/v1/status`);
      expectError(busy, 429, 'too_many_requests');
      expect(busy.json.error.message).toContain('inFlightMax');
      sock.destroy();
      expect((await slow).json.status).toBe('pending');
    } finally {
      await second.close();
    }
  });

  it('408 request_timeout for a client that sends its request too slowly', async () => {
    const second = await startSecond({ requestTimeoutMs: 500 });
    try {
      const sock = connect(second.port, '127.0.0.1');
      let got = '';
      sock.on('data', (d) => (got += d.toString()));
      const closed = new Promise<void>((r) => sock.once('close', () => r()));
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write('POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"v"');
      await closed;
      expect(got).toMatch(/^HTTP\/1\.1 408/);
      const body = JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4));
      expect(body.error.code).toBe('request_timeout');
      expect(body.error.message).toContain('requestTimeoutMs');
    } finally {
      await second.close();
    }
  });

  it('idle sockets are closed: connectionTimeoutMs before a request, keepAliveTimeoutMs after one', async () => {
    const second = await startSecond({ waitTimeoutMsMax: 100, connectionTimeoutMs: 400, keepAliveTimeoutMs: 300 });
    try {
      const closedAfter = async (send: string | null): Promise<{ ms: number; got: string }> => {
        const sock = connect(second.port, '127.0.0.1');
        let got = '';
        sock.on('data', (d) => (got += d.toString()));
        const closed = new Promise<void>((r) => sock.once('close', () => r()));
        await new Promise<void>((r) => sock.once('connect', () => r()));
        const t0 = Date.now();
        if (send !== null) sock.write(send);
        await closed;
        return { ms: Date.now() - t0, got };
      };
      const idle = await closedAfter(null);
      expect(idle.ms).toBeGreaterThanOrEqual(300);
      expect(idle.ms).toBeLessThan(5000);
      const kept = await closedAfter('GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(kept.got).toMatch(/^HTTP\/1\.1 200/);
      expect(kept.ms).toBeGreaterThanOrEqual(250);
      expect(kept.ms).toBeLessThan(5000);
    } finally {
      await second.close();
    }
  });

  it('404 no_checkpoint, tile_not_found; 400 bad_tile_path, bad_range; 404 not_found; 405', async () => {
    expectError(await call(`${url}/checkpoint`), 404, 'no_checkpoint');
    expectError(await call(`${url}/tile/0/000`), 404, 'tile_not_found');
    expectError(await call(`${url}/tile/entries/000.p/3`), 404, 'tile_not_found');
    expectError(await call(`${url}/tile/0/000.p/256`), 400, 'bad_tile_path');
    expectError(await call(`${url}/tile/00/000`), 400, 'bad_tile_path');
    expectError(await call(`${url}/tile/0/x000/001`), 400, 'bad_tile_path');
    expectError(await call(`${url}/tile/0/${'x001/'.repeat(20)}000`), 400, 'bad_tile_path');
    expectError(await call(`${url}/v1/proofs/consistency?from=1&to=5`), 400, 'bad_range');
    expectError(await call(`${url}/v1/proofs/consistency?from=01&to=5`), 400, 'bad_request', 'from');
    expectError(await call(`${url}/v1/proofs/consistency?from=1`), 400, 'bad_request', 'to');
    expect((await call(`${url}/v1/proofs/consistency?from=0&to=0`)).json).toEqual({ from: 0, to: 0, proof: [] });
    expectError(await call(`${url}/nope`), 404, 'not_found');
    expectError(await call(`${url}/v1/entries/${'ab'.repeat(32)}/more`), 404, 'not_found');
    const m = await call(`${url}/v1/entries`);
    expectError(m, 405, 'method_not_allowed');
    expect(m.headers.get('allow')).toBe('POST');
    expectError(await call(`${url}/checkpoint`, { method: 'DELETE' }), 405, 'method_not_allowed');
  });

  it('CORS: preflight answered, every response (errors too) allows any origin', async () => {
    const pre = await call(`${url}/v1/entries`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')).toContain('content-type');
    const nf = await call(`${url}/v1/entries/${'ab'.repeat(32)}`, { headers: { origin: 'https://app.example' } });
    expect(nf.status).toBe(404);
    expect(nf.headers.get('access-control-allow-origin')).toBe('*');
    expect(nf.headers.get('access-control-expose-headers')).toContain('cairn-waited-ms');
  });

  it('503 unhealthy without a quorum; status names the problem', async () => {
    expectError(await call(`${url}/healthz`), 503, 'unhealthy');
    const s = await call(`${url}/v1/status`);
    expect(s.status).toBe(200);
    expect(s.json.problem).toBe('no quorum');
    expect(s.json.origin).toBe(c.genesis.origin);
    expect(s.json.mempool.entries).toBeGreaterThan(0);
  });

  it('403 forbidden from the read authorization hook, which sees every read', async () => {
    const seen: string[] = [];
    const second = await startSecond({}, (_req, res) => {
      seen.push(res.kind);
      return res.kind === 'status' ? { allow: true } : { allow: false, message: `no reading ${res.kind} here` };
    });
    try {
      const e = entry(1);
      expectError(await call(`${second.url}/v1/entries/by-id/${e.client}/${e.id}`), 403, 'forbidden');
      expectError(await call(`${second.url}/v1/entries/by-id/${e.client}/${e.id}`, { headers: { accept: 'text/plain' } }), 403, 'forbidden');
      expectError(await call(`${second.url}/checkpoint`), 403, 'forbidden');
      expectError(await call(`${second.url}/tile/0/000`), 403, 'forbidden');
      expectError(await call(`${second.url}/v1/proofs/consistency?from=0&to=0`), 403, 'forbidden');
      expectError(await call(`${second.url}/metrics`), 403, 'forbidden');
      expect((await call(`${second.url}/v1/status`)).status).toBe(200);
      expect(seen).toEqual(['entry', 'receipt', 'checkpoint', 'tile', 'proof', 'metrics', 'status']);
    } finally {
      await second.close();
    }
  });
});

describe('server lifecycle', () => {
  it('a port in use fails startHttpServer and leaves no listener on the peer; close is idempotent', async () => {
    const peer = c.peers[0]!;
    const before = [peer.events.listenerCount('final'), peer.events.listenerCount('block')];
    const { startHttpServer } = await import('../../node/http/server.js');
    await expect(startHttpServer(peer, { host: '127.0.0.1', port: api.port })).rejects.toThrow(/EADDRINUSE/);
    expect([peer.events.listenerCount('final'), peer.events.listenerCount('block')]).toEqual(before);
    const s = await startSecond({});
    expect(peer.events.listenerCount('final')).toBe(before[0]! + 3); // waiters + metrics + streams (one shared listener)
    await Promise.all([s.close(), s.close()]);
    expect([peer.events.listenerCount('final'), peer.events.listenerCount('block')]).toEqual(before);
  });
});

async function startSecond(limits: Partial<HttpServer['limits']>, authorizeRead?: import('../../node/http/auth.js').AuthorizeRead): Promise<HttpServer> {
  const { startHttpServer } = await import('../../node/http/server.js');
  return startHttpServer(c.peers[0]!, { host: '127.0.0.1', port: 0, limits, ...(authorizeRead ? { authorizeRead } : {}) });
}

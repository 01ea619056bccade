// Per-client and global admission limits of the HTTP API against a real peer (one peer of a
// 4-organization genesis, alone: no quorum, so entries stay pending and long-polls really wait):
// request rate and connections per address, request-body bytes in flight (global and per address),
// refusal of deep or oversized JSON before it is parsed, long-poll slots of clients that left, and
// 500 answers that reveal nothing internal.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpLimits } from '../../node/http/limits.js';
import type { HttpServer, HttpServerOptions } from '../../node/http/server.js';
import { DEFAULT_HTTP_LIMITS } from '../../node/http/limits.js';
import { SUBMIT_ARRAY_MAX } from '../../src/client/types.js';
import { SUBMIT_BYTES_PER_ENTRY } from '../../src/entry/limits.js';
import { makeEntries } from '../peer-support/cluster.js';
import { call, makeHttpCluster, postJson, type HttpCluster } from './helpers/http-cluster.js';

let c: HttpCluster;

beforeAll(async () => {
  c = await makeHttpCluster(4, { label: 'httplim' });
  await c.start(0);
});
afterAll(async () => {
  await c?.close();
});

async function server(limits: Partial<HttpLimits>, more: Partial<HttpServerOptions> = {}): Promise<HttpServer> {
  const { startHttpServer } = await import('../../node/http/server.js');
  return startHttpServer(c.peers[0]!, { host: '127.0.0.1', port: 0, limits, ...more });
}

function expectError(r: { status: number; json: any; headers?: Headers }, status: number, code: string) {
  expect(r.status, JSON.stringify(r.json)).toBe(status);
  expect(r.json?.error?.code, JSON.stringify(r.json)).toBe(code);
  if (status === 429 || status === 503) expect(Number(r.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

/** A raw connection: what it received, and a promise that resolves when the server closed it. */
async function rawSocket(port: number): Promise<{ sock: Socket; got: () => string; closed: Promise<void> }> {
  const sock = connect(port, '127.0.0.1');
  let got = '';
  sock.on('data', (d) => (got += d.toString()));
  sock.on('error', () => undefined);
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  await new Promise<void>((r, j) => {
    sock.once('connect', () => r());
    sock.once('error', j);
  });
  return { sock, got: () => got, closed };
}

async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, j) => (t = setTimeout(() => j(new Error(`${what}: no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

function rawStatus(got: string): { status: number; code: string; retryAfter: string | null } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0);
  const head = got.slice(0, got.indexOf('\r\n\r\n'));
  const retryAfter = /\r\nretry-after: *(\d+)/i.exec(head)?.[1] ?? null;
  const body = got.slice(got.indexOf('\r\n\r\n') + 4);
  let code = '';
  try {
    code = JSON.parse(body).error.code;
  } catch {
    code = '';
  }
  return { status, code, retryAfter };
}

describe('defaults', () => {
  it('the body limit is what a full array submission needs: SUBMIT_ARRAY_MAX x SUBMIT_BYTES_PER_ENTRY', () => {
    expect(DEFAULT_HTTP_LIMITS.bodyBytesMax).toBe(SUBMIT_ARRAY_MAX * SUBMIT_BYTES_PER_ENTRY);
    expect(DEFAULT_HTTP_LIMITS.bodyBytesMax).toBeLessThan(8 * 1024 * 1024);
    // A full batch of typical entries fits with room to spare.
    const batch = JSON.stringify(makeEntries(c.clients, SUBMIT_ARRAY_MAX, 'fit'));
    expect(Buffer.byteLength(batch)).toBeLessThan(DEFAULT_HTTP_LIMITS.bodyBytesMax / 2);
  });
});

describe('request shape, before parsing', () => {
  it('400 too_deep, 413 too_many_entries / too_many_values / body_too_large (by Content-Length, before reading)', async () => {
    const s = await server({});
    try {
      expectError(await postJson(`${s.url}/v1/entries`, '['.repeat(500_000) + ']'.repeat(500_000)), 400, 'too_deep');
      const deepData = JSON.stringify({ ...makeEntries(c.clients, 1, 'deep')[0], data: { x: '__N__' } }).replace('"__N__"', '{"a":'.repeat(40) + '1' + '}'.repeat(40));
      expectError(await postJson(`${s.url}/v1/entries`, deepData), 400, 'too_deep');
      const tooMany = await postJson(`${s.url}/v1/entries`, `[${new Array(300_000).fill('{}').join(',')}]`);
      expectError(tooMany, 413, 'too_many_entries');
      expect(tooMany.json.error.message).toContain('entriesPerRequestMax');
      expectError(await postJson(`${s.url}/v1/entries`, `[[${new Array(300_000).fill('{}').join(',')}]]`), 413, 'too_many_values');
      expectError(await postJson(`${s.url}/v1/entries`, `{"data":[${new Array(500_000).fill('0').join(',')}]}`), 413, 'too_many_values');
      // Declared too large: refused from the headers alone, the body is never sent.
      const raw = await rawSocket(s.port);
      raw.sock.write(`POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${s.limits.bodyBytesMax + 1}\r\n\r\n[`);
      await within(5000, raw.closed, 'oversized Content-Length');
      expect(rawStatus(raw.got())).toMatchObject({ status: 413, code: 'body_too_large' });
      // Chunked (no Content-Length) bodies are counted as they arrive.
      const small = await server({ bodyBytesMax: 10_000 });
      try {
        const r = await call(`${small.url}/v1/entries`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: new ReadableStream({
            start(ctl) {
              ctl.enqueue(new TextEncoder().encode('["'));
              for (let i = 0; i < 5; i++) ctl.enqueue(new TextEncoder().encode('x'.repeat(4000)));
              ctl.close();
            },
          }),
          duplex: 'half',
        } as RequestInit);
        expectError(r, 413, 'body_too_large');
      } finally {
        await small.close();
      }
      // An ordinary entry still goes through.
      expect((await postJson(`${s.url}/v1/entries`, makeEntries(c.clients, 1, 'ok')[0])).status).toBe(202);
    } finally {
      await s.close();
    }
  });
});

describe('per-address and global admission', () => {
  it('429 rate_limited once an address exhausts its request bucket, with Retry-After', async () => {
    const s = await server({ requestsPerSecondPerAddress: 5, requestBurstPerAddress: 5 });
    try {
      const rs = [];
      for (let i = 0; i < 12; i++) rs.push(await call(`${s.url}/v1/status`));
      expect(rs.slice(0, 5).every((r) => r.status === 200)).toBe(true);
      const limited = rs.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThanOrEqual(5);
      expectError(limited[0]!, 429, 'rate_limited');
      expect(limited[0]!.json.error.message).toContain('requestsPerSecondPerAddress');
      await new Promise((r) => setTimeout(r, 1100));
      expect((await call(`${s.url}/v1/status`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('429 too_many_connections per address, 503 overloaded for the total; a freed slot is reusable', async () => {
    const s = await server({ connectionsPerAddressMax: 3, connectionsMax: 100 });
    const held: Awaited<ReturnType<typeof rawSocket>>[] = [];
    try {
      for (let i = 0; i < 3; i++) held.push(await rawSocket(s.port));
      const extra = await rawSocket(s.port);
      extra.sock.write('GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n');
      await within(5000, extra.closed, 'connection over the per-address cap');
      const r = rawStatus(extra.got());
      expect(r).toMatchObject({ status: 429, code: 'too_many_connections' });
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      held.pop()!.sock.destroy();
      await new Promise((res) => setTimeout(res, 100));
      expect((await call(`${s.url}/v1/status`, { headers: { connection: 'close' } })).status).toBe(200);
    } finally {
      for (const h of held) h.sock.destroy();
      await s.close();
    }
    const t = await server({ connectionsPerAddressMax: 10, connectionsMax: 2 });
    const held2: Awaited<ReturnType<typeof rawSocket>>[] = [];
    try {
      for (let i = 0; i < 2; i++) held2.push(await rawSocket(t.port));
      const extra = await rawSocket(t.port);
      await within(5000, extra.closed, 'connection over the total cap');
      expect(rawStatus(extra.got())).toMatchObject({ status: 503, code: 'overloaded' });
    } finally {
      for (const h of held2) h.sock.destroy();
      await t.close();
    }
  });

  it('request-body bytes in flight: 503 overloaded when the global budget is full, 429 too_many_bodies per address', async () => {
    const declare = (sock: Socket, n: number) => sock.write(`POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${n}\r\n\r\n[`);
    const s = await server({ bodyBytesMax: 200_000, bodyBytesInFlightMax: 300_000, bodyBytesInFlightPerAddressMax: 1_000_000 });
    try {
      const a = await rawSocket(s.port);
      const b = await rawSocket(s.port);
      declare(a.sock, 150_000);
      declare(b.sock, 150_000);
      await new Promise((r) => setTimeout(r, 200));
      const third = await rawSocket(s.port);
      declare(third.sock, 150_000);
      await within(5000, third.closed, 'body over the global budget');
      expect(rawStatus(third.got())).toMatchObject({ status: 503, code: 'overloaded' });
      expect(rawStatus(third.got()).retryAfter).not.toBeNull();
      // A client that leaves mid-body gives its bytes back.
      a.sock.destroy();
      b.sock.destroy();
      await new Promise((r) => setTimeout(r, 200));
      expect((await postJson(`${s.url}/v1/entries`, makeEntries(c.clients, 1, 'after')[0])).status).toBe(202);
      // Nothing leaks: every reservation (refused, abandoned, served) was given back.
      await new Promise((r) => setTimeout(r, 100));
      expect(s.stats().bodyBytesInFlight).toBe(0);
    } finally {
      await s.close();
    }
    const t = await server({ bodyBytesMax: 200_000, bodyBytesInFlightMax: 10_000_000, bodyBytesInFlightPerAddressMax: 200_000 });
    try {
      const a = await rawSocket(t.port);
      declare(a.sock, 150_000);
      await new Promise((r) => setTimeout(r, 200));
      const r = await postJson(`${t.url}/v1/entries`, `[${'0,'.repeat(40_000)}0]`);
      expectError(r, 429, 'too_many_bodies');
      expect(r.json.error.message).toContain('bodyBytesInFlightPerAddressMax');
      a.sock.destroy();
    } finally {
      await t.close();
    }
  });
});

describe('long-poll slots', () => {
  it('a client that leaves during the first lookup does not keep a waiter slot', async () => {
    const e = makeEntries(c.clients, 1, 'lp')[0]!;
    expect((await postJson(`${(await server({})).url}/v1/entries`, e)).status).toBe(202);
    let slow = true;
    const s = await server({ waitersMax: 1 }, {
      // Holds the first request in its read check (before the lookup and the waiter) long enough
      // for its client to go away.
      authorizeRead: async () => {
        if (slow) {
          slow = false;
          await new Promise((r) => setTimeout(r, 300));
        }
        return { allow: true };
      },
    });
    try {
      const raw = await rawSocket(s.port);
      raw.sock.write(`GET /v1/entries/by-id/${e.client}/${e.id}?wait=final&timeout=30s HTTP/1.1\r\nHost: x\r\n\r\n`);
      await new Promise((r) => setTimeout(r, 50));
      raw.sock.destroy();
      await new Promise((r) => setTimeout(r, 600));
      const t0 = Date.now();
      const r = await within(5000, call(`${s.url}/v1/entries/by-id/${e.client}/${e.id}?wait=final&timeout=300ms`), 'second long-poll');
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.json.status).toBe('pending');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      const m = await call(`${s.url}/metrics`);
      expect(m.text).toMatch(/\ncairn_http_waiters 0\n/);
    } finally {
      await s.close();
    }
  });
});

describe('500 answers', () => {
  it('a generic message and a request id; the details (paths, errors, stack) go to the log only', async () => {
    const logged: { fields: Record<string, unknown>; msg: string }[] = [];
    const secret = "ENOENT: no such file or directory, open '/var/lib/cairn/peer0/000123.ldb'";
    const s = await server({}, {
      authorizeRead: () => {
        throw new Error(secret);
      },
      log: { error: (fields, msg) => logged.push({ fields, msg }) },
    });
    try {
      const r = await call(`${s.url}/v1/status`);
      expectError(r, 500, 'internal');
      expect(r.text).not.toContain('/var/lib');
      expect(r.text).not.toContain('ENOENT');
      expect(r.text).not.toContain('.ts:');
      expect(r.text).not.toMatch(/\bat /);
      const id = r.headers.get('cairn-request-id');
      expect(id).toMatch(/^[0-9a-f-]{8,}$/);
      expect(r.json.error.message).toContain(id);
      const line = logged.find((l) => JSON.stringify(l.fields).includes(id!));
      expect(line, JSON.stringify(logged)).toBeDefined();
      expect(JSON.stringify(line!.fields)).toContain('/var/lib/cairn/peer0/000123.ldb');
    } finally {
      await s.close();
    }
  });
});

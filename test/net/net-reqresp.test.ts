// Request/response between two real libp2p hosts on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandlerError, NetError, type PeerNetwork } from '../../node/net/index.js';
import { fromUtf8, utf8 } from '../../src/encoding/bytes.js';
import { collectGarbage } from '../unit/support/gc.js';
import { identities, startCluster, stopAll, waitFullMesh, type Identity } from './net-helpers.js';

async function failure(p: Promise<unknown>): Promise<NetError> {
  const r = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(r instanceof NetError)) throw new Error(`expected a NetError, got ${r === undefined ? 'success' : String(r)}`);
  return r;
}

describe('request/response', () => {
  let hosts: PeerNetwork[] = [];
  let ids: Identity[] = [];
  let client: PeerNetwork;
  let client2: PeerNetwork;
  let server: PeerNetwork;
  let serverId: string;
  const opts = { timeoutMs: 5_000, maxResponseBytes: 1 << 20 };
  let disconnects = 0;

  beforeAll(async () => {
    ids = await identities(3);
    hosts = await startCluster(ids, ids);
    await waitFullMesh(hosts);
    [server, client, client2] = hosts as [PeerNetwork, PeerNetwork, PeerNetwork];
    serverId = ids[0]!.peerId;
    client.onPeerDisconnect(() => disconnects++);
    server.onPeerDisconnect(() => disconnects++);
    client2.onPeerDisconnect(() => disconnects++);
    await server.handle('echo/1', async (from, req) => {
      expect(from).toBe(ids[1]!.peerId); // only `client` uses echo/1
      return Uint8Array.from(req).reverse();
    }, { maxRequestBytes: 64 * 1024, rateLimitPerSecond: 10_000, rateLimitBurst: 10_000 });
  });
  afterAll(async () => {
    await stopAll(hosts);
  });

  it('round-trips a request, including an empty one', async () => {
    expect(fromUtf8(await client.request(serverId, 'echo/1', utf8('hello'), opts))).toBe('olleh');
    expect((await client.request(serverId, 'echo/1', new Uint8Array(0), opts)).length).toBe(0);
    const big = Uint8Array.from({ length: 64 * 1024 }, (_, i) => i & 255);
    expect(await client.request(serverId, 'echo/1', big, opts)).toEqual(Uint8Array.from(big).reverse());
  });

  it('rejects an oversize request with the named limit, without hanging on a huge one', async () => {
    const e1 = await failure(client.request(serverId, 'echo/1', new Uint8Array(64 * 1024 + 1), opts));
    expect(e1.code).toBe('REQUEST_TOO_LARGE');
    expect(e1.remote).toBe(true);
    expect(e1.limit).toBe('maxRequestBytes=65536');
    // 3 MiB: far past yamux's 256 KiB window, so the server must answer without reading it all.
    const t0 = Date.now();
    const e2 = await failure(client.request(serverId, 'echo/1', new Uint8Array(3 << 20), opts));
    expect(e2.code).toBe('REQUEST_TOO_LARGE');
    expect(Date.now() - t0).toBeLessThan(4_000);
    // past the 4 MiB frame limit: refused locally before sending
    const e3 = await failure(client.request(serverId, 'echo/1', new Uint8Array((4 << 20) + 1), opts));
    expect(e3.code).toBe('REQUEST_TOO_LARGE');
    expect(e3.remote).toBe(false);
    // the server still works
    expect(fromUtf8(await client.request(serverId, 'echo/1', utf8('ab'), opts))).toBe('ba');
  });

  it('enforces the caller’s maxResponseBytes and the server’s', async () => {
    const e = await failure(client.request(serverId, 'echo/1', new Uint8Array(100), { timeoutMs: 5_000, maxResponseBytes: 10 }));
    expect(e.code).toBe('RESPONSE_TOO_LARGE');
    expect(e.limit).toBe('maxResponseBytes=10');
    expect(e.remote).toBe(false);

    await server.handle('fat/1', async () => new Uint8Array(2000), { maxResponseBytes: 1000 });
    const e2 = await failure(client.request(serverId, 'fat/1', new Uint8Array(0), opts));
    expect(e2.code).toBe('RESPONSE_TOO_LARGE');
    expect(e2.remote).toBe(true);
    expect(e2.limit).toBe('maxResponseBytes=1000');
  });

  it('turns handler exceptions into error responses, never a crash', async () => {
    let calls = 0;
    await server.handle('flaky/1', async (_from, req) => {
      calls++;
      const mode = fromUtf8(req);
      if (mode === 'throw') throw new Error('secret internal path /etc/x');
      if (mode === 'sync-throw') (null as unknown as { x: number }).x = 1;
      if (mode === 'handler-error') throw new HandlerError('NOT_FOUND', 'no such block 42');
      if (mode === 'not-bytes') return 'oops' as unknown as Uint8Array;
      return utf8('fine');
    });
    const e1 = await failure(client.request(serverId, 'flaky/1', utf8('throw'), opts));
    expect(e1.code).toBe('HANDLER_ERROR');
    expect(e1.remote).toBe(true);
    expect(e1.message).not.toContain('secret');
    const e2 = await failure(client.request(serverId, 'flaky/1', utf8('sync-throw'), opts));
    expect(e2.code).toBe('HANDLER_ERROR');
    const e3 = await failure(client.request(serverId, 'flaky/1', utf8('handler-error'), opts));
    expect(e3.code).toBe('HANDLER_ERROR');
    expect(e3.remoteCode).toBe('NOT_FOUND');
    expect(e3.message).toContain('no such block 42');
    const e4 = await failure(client.request(serverId, 'flaky/1', utf8('not-bytes'), opts));
    expect(e4.code).toBe('HANDLER_ERROR');
    expect(fromUtf8(await client.request(serverId, 'flaky/1', utf8('ok'), opts))).toBe('fine');
    expect(calls).toBe(5);
  });

  it('times out a slow handler on the server and a slow exchange on the client', async () => {
    await server.handle('slow/1', async (_f, req, signal) => {
      const ms = Number(fromUtf8(req));
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        });
      });
      return utf8('late');
    }, { handlerTimeoutMs: 300 });
    const e1 = await failure(client.request(serverId, 'slow/1', utf8('2000'), opts));
    expect(e1.code).toBe('HANDLER_TIMEOUT');
    expect(e1.limit).toBe('handlerTimeoutMs=300');
    const e2 = await failure(client.request(serverId, 'slow/1', utf8('250'), { timeoutMs: 100, maxResponseBytes: 100 }));
    expect(e2.code).toBe('TIMEOUT');
    expect(e2.limit).toBe('timeoutMs=100');
  });

  it('times a request out although garbage is collected while it waits', async () => {
    // A server that holds its answer far past the caller's deadline. The deadline must not be
    // lost to a collection (see node/net/deadline.ts): the caller gets TIMEOUT near its time.
    await server.handle('stall/1', async (_from, _req, signal) => {
      await new Promise((r) => {
        const t = setTimeout(r, 4_000);
        signal.addEventListener('abort', () => (clearTimeout(t), r(undefined)), { once: true });
      });
      return utf8('late');
    }, { handlerTimeoutMs: 10_000 });
    const t0 = Date.now();
    const pending = failure(client.request(serverId, 'stall/1', new Uint8Array(0), { timeoutMs: 200, maxResponseBytes: 100 }));
    await collectGarbage(8, 25);
    const e = await pending;
    expect(e.code).toBe('TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('rate-limits each peer with a token bucket and names the limit', async () => {
    await server.handle('limited/1', async () => utf8('ok'), { rateLimitPerSecond: 0.01, rateLimitBurst: 5 });
    const results: string[] = [];
    for (let i = 0; i < 8; i++) {
      results.push(
        await client.request(serverId, 'limited/1', new Uint8Array(0), opts).then(
          () => 'ok',
          (e: NetError) => `${e.code} ${e.limit}`,
        ),
      );
    }
    expect(results.slice(0, 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(results.slice(5)).toEqual(Array(3).fill('RATE_LIMITED rateLimitPerSecond=0.01,rateLimitBurst=5'));
    // The bucket is per peer: another peer is unaffected.
    expect(fromUtf8(await client2.request(serverId, 'limited/1', new Uint8Array(0), opts))).toBe('ok');
  });

  it('refills the bucket over time', async () => {
    await server.handle('refill/1', async () => utf8('ok'), { rateLimitPerSecond: 2, rateLimitBurst: 1 });
    expect(fromUtf8(await client.request(serverId, 'refill/1', new Uint8Array(0), opts))).toBe('ok');
    // right away: empty (a token takes 500 ms to come back)
    expect((await failure(client.request(serverId, 'refill/1', new Uint8Array(0), opts))).code).toBe('RATE_LIMITED');
    await new Promise((r) => setTimeout(r, 600));
    expect(fromUtf8(await client.request(serverId, 'refill/1', new Uint8Array(0), opts))).toBe('ok');
  });

  it('limits concurrent requests per peer', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    await server.handle('blocking/1', async () => {
      started++;
      await gate;
      return utf8('done');
    }, { maxConcurrentPerPeer: 2 });
    const p1 = client.request(serverId, 'blocking/1', new Uint8Array(0), opts);
    const p2 = client.request(serverId, 'blocking/1', new Uint8Array(0), opts);
    const deadline = Date.now() + 5_000;
    while (started < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(started).toBe(2);
    const e = await failure(client.request(serverId, 'blocking/1', new Uint8Array(0), opts));
    expect(e.code).toBe('CONCURRENCY_LIMIT');
    expect(e.limit).toBe('maxConcurrentPerPeer=2');
    release();
    expect(fromUtf8(await p1)).toBe('done');
    expect(fromUtf8(await p2)).toBe('done');
    // slots are free again
    expect(fromUtf8(await client.request(serverId, 'blocking/1', new Uint8Array(0), opts))).toBe('done');
  });

  it('reports unknown protocols, non-genesis peers and bad arguments with specific codes', async () => {
    expect((await failure(client.request(serverId, 'nobody-serves/1', new Uint8Array(0), opts))).code).toBe('PROTOCOL_UNSUPPORTED');
    const [stranger] = await identities(1);
    expect((await failure(client.request(stranger!.peerId, 'echo/1', new Uint8Array(0), opts))).code).toBe('NOT_GENESIS_PEER');
    expect((await failure(client.request(serverId, 'Bad Name', new Uint8Array(0), opts))).code).toBe('INVALID_ARGUMENT');
    expect((await failure(client.request(serverId, 'echo/1', new Uint8Array(0), { timeoutMs: 0, maxResponseBytes: 1 }))).code).toBe('INVALID_ARGUMENT');
    expect((await failure(client.request(serverId, 'echo/1', 'str' as unknown as Uint8Array, opts))).code).toBe('INVALID_ARGUMENT');
    await expect(server.handle('echo/1', async () => new Uint8Array(0))).rejects.toMatchObject({ code: 'ALREADY_REGISTERED' });
    await expect(server.handle('x/1', async () => new Uint8Array(0), { maxRequestBytes: -1 })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });

  it('kept the one connection up through every refusal and failure above', () => {
    expect(disconnects).toBe(0);
    expect(client.connectedPeers()).toContain(serverId);
    expect(server.connectedPeers()).toHaveLength(2);
  });

  it('fails a request in flight with STOPPED when the caller stops (runs last: stops client2)', async () => {
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    await server.handle('forever/1', async (_f, _r, signal) => {
      entered();
      await new Promise((r) => signal.addEventListener('abort', r));
      return new Uint8Array(0);
    }, { handlerTimeoutMs: 20_000 });
    const p = client2.request(serverId, 'forever/1', new Uint8Array(0), { timeoutMs: 20_000, maxResponseBytes: 10 });
    const outcome = failure(p); // observe it before it rejects
    await inHandler;
    await client2.stop();
    expect((await outcome).code).toBe('STOPPED');
    expect((await failure(client2.request(serverId, 'echo/1', new Uint8Array(0), opts))).code).toBe('STOPPED');
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnClient } from '../../src/client/client.js';

// A real HTTP server on 127.0.0.1 that answers /checkpoint with an oversized or endless body.
let server: Server;
let url = '';
let endlessSent = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/checkpoint' && req.headers['x-mode'] === 'big') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('x'.repeat(4 * 1024 * 1024));
      return;
    }
    // Endless chunked body: stops only when the client goes away (bounded at 64 MiB).
    res.writeHead(200, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    const pump = (): void => {
      while (endlessSent < 64 * 1024 * 1024 && !res.destroyed) {
        endlessSent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => undefined);
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('client reads responses within a per-route cap', () => {
  it('rejects an oversized checkpoint with response_too_large', async () => {
    const c = new CairnClient({ url, headers: { 'x-mode': 'big' }, requestTimeoutMs: 10_000 });
    await expect(c.checkpoint()).rejects.toMatchObject({ code: 'response_too_large' });
  });

  it('stops reading an endless chunked body soon after the cap', async () => {
    const c = new CairnClient({ url, requestTimeoutMs: 10_000 });
    await expect(c.checkpoint()).rejects.toMatchObject({ code: 'response_too_large' });
    // The server is stopped by the client going away, far below its own 64 MiB bound.
    expect(endlessSent).toBeLessThan(16 * 1024 * 1024);
  });
});

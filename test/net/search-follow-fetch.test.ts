// The fetch `cairn search --follow` gives the SDK: a request ends at the SDK's own timeout even
// when garbage is collected while it waits (a timeout signal joined with `AbortSignal.any` is
// lost to a collection in Node 20), ends at once on an interrupt, and leaves no listener behind
// on the interrupt signal. Against a real HTTP server on 127.0.0.1 that never answers.
import { getEventListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortableFetch } from '../../node/cli/search-follow.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: Server;
let url = '';
beforeAll(async () => {
  // '/stall' never answers; anything else answers at once.
  server = createServer((req, res) => {
    if (req.url !== '/stall') res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** The error a request rejects with (or 'answered'), and after how long. */
async function settle(p: Promise<Response>): Promise<{ error: string; ms: number }> {
  const t0 = Date.now();
  const error = await p.then(
    () => 'answered',
    (e: unknown) => (e as Error).name,
  );
  return { error, ms: Date.now() - t0 };
}

describe('the follow fetch', () => {
  it("ends at the request's own timeout although garbage is collected while it waits", async () => {
    const stop = new AbortController();
    const f = abortableFetch(stop.signal);
    const pending = settle(f(`${url}/stall`, { signal: AbortSignal.timeout(200) }));
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 25));
      gc();
    }
    const r = await pending;
    expect(r.error).toBe('TimeoutError');
    expect(r.ms).toBeLessThan(3_000);
  });

  it('ends at once on an interrupt', async () => {
    const stop = new AbortController();
    const f = abortableFetch(stop.signal);
    const pending = settle(f(`${url}/stall`, { signal: AbortSignal.timeout(60_000) }));
    setTimeout(() => stop.abort(), 100);
    const r = await pending;
    expect(r.error).toBe('AbortError');
    expect(r.ms).toBeLessThan(3_000);
  });

  it('leaves no listener on the interrupt signal after answered requests', async () => {
    const stop = new AbortController();
    const f = abortableFetch(stop.signal);
    for (let i = 0; i < 20; i++) {
      const res = await f(`${url}/ok`, { signal: AbortSignal.timeout(5_000) });
      expect(await res.text()).toBe('ok');
    }
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });
});

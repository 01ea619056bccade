// The fetch `cairn search --follow` gives the SDK: a request ends at the SDK's own timeout even
// when garbage is collected while it waits (a timeout signal joined with `AbortSignal.any` is
// lost to a collection in Node 20), ends at once on an interrupt, and leaves no listener behind
// on the interrupt signal. Against a real HTTP server on 127.0.0.1 that never answers.
import { getEventListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortableFetch } from '../../node/cli/search-follow.js';
import { collectGarbage } from '../unit/support/gc.js';

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

/**
 * A request to '/stall' through the follow fetch with its own timeout of `ownTimeoutMs`, while
 * `meanwhile` runs: the error it rejected with (or 'answered'), and after how long.
 */
async function stalled(ownTimeoutMs: number, meanwhile: (stop: AbortController) => Promise<void>): Promise<{ error: string; ms: number }> {
  const stop = new AbortController();
  const t0 = Date.now();
  const ended = abortableFetch(stop.signal)(`${url}/stall`, { signal: AbortSignal.timeout(ownTimeoutMs) }).then(
    () => 'answered',
    (e: unknown) => (e as Error).name,
  );
  await meanwhile(stop);
  return { error: await ended, ms: Date.now() - t0 };
}

describe('the follow fetch', () => {
  it("ends at the request's own timeout although garbage is collected while it waits", async () => {
    const r = await stalled(200, () => collectGarbage(8, 25));
    expect(r.error).toBe('TimeoutError');
    expect(r.ms).toBeLessThan(3_000);
  });

  it('ends at once on an interrupt', async () => {
    const r = await stalled(60_000, async (stop) => {
      await new Promise((res) => setTimeout(res, 100));
      stop.abort();
    });
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

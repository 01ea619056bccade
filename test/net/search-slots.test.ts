// The search routes' concurrency bounds on a real peer (libp2p on 127.0.0.1, LevelDB in a temp
// dir, HTTP on 127.0.0.1): at most SEARCHES_PER_ADDRESS_MAX searches computed at once per client
// address (429 too_many_requests) and SEARCHES_IN_FLIGHT_MAX in all (503 busy), for both routes;
// a slot is given back when its search ends, also when the search fails.
//
// To hold searches in flight deterministically, the test delays the peer's read of its latest
// final checkpoint (the engine's first step, inside the slot) until it lets go. Distinct client
// addresses are distinct loopback source addresses (127.0.0.2, ...), which Linux routes to the
// peer listening on 127.0.0.1.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/entry/types.js';
import { SEARCHES_IN_FLIGHT_MAX, SEARCHES_PER_ADDRESS_MAX } from '../../node/http/search-routes.js';
import { startHttpServer, type HttpServer } from '../../node/http/server.js';
import type { Store } from '../../node/storage/index.js';
import { makeCluster, type Cluster } from '../peer-support/cluster.js';
import { entryOf, submitFinal } from './search-support.js';

let c: Cluster;
let server: HttpServer;
let store: Store;

/** While `held` is set, every read of the latest final checkpoint waits for `release()`. */
const gate = { held: false, entered: 0, waiting: [] as (() => void)[] };
function release(): void {
  gate.held = false;
  for (const w of gate.waiting.splice(0)) w();
}

beforeAll(async () => {
  c = await makeCluster(1, { label: 'search-slots' });
  const peer = await c.start(0);
  server = await startHttpServer(peer, { host: '127.0.0.1', port: 0 });
  const entries: AuditEntry[] = [];
  for (let i = 0; i < 4; i++) entries.push(entryOf(c.clients[0]!, { actor: 'alice', action: 'db.query', type: 'table', id: 'payments', tenant: 'acme' }));
  await submitFinal(server.url, entries);
  store = peer.internals.store;
  const original = store.latestFinalCheckpoint.bind(store);
  store.latestFinalCheckpoint = async () => {
    if (gate.held) {
      gate.entered++;
      await new Promise<void>((r) => gate.waiting.push(r));
    }
    return original();
  };
}, 120_000);

afterAll(async () => {
  release();
  await server?.close();
  await c?.close();
});

interface Answer {
  status: number;
  code: string | undefined;
  results: number | undefined;
}

/** GET path from the given loopback source address (bounded by a timeout). */
function get(path: string, localAddress: string): Promise<Answer> {
  const u = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: u.hostname, port: u.port, path, localAddress, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        let json: { error?: { code?: string }; results?: unknown[] } | undefined;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, code: json?.error?.code, results: json?.results?.length });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} from ${localAddress}: no answer in 30 s`)));
    req.on('error', reject);
  });
}

/** Waits (bounded) until `n` searches are held inside their slots. */
async function heldInside(n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (gate.entered < n) {
    if (Date.now() > deadline) throw new Error(`only ${gate.entered} of ${n} searches reached the engine`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const SEARCH = '/v1/search?actor=alice&limit=10';
const HISTORY = '/v1/resources/table/payments/history?limit=10';

describe('search slots', () => {
  it(`one address: the search beyond SEARCHES_PER_ADDRESS_MAX in flight gets 429 too_many_requests; another address is still served`, async () => {
    gate.entered = 0;
    gate.held = true;
    const held = [get(SEARCH, '127.0.0.1'), get(HISTORY, '127.0.0.1')];
    await heldInside(SEARCHES_PER_ADDRESS_MAX);
    // Both routes share the bound.
    for (const path of [SEARCH, HISTORY]) {
      const over = await get(path, '127.0.0.1');
      expect(over.status).toBe(429);
      expect(over.code).toBe('too_many_requests');
    }
    // Another address has its own share of the slots: it reaches the engine.
    const other = get(SEARCH, '127.0.0.2');
    await heldInside(SEARCHES_PER_ADDRESS_MAX + 1);
    release();
    for (const a of await Promise.all([...held, other])) {
      expect(a.status).toBe(200);
      expect(a.results).toBe(4);
    }
    // The slots were given back: the same address is served again.
    expect((await get(SEARCH, '127.0.0.1')).status).toBe(200);
  }, 60_000);

  it(`all addresses: the search beyond SEARCHES_IN_FLIGHT_MAX in flight gets 503 busy; slots come back, also after a failed search`, async () => {
    gate.entered = 0;
    gate.held = true;
    const addresses = Array.from({ length: SEARCHES_IN_FLIGHT_MAX / SEARCHES_PER_ADDRESS_MAX }, (_, i) => `127.0.0.${10 + i}`);
    const held = addresses.flatMap((a) => [get(SEARCH, a), get(HISTORY, a)]);
    await heldInside(SEARCHES_IN_FLIGHT_MAX);
    // A fresh address, under its own bound, finds the peer's slots full.
    for (const path of [SEARCH, HISTORY]) {
      const busy = await get(path, '127.0.0.30');
      expect(busy.status).toBe(503);
      expect(busy.code).toBe('busy');
    }
    expect(gate.entered).toBe(SEARCHES_IN_FLIGHT_MAX);
    release();
    for (const a of await Promise.all(held)) expect(a.status).toBe(200);
    // Searches that fail inside their slot (a tampered cursor) give the slot back too.
    for (let i = 0; i < SEARCHES_IN_FLIGHT_MAX + 2; i++) {
      const bad = await get(`${SEARCH}&cursor=${'A'.repeat(100)}`, '127.0.0.1');
      expect(bad.status).toBe(400);
    }
    gate.entered = 0;
    gate.held = true;
    const again = addresses.flatMap((a) => [get(SEARCH, a), get(SEARCH, a)]);
    await heldInside(SEARCHES_IN_FLIGHT_MAX);
    release();
    for (const a of await Promise.all(again)) expect(a.status).toBe(200);
  }, 60_000);
});

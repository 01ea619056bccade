// A started peer fills its search proof cache in the background: the first searches after a start
// do not pay for every tile they touch. No search is asked here, so only the warm-up can fill it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/entry/types.js';
import { startHttpServer } from '../../node/http/server.js';
import { proofCacheStats } from '../../node/search/proofs.js';
import { makeCluster, type Cluster } from '../peer-support/cluster.js';
import { entryOf, submitFinal } from './search-support.js';

let c: Cluster;

beforeAll(async () => {
  c = await makeCluster(1, { label: 'search-warm' });
  await c.start(0);
}, 60_000);

afterAll(async () => {
  await c?.close();
});

describe('proof cache warm-up', () => {
  it('holds the full tiles of the final log a few seconds after the peer starts, before any search', async () => {
    let peer = c.peers[0]!;
    // Two full tiles (256 leaves each) and a partial one.
    const writer = await startHttpServer(peer, { host: '127.0.0.1', port: 0 });
    const entries: AuditEntry[] = [];
    for (let i = 0; i < 600; i++) entries.push(entryOf(c.clients[i % c.clients.length]!, { actor: `a${i % 7}`, action: 'db.query', type: 'table', id: `t${i % 5}` }));
    for (let i = 0; i < entries.length; i += 200) await submitFinal(writer.url, entries.slice(i, i + 200));
    await writer.close();
    expect(peer.status().finalSize).toBeGreaterThanOrEqual(512);
    // A restart: the new store's cache starts empty, and the peer warms it (no HTTP server needed).
    await c.stop(0);
    peer = await c.start(0);
    const store = peer.internals.store;
    expect(proofCacheStats(store).entries).toBe(0);
    const deadline = Date.now() + 30_000;
    while (proofCacheStats(store).entries < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(proofCacheStats(store).entries).toBeGreaterThanOrEqual(2);
  }, 120_000);
});

// The proof-cache warm-up belongs to the peer: stopping the peer stops it between two batches, and
// it never reads the store after the stop returned (a warm-up left running would keep reading a
// closed store, and one started per HTTP server would run once per server).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TileId } from '../../src/merkle/index.js';
import { TILE_WIDTH } from '../../src/merkle/index.js';
import { startHttpServer, type HttpServer } from '../../node/http/server.js';
import { makeCluster, type Cluster } from '../peer-support/cluster.js';
import { entryOf } from './search-support.js';

let c: Cluster;
let http: HttpServer | undefined;

/** More full level-0 tiles than one warm-up batch (32) holds: the warm-up needs at least two batches. */
const FULL_TILES = 34;

beforeAll(async () => {
  c = await makeCluster(1, { label: 'warm-stop' });
  await c.start(0);
}, 60_000);

afterAll(async () => {
  await http?.close().catch(() => undefined);
  await c?.close();
});

async function waitFor(what: string, cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('proof cache warm-up lifetime', () => {
  it('stops when the peer stops: no tile batch is read after stop() returned', async () => {
    let peer = c.peers[0]!;
    const target = FULL_TILES * TILE_WIDTH + 10;
    // In-process submissions (no HTTP): ~8,700 entries finalize in a few seconds on one peer.
    for (let i = 0; i < target; i += 1000) {
      const batch = [];
      for (let k = i; k < Math.min(target, i + 1000); k++) batch.push(entryOf(c.clients[k % c.clients.length]!, { actor: `a${k % 7}`, action: 'db.query', type: 'table', id: `t${k % 5}` }));
      const res = await peer.submit(batch);
      expect(res.filter((r) => !('status' in r) || r.status !== 'accepted')).toEqual([]);
    }
    await waitFor('the log to be final', () => peer.status().finalSize >= target, 60_000);

    // Restart: the warm-up runs over the log a peer finds at start.
    await c.stop(0);
    peer = await c.start(0);
    const store = peer.internals.store;
    // Slow tile reads, counted, so the warm-up is still running when the peer stops.
    const realRead = store.readTiles.bind(store);
    let reads = 0;
    store.readTiles = async (tiles: readonly TileId[]) => {
      reads++;
      const got = await realRead(tiles);
      await new Promise((r) => setTimeout(r, 300));
      return got;
    };
    http = await startHttpServer(peer, { host: '127.0.0.1', port: 0 });
    await waitFor('the warm-up to read its first batch', () => reads >= 1, 30_000);

    await http.close();
    http = undefined;
    await c.stop(0);
    const atStop = reads;
    await new Promise((r) => setTimeout(r, 1500));
    expect(reads).toBe(atStop);
  }, 120_000);
});

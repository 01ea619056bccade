// Catch-up with a Byzantine sync source: a genesis peer (a real libp2p host on 127.0.0.1 that
// speaks the sync protocols) claims a height of 2^53 − 1, then answers block requests with forged
// blocks and certificates or stalls them. A peer starting from an empty data dir must still catch
// up from the two honest peers within a bounded time: a claimed height is only a hint, and a
// source that does not deliver verifiable blocks is backed off.
// ~1 min: the log (a few hundred small blocks) is built by the network first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, rm } from 'node:fs/promises';
import { createPeerNetwork, type PeerNetwork } from '../../node/net/index.js';
import { encodeBlocksResponse, encodeStatus } from '../../node/peer/codec.js';
import { PROTO_BLOCKS, PROTO_CHECKPOINT, PROTO_STATUS } from '../../node/peer/sync.js';
import { encodeCertificate } from '../../src/consensus/index.js';
import { catchUpLog } from '../peer-support/catchup-log.js';
import { clusterProgress, makeCluster, makeEntries, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';

// 120 heights of 4 entries: two full catch-up requests (64 blocks each), while every 4th height
// (the stopped org3's turn to propose) waits out a propose timeout.
const ENTRIES = 480;
/** Catch-up of the honest log must never go this long without a new height, whatever the Byzantine source does. */
const CATCH_UP_BOUND_MS = 20_000;
/**
 * ... and must finish within this. Applying each block is a synced write: on a 2-core machine
 * under heavy load 200 of them alone took 15 s (the height kept growing the whole time).
 */
const CATCH_UP_TOTAL_MS = 60_000;
let c: Cluster;
let byz: PeerNetwork | null = null;
const byzStats = { status: 0, blocks: 0, forged: 0, stalled: 0 };
/** Block requests the Byzantine source received, by requesting peer. */
const asked = new Map<string, number>();
/** After catch-up, how long the Byzantine source's effect on the others is watched. */
const OBSERVE_MS = 20_000;
/** Ends the Byzantine source's stalled handlers when the test is over. */
const done = new AbortController();

beforeAll(async () => {
  // With this label org3 (the Byzantine source) has the lowest peer id, so it is also first
  // among sources whose heights are not known yet (the first catch-up run starts before the
  // first status poll has answered): the liar is asked first either way.
  c = await makeCluster(4, { label: 'byzsyncA', clients: 4, limits: { maxBlockEntries: 4 } });
  await Promise.all([0, 1, 2].map((i) => c.start(i)));
  await waitConnected(c, [0, 1, 2], 2);
}, 60_000);
afterAll(async () => {
  done.abort();
  await byz?.stop();
  await c?.close();
});

describe('catch-up with a lying sync source', () => {
  it(`catches up from the honest peers, never ${CATCH_UP_BOUND_MS / 1000} s without a new height, while a peer lies about its height and serves forged or stalled blocks (~1 min)`, async () => {
    // 1. Build a log of many small blocks (several catch-up requests' worth) with peers 0-2.
    const entries = makeEntries(c.clients, ENTRIES, 'byzsync');
    for (let i = 0; i < ENTRIES; i += 100) await c.peers[(i / 100) % 3]!.submit(entries.slice(i, i + 100));
    await waitFor(c, `${ENTRIES} entries final on peers 0-2`, () => c.peers.slice(0, 3).every((p) => p!.status().finalSize >= ENTRIES), () => clusterProgress(c), { stallMs: 30_000, maxMs: 240_000 });
    const height = c.peers[0]!.status().height;
    expect(height).toBeGreaterThanOrEqual(ENTRIES / 4);

    // 2. Peer 2 loses its data; org3's identity is taken by a Byzantine sync source.
    await c.stop(2);
    await rm(c.dirs[2]!, { recursive: true, force: true });
    await mkdir(c.dirs[2]!, { recursive: true });
    const o3 = c.orgs[3]!;
    byz = await createPeerNetwork({
      privateKey: o3.p2pKey,
      listen: [`/ip4/127.0.0.1/tcp/${o3.port}`],
      peers: c.genesis.validators.map((v) => ({ peerId: v.peerId, addrs: v.addrs })),
      namespace: c.genesis.hashHex.slice(0, 16),
      genesisHash: c.genesis.hash,
    });
    const lie = { height: Number.MAX_SAFE_INTEGER, treeSize: Number.MAX_SAFE_INTEGER, finalSize: Number.MAX_SAFE_INTEGER };
    await byz.handle(PROTO_STATUS, async () => {
      byzStats.status++;
      return encodeStatus(lie);
    });
    await byz.handle(
      PROTO_BLOCKS,
      async (from, _req, signal) => {
        byzStats.blocks++;
        asked.set(from, (asked.get(from) ?? 0) + 1);
        if (asked.get(from)! > 1) {
          // Forged: a block of junk and a certificate with zero signatures.
          byzStats.forged++;
          const forged = Array.from({ length: 8 }, (_, k) => ({
            block: new Uint8Array(200).fill(k + 1),
            certificate: encodeCertificate({ height: k + 1, round: 0, valueId: new Uint8Array(32).fill(9), signatures: [{ validator: 3, signature: new Uint8Array(64) }] }),
          }));
          return encodeBlocksResponse(lie.height, forged);
        }
        // Each requester's first request: stall for as long as the caller waits (the server
        // lets handlers run for 60 s). Later ones are answered at once with forged blocks.
        byzStats.stalled++;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 60_000);
          const end = () => {
            clearTimeout(t);
            resolve();
          };
          signal.addEventListener('abort', end);
          done.signal.addEventListener('abort', end);
        });
        return encodeBlocksResponse(lie.height, []);
      },
      { handlerTimeoutMs: 60_000, rateLimitPerSecond: 1_000, rateLimitBurst: 1_000 },
    );
    await byz.handle(PROTO_CHECKPOINT, async () => new Uint8Array([1, 2, 3]));

    // 3. Peer 2 starts from an empty data dir and must catch up from peers 0 and 1.
    const t0 = Date.now();
    const p2 = await c.start(2);
    try {
      await waitFor(
        c,
        'the empty peer catches up despite the lying source',
        () => p2.status().height >= height && p2.status().finalSize >= ENTRIES,
        () => p2.status().height + p2.status().finalSize, // the empty peer's own progress, not the others' rounds
        { stallMs: CATCH_UP_BOUND_MS, maxMs: CATCH_UP_TOTAL_MS },
      );
    } catch (e) {
      // Say what the catch-up did (which source failed how), so a failure can be explained.
      throw new Error(`${(e as Error).message}\nByzantine source answered ${JSON.stringify(byzStats)}\n${catchUpLog(c, 2)}`);
    }
    const ms = Date.now() - t0;
    console.log(`[peer-catchup-byzantine] caught up ${height} heights in ${ms} ms; Byzantine source answered ${JSON.stringify(byzStats)}; sync ${JSON.stringify(p2.status().sync)}`);
    expect(p2.status().root).toBe(c.peers[0]!.status().root);
    expect(ms).toBeLessThan(CATCH_UP_TOTAL_MS);
    // The lie was believed at first (the source was asked) ...
    expect(asked.get(c.orgs[2]!.peerId) ?? 0).toBeGreaterThanOrEqual(1);
    // ... but a source that keeps failing is backed off: over the next OBSERVE_MS no peer asks it
    // more than a few times (not once per status poll, i.e. every second).
    const before = new Map(asked);
    await new Promise((r) => setTimeout(r, OBSERVE_MS));
    const during = [0, 1, 2].map((i) => (asked.get(c.orgs[i]!.peerId) ?? 0) - (before.get(c.orgs[i]!.peerId) ?? 0));
    console.log(`[peer-catchup-byzantine] block requests to the Byzantine source in ${OBSERVE_MS} ms after catch-up, by peer: ${JSON.stringify(during)}`);
    for (const d of during) expect(d).toBeLessThanOrEqual(6);
    expect(c.peers[2]!.status().sync.sourcesDemoted).toBeGreaterThanOrEqual(1);
  }, 360_000);
});

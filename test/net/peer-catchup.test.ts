// Peer acceptance: a peer starting with an empty data dir catches up a log of >= 50,000
// entries and reports its catch-up rate (entries/s). The log is built by the network itself
// (3 of 4 validators, q = 3) from pre-signed entries, in big blocks.
// Slow by nature (~2 min on 2 shared cores): every entry is signature-checked by 3 peers in this
// one process while the log is built.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/encoding/bytes.js';
import { clusterProgress, makeCluster, makeEntries, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';

const N = 50_000;
let c: Cluster;

beforeAll(async () => {
  c = await makeCluster(4, {
    label: 'catchup',
    clients: 8,
    limits: {
      maxBlockEntries: 2_500,
      maxBlockBytes: 2 * 1024 * 1024,
      mempoolMaxEntries: 60_000,
      mempoolMaxBytes: 128 * 1024 * 1024,
      // Generous timeouts: while the log is built, 3 peers in this one process verify 150,000
      // signatures, and on a loaded 2-core box short rounds would only thrash. (The 4th
      // validator is down, so every 4th height waits one propose timeout.)
      timeouts: { proposeMs: 2_000, prevoteMs: 1_000, precommitMs: 1_000, deltaMs: 500 },
    },
  });
  await Promise.all([0, 1, 2].map((i) => c.start(i)));
  await waitConnected(c, [0, 1, 2], 2);
});
afterAll(async () => {
  await c?.close();
});

describe('catch-up from an empty data dir', () => {
  it(`catches up a log of ${N} entries and reports the rate (slow: ~2 min, builds the log first)`, async () => {
    const t0 = Date.now();
    const entries = makeEntries(c.clients, N, 'catchup');
    const signedMs = Date.now() - t0;
    const t1 = Date.now();
    for (let i = 0, k = 0; i < N; i += 2_000, k++) {
      const res = await c.peers[k % 3]!.submit(entries.slice(i, i + 2_000));
      const bad = res.filter((r) => !('status' in r));
      expect(bad, JSON.stringify(bad.slice(0, 3))).toEqual([]);
      // Flow control, as a real client would do: do not run more than ~3 chunks ahead of what
      // every peer has received. Otherwise the three peers of this one process queue up
      // minutes of gossip verification and consensus starves behind it.
      const sent = i + 2_000;
      await waitFor(
        c,
        'peers to absorb the submitted entries',
        () => c.peers.slice(0, 3).every((p) => p!.status().treeSize + p!.status().mempool.entries >= sent - 6_000),
        () => clusterProgress(c),
        { stallMs: 60_000, maxMs: 300_000 },
      );
    }
    await waitFor(
      c,
      `${N} entries final on the 3 running peers`,
      () => c.peers.slice(0, 3).every((p) => p!.status().finalSize >= N),
      () => clusterProgress(c),
      { stallMs: 60_000, maxMs: 600_000 },
    );
    const buildMs = Date.now() - t1;
    console.log(`[peer-catchup] built a log of ${N} entries: signed in ${signedMs} ms, decided and final in ${buildMs} ms (${Math.round((N * 1000) / buildMs)} entries/s), height ${c.peers[0]!.status().height}`);

    // The 4th peer starts from an empty data dir.
    const t2 = Date.now();
    const p3 = await c.start(3);
    await waitFor(
      c,
      'the new peer catches up',
      () => p3.status().treeSize >= N && p3.status().finalSize >= N,
      () => clusterProgress(c),
      { stallMs: 30_000, maxMs: 300_000 },
    );
    const catchUpMs = Date.now() - t2;
    const s = p3.status();
    console.log(
      `[peer-catchup] CATCH-UP RATE: ${N} entries in ${catchUpMs} ms from start = ${Math.round((N * 1000) / catchUpMs)} entries/s ` +
        `(sync phase alone: ${Math.round(s.sync.lastRateEntriesPerSec)} entries/s over ${Math.round(s.sync.lastDurationMs)} ms, ${s.sync.blocksFetched} blocks)`,
    );
    expect(s.treeSize).toBe(N);
    expect(s.root).toBe(c.peers[0]!.status().root);
    expect(s.finalSize).toBe(N);
    // Spot-check leaves and a few entries' finality on the new peer.
    for (const k of [0, 1, 4_999, 25_000, N - 1]) {
      expect(toHex((await p3.getLeaf(k))!)).toBe(toHex((await c.peers[1]!.getLeaf(k))!));
    }
    for (const e of [entries[0]!, entries[N - 1]!]) expect((await p3.getEntryByClientId(e.client, e.id)).status).toBe('final');
    // It takes part in consensus afterwards: new entries become final everywhere.
    const more = makeEntries(c.clients, 100, 'after');
    await p3.submit(more);
    await waitFor(c, 'entries submitted to the caught-up peer become final', () => c.peers.every((p) => p!.status().finalSize >= N + 100), () => clusterProgress(c));
  }, 700_000);
});

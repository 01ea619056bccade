// Peer acceptance: with 2 of 4 peers down there is no progress and no error beyond "no
// quorum" (status says so); when one returns, progress resumes and every entry accepted
// meanwhile becomes final.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterProgress, clusterStatus, makeCluster, makeEntries, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';

let c: Cluster;

beforeAll(async () => {
  c = await makeCluster(4, { label: 'quorum' });
  await Promise.all([0, 1, 2, 3].map((i) => c.start(i)));
  await waitConnected(c, [0, 1, 2, 3], 3);
});
afterAll(async () => {
  await c?.close();
});

describe('quorum loss and recovery', () => {
  it('2 of 4 down: no progress, "no quorum"; one returns: everything accepted becomes final (~25 s)', async () => {
    // Some blocks first, with everybody up.
    const warm = makeEntries(c.clients, 200, 'warm');
    await c.peers[0]!.submit(warm);
    await waitFor(c, 'warm-up final', () => c.peers.every((p) => p!.status().finalSize >= 200), () => clusterProgress(c));

    await c.stop(2);
    await c.stop(3);
    await waitFor(
      c,
      'peers 0 and 1 notice they lack a quorum',
      () => [0, 1].every((i) => c.peers[i]!.status().problem === 'no quorum'),
      () => clusterProgress(c),
      { stallMs: 20_000, maxMs: 30_000 },
    );
    const entries = makeEntries(c.clients, 600, 'noquorum');
    const res0 = await c.peers[0]!.submit(entries.slice(0, 300));
    const res1 = await c.peers[1]!.submit(entries.slice(300));
    for (const r of [...res0, ...res1]) expect(r).toHaveProperty('status', 'accepted');
    const sizeBefore = c.peers[0]!.status().treeSize;
    // No progress for a while: several consensus rounds' worth of time.
    await new Promise((r) => setTimeout(r, 6_000));
    for (const i of [0, 1]) {
      const s = c.peers[i]!.status();
      expect(s.treeSize, clusterStatus(c)).toBe(sizeBefore);
      expect(s.finalSize).toBe(200);
      expect(s.problem).toBe('no quorum');
      expect(s.quorum).toEqual({ needed: 3, reachable: 2, ok: false });
      expect(s.mempool.entries).toBe(600);
    }
    // No error beyond "no quorum": nothing logged at error level.
    for (const i of [0, 1]) expect(c.logs[i]!.filter((l) => l.level === 'error'), JSON.stringify(c.logs[i]!.slice(-5))).toEqual([]);
    console.log(`[peer-quorum] while 2 of 4 are down:\n${clusterStatus(c)}`);

    // One returns: progress resumes and the 600 entries become final.
    const t0 = Date.now();
    await c.start(2);
    await waitFor(
      c,
      'entries accepted during the outage become final',
      () => [0, 1, 2].every((i) => c.peers[i]!.status().finalSize >= 800),
      () => clusterProgress(c),
      { stallMs: 30_000, maxMs: 120_000 },
    );
    console.log(`[peer-quorum] quorum restored; 600 pending entries final ${Date.now() - t0} ms after the peer returned`);
    for (const e of entries.slice(0, 20)) {
      const r = await c.peers[2]!.getEntryByClientId(e.client, e.id);
      expect(r.status).toBe('final');
    }
    for (const i of [0, 1, 2]) {
      expect(c.peers[i]!.status().problem).toBeNull();
      expect(c.logs[i]!.filter((l) => l.level === 'error')).toEqual([]);
    }
  }, 200_000);
});

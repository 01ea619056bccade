// A peer whose clock is 10 minutes ahead (maxClockSkewMs is 60 s) still takes part in consensus:
// it withholds its prevote from fresh proposals it finds untimely, but the block time is not a
// validity rule, so it locks, precommits and DECIDES the blocks the other three prevote — it
// applies them through consensus, not by catching up. Four in-process peers, real libp2p on
// 127.0.0.1, real LevelDB in temp dirs.
import { afterAll, describe, expect, it } from 'vitest';
import { startPeer } from '../../node/peer/peer.js';
import { clusterProgress, makeCluster, makeEntries, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';

const TEN_MINUTES = 600_000;
const SKEWED = 3;
const HEIGHTS = 4;

let c: Cluster | null = null;
afterAll(async () => {
  await c?.close();
});

describe('clock skew', () => {
  it('a peer with its clock 10 minutes ahead applies blocks by deciding them (not by catch-up)', async () => {
    c = await makeCluster(4, { label: 'skew', limits: { maxClockSkewMs: 60_000 } });
    const cl = c;
    for (let i = 0; i < 4; i++) {
      if (i !== SKEWED) {
        await cl.start(i);
        continue;
      }
      const o = cl.orgs[i]!;
      // Same as cluster.start, plus the skewed clock (ledger and mempool read it).
      cl.peers[i] = await startPeer({
        genesis: cl.genesis,
        signingSeed: o.seed,
        p2pKey: o.p2pKey,
        dataDir: cl.dirs[i]!,
        listen: [`/ip4/127.0.0.1/tcp/${o.port}`],
        now: () => Date.now() + TEN_MINUTES,
      });
    }
    await waitConnected(cl, [0, 1, 2, 3], 3);
    const skewed = cl.peers[SKEWED]!;
    // Entries go to a peer with a correct clock (the skewed one would refuse them: clock_skew).
    // One batch per height: a new height starts when the mempool has entries.
    for (let h = 1; h <= HEIGHTS; h++) {
      const r = await cl.peers[h % 3]!.submit(makeEntries(cl.clients, 5, `skew${h}`));
      expect(r.every((x) => !('error' in x))).toBe(true);
      await waitFor(cl, `height ${h} on every peer`, () => cl.peers.every((p) => p!.status().height >= h), () => clusterProgress(cl), { stallMs: 20_000, maxMs: 60_000 });
    }
    // Every block it has was decided by its own consensus run; none came from catch-up. (The
    // decision count moves just after the head: the checkpoint signature comes in between.)
    await waitFor(cl, 'the skewed peer to count its decisions', () => skewed.status().consensus.decided >= HEIGHTS, () => clusterProgress(cl), { stallMs: 10_000, maxMs: 20_000 });
    const st = skewed.status();
    expect(st.height).toBeGreaterThanOrEqual(HEIGHTS);
    expect(st.consensus.decided).toBe(st.height);
    expect(st.sync.blocksFetched).toBe(0);
    expect(st.halted).toBeNull();
    // And it signs checkpoints like everyone: the same root as the others.
    const root = cl.peers[0]!.status().root;
    await waitFor(cl, 'the same head on every peer', () => cl.peers.every((p) => p!.status().root === root && p!.status().height === cl.peers[0]!.status().height), () => clusterProgress(cl), { stallMs: 20_000, maxMs: 30_000 });
  }, 120_000);
});

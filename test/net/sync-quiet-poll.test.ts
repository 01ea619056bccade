// The status poll on an idle network (node/peer/sync.ts, pollDue): four real peers in one
// process. Once every head is final and nothing moves, each peer polls the others about every
// STATUS_POLL_QUIET_MS instead of every STATUS_POLL_MS; a new height brings the normal cadence back,
// a peer that restarts behind a quiet network does not wait for the quiet period to end, and a
// height that cannot be decided is not quiet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUS_POLL_MS, STATUS_POLL_QUIET_MS } from '../../node/peer/sync.js';
import { clusterProgress, makeEntries, startedCluster, waitFor, type Cluster } from '../peer-support/cluster.js';

let c: Cluster;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const polls = () => c.peers.map((p) => ({ made: p!.status().sync.statusPolls, quiet: p!.status().sync.statusPollsQuiet }));

async function submitAndWaitFinal(i: number, size: number): Promise<void> {
  const [e] = makeEntries(c.clients, 1, `quiet${size}`);
  const [r] = await c.peers[i]!.submit([e!]);
  expect(r).toHaveProperty('status', 'accepted');
  await waitFor(c, `tree size ${size} final on every peer`, () => c.peers.every((p) => p!.status().finalSize >= size), () => clusterProgress(c), { stallMs: 15_000, maxMs: 30_000 });
}

beforeAll(async () => {
  c = await startedCluster(4);
});
afterAll(async () => {
  await c?.close();
});

describe('status poll on an idle network', () => {
  it('polls about every STATUS_POLL_QUIET_MS while nothing moves, and at once again after a new height (~12 s)', async () => {
    await submitAndWaitFinal(0, 1);
    // One normal-cadence poll sees the final head; from then on the network is quiet.
    await sleep(STATUS_POLL_MS * 2.5);
    const before = polls();
    const windowMs = STATUS_POLL_QUIET_MS + 1_000;
    await sleep(windowMs);
    const after = polls();
    for (let i = 0; i < 4; i++) {
      const made = after[i]!.made - before[i]!.made;
      const left = after[i]!.quiet - before[i]!.quiet;
      // At the normal cadence this window holds ~6 polls; quiet, at most 2 (one per quiet period, plus a boundary).
      expect(made, `peer ${i} polls in ${windowMs} ms of quiet`).toBeLessThanOrEqual(2);
      expect(left, `peer ${i} polls left out`).toBeGreaterThanOrEqual(3);
      // What the peer shows about the others stays known meanwhile.
      for (const p of c.peers[i]!.status().peers) expect(p.height, `peer ${i} sees ${p.name}`).toBe(c.peers[i]!.status().height);
    }
    // A new height: each peer's next tick (within STATUS_POLL_MS) polls again.
    const quietEnd = polls();
    await submitAndWaitFinal(1, 2);
    await sleep(STATUS_POLL_MS * 1.5);
    const resumed = polls();
    for (let i = 0; i < 4; i++) expect(resumed[i]!.made, `peer ${i} polled after the new height`).toBeGreaterThan(quietEnd[i]!.made);
  }, 60_000);

  it('a peer that restarts behind a quiet network catches up at once: its poll on connect finds the others ahead (~10 s)', async () => {
    // Peer 3 stops at tree size 2 (final there); the other three, a quorum, decide size 3.
    await c.stop(3);
    const [e] = makeEntries(c.clients, 1, 'quiet-restart');
    const [r] = await c.peers[0]!.submit([e!]);
    expect(r).toHaveProperty('status', 'accepted');
    await waitFor(c, 'tree size 3 final on peers 0-2', () => [0, 1, 2].every((i) => c.peers[i]!.status().finalSize >= 3), () => clusterProgress(c), { stallMs: 15_000, maxMs: 30_000 });
    // The three go quiet; nothing new is decided from here on, so no consensus message carries
    // the height to peer 3: only a status poll can.
    await sleep(STATUS_POLL_MS * 2.5);
    const started = Date.now();
    const p3 = await c.start(3);
    expect(p3.status().treeSize).toBe(2);
    // Its first periodic poll runs before any connection and finds its own final head quiet; the
    // poll when a peer connects is what must find the others ahead, well inside the quiet period.
    await waitFor(c, 'peer 3 caught up to tree size 3', () => p3.status().treeSize >= 3, () => clusterProgress(c), { stallMs: 15_000, maxMs: 30_000 });
    // Without the poll on connect it takes the whole quiet period and more (checked: 5.1 s).
    expect(Date.now() - started, 'restart to caught up').toBeLessThan(STATUS_POLL_QUIET_MS - 500);
  }, 60_000);
});

describe('status poll while a height is stuck', () => {
  it('a peer whose consensus runs a height it cannot decide polls at the normal cadence, not the quiet one (~12 s)', async () => {
    // Sizes so far: 3 on peers 0-2 and 3 on peer 3 (caught up above). Everything is final and quiet.
    await sleep(STATUS_POLL_MS * 2.5);
    // Two of four down: no quorum. An entry makes peers 0 and 3 start a height they cannot decide;
    // their heads stay where they were, final, so only the running height says "not quiet".
    await c.stop(1);
    await c.stop(2);
    const [e] = makeEntries(c.clients, 1, 'quiet-stuck');
    const [r] = await c.peers[0]!.submit([e!]);
    expect(r).toHaveProperty('status', 'accepted');
    await waitFor(c, 'peers 0 and 3 running the next height', () => [0, 3].every((i) => c.peers[i]!.status().consensus.running), () => clusterProgress(c), { stallMs: 15_000, maxMs: 30_000 });
    const before = [0, 3].map((i) => c.peers[i]!.status().sync.statusPolls);
    const windowMs = STATUS_POLL_MS * 4.5;
    await sleep(windowMs);
    [0, 3].forEach((i, k) => {
      const s = c.peers[i]!.status();
      expect(s.finalSize, `peer ${i} head unchanged and final`).toBe(s.treeSize);
      // Quiet, this window (shorter than STATUS_POLL_QUIET_MS) holds at most one poll; at the normal cadence about four.
      expect(s.sync.statusPolls - before[k]!, `peer ${i} polls in ${windowMs} ms of a stuck height`).toBeGreaterThanOrEqual(3);
    });
    // The quorum comes back and the height is decided.
    await c.start(1);
    await c.start(2);
    await waitFor(c, 'tree size 4 final on every peer', () => c.peers.every((p) => p!.status().finalSize >= 4), () => clusterProgress(c), { stallMs: 15_000, maxMs: 30_000 });
  }, 60_000);
});

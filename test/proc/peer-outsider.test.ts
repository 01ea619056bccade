// Peer acceptance: a fifth PROCESS that is not in the genesis cannot connect. It runs the real
// peer program (node/peer/main.ts) with the network's genesis file but its own keys, which the
// genesis does not list; the four validators' connection gaters refuse it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCluster, makeEntries, clusterProgress, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';
import { makeOrgs } from '../peer-support/fixtures.js';
import { killAllChildren, startChild, writePeerFiles } from '../peer-support/child.js';

let c: Cluster;
let dir: string;

beforeAll(async () => {
  c = await makeCluster(4, { label: 'out' });
  await Promise.all([0, 1, 2, 3].map((i) => c.start(i)));
  await waitConnected(c, [0, 1, 2, 3], 3);
  dir = await mkdtemp(join(tmpdir(), 'cairn-outsider-'));
});
afterAll(async () => {
  await killAllChildren();
  await c?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a fifth process outside the genesis', () => {
  it('cannot connect to any validator, and the network is unaffected (~15 s)', async () => {
    const [stranger] = await makeOrgs(1, 'stranger');
    const cfg = await writePeerFiles(dir, c.genesis, stranger!);
    const deniedBefore = c.peers.reduce((s, p) => s + p!.internals.net.stats().gaterDeniedInbound, 0);
    const child = startChild(cfg);
    // It runs (status lines flow: wait for the first, the process needs a few seconds to load)...
    let exited: number | null | undefined;
    void child.exited.then((code) => (exited = code));
    const t0 = Date.now();
    while (child.status === null) {
      if (exited !== undefined || Date.now() - t0 > 60_000) throw new Error(`outsider process gave no status (exit ${exited}):\n${child.lines.slice(-20).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // ... but never gets a connection, however long it keeps redialing.
    const start = Date.now();
    while (Date.now() - start < 5_000) {
      expect(child.status.connected).toBe(0);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(child.status!.connected).toBe(0);
    expect(child.status!.problem).toBe('no quorum');
    const deniedAfter = c.peers.reduce((s, p) => s + p!.internals.net.stats().gaterDeniedInbound, 0);
    expect(deniedAfter).toBeGreaterThan(deniedBefore);
    for (const p of c.peers) expect(p!.status().peers.every((x) => c.genesis.validators.some((v) => v.peerId === x.peerId))).toBe(true);
    // The validators keep working.
    await c.peers[0]!.submit(makeEntries(c.clients, 50, 'outsider'));
    await waitFor(c, 'entries final despite the outsider', () => c.peers.every((p) => p!.status().finalSize >= 50), () => clusterProgress(c));
    child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
  }, 90_000);
});

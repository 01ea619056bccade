// Crash consistency of a peer PROCESS: a peer killed abruptly (SIGKILL, child process) in the
// middle of a load, then restarted: no entry reported final is lost, it does not double-sign, and
// it catches up and converges to the same checkpoint. Three peers run in-process, the fourth is
// the child.
// What this does NOT prove: durability across a power loss or an OS crash. SIGKILL ends the
// process but the kernel keeps its page cache and still writes it out, so an unsynced write
// survives here too. That the writes which must survive a power loss are synced is checked where
// a test can see it: test/unit/storage-durable.test.ts (node/storage/durable.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../node/storage/store.js';
import { toHex } from '../../src/encoding/bytes.js';
import { parseNote } from '../../src/checkpoint/note.js';
import { parseCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { clusterProgress, clusterStatus, makeCluster, makeEntries, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';
import { killAllChildren, startChild, writePeerFiles, type ChildPeer } from '../peer-support/child.js';

let c: Cluster;
let dir: string;
let cfgPath: string;

beforeAll(async () => {
  c = await makeCluster(4, { label: 'crash' });
  await Promise.all([0, 1, 2].map((i) => c.start(i)));
  dir = await mkdtemp(join(tmpdir(), 'cairn-child-'));
  cfgPath = await writePeerFiles(dir, c.genesis, c.orgs[3]!);
});
afterEach(async () => {
  await killAllChildren();
});
afterAll(async () => {
  await killAllChildren();
  await c?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function childInfo(ch: ChildPeer): string {
  return `child status ${JSON.stringify(ch.status)} maxFinal=${ch.maxFinalReported}\n${ch.lines.slice(-15).join('\n')}`;
}

async function waitChild(ch: ChildPeer, what: string, cond: () => boolean, maxMs = 90_000): Promise<void> {
  const start = Date.now();
  let last = JSON.stringify(ch.status);
  let lastChange = Date.now();
  while (!cond()) {
    const s = JSON.stringify(ch.status);
    if (s !== last) {
      last = s;
      lastChange = Date.now();
    }
    if (Date.now() - lastChange > 20_000 || Date.now() - start > maxMs) {
      throw new Error(`timed out waiting for ${what}\n${childInfo(ch)}\n${clusterStatus(c)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('process crash and restart (SIGKILL; not a power-loss test)', () => {
  it('loses no final entry, never double-signs, catches up and converges (~40 s)', async () => {
    let child = startChild(cfgPath);
    await waitChild(child, 'child connected', () => (child.status?.connected ?? 0) >= 3);
    await waitConnected(c, [0, 1, 2], 3);

    // Load: 4,000 entries in batches of 200, spread over the in-process peers.
    const entries = makeEntries(c.clients, 4_000, 'crash');
    let sent = 0;
    const sendBatch = async () => {
      const batch = entries.slice(sent, sent + 200);
      const res = await c.peers[(sent / 200) % 3]!.submit(batch);
      for (const r of res) expect(r).toHaveProperty('status', 'accepted');
      sent += batch.length;
    };
    while (sent < 1_600) await sendBatch();
    // Kill the child once it has reported some entries final, mid-load.
    await waitChild(child, 'child reports final entries', () => child.maxFinalReported >= 400);
    const loadWhileDown = (async () => {
      while (sent < 3_000) {
        await sendBatch();
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const finalBeforeKill = child.maxFinalReported;
    child.kill('SIGKILL');
    await child.exited;
    await loadWhileDown;
    console.log(`[peer-crash] child killed with ${finalBeforeKill} entries reported final; ${sent} entries submitted so far`);

    // The 3 in-process peers keep deciding (q = 3).
    await waitFor(c, '3 peers progress without the child', () => c.peers.slice(0, 3).every((p) => p!.status().finalSize >= 3_000), () => clusterProgress(c));

    // Restart on the same data dir, and keep loading meanwhile.
    child = startChild(cfgPath);
    while (sent < 4_000) await sendBatch();
    await waitFor(c, 'in-process peers final 4,000', () => c.peers.slice(0, 3).every((p) => p!.status().finalSize >= 4_000), () => clusterProgress(c));
    await waitChild(child, 'child converged', () => (child.status?.treeSize ?? 0) >= 4_000 && (child.status?.finalSize ?? 0) >= 4_000, 120_000);
    console.log(`[peer-crash] child converged: ${JSON.stringify(child.status)}`);

    // Clean stop, then inspect its store: identical leaves, final checkpoint covers what it reported.
    child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    const store = await openStore(join(dir, 'data', 'store'));
    try {
      const head = store.head()!;
      const ref = c.peers[0]!.internals.store;
      expect(head.treeSize).toBe(ref.head()!.treeSize);
      expect(toHex(head.root)).toBe(toHex(ref.head()!.root));
      for (let i = 0; i < head.treeSize; i += 1) {
        const a = await store.getLeaf(i);
        const b = await ref.getLeaf(i);
        if (toHex(a!) !== toHex(b!)) throw new Error(`leaf ${i} differs after restart`);
      }
      const note = await store.latestFinalCheckpoint();
      const p = parseNote(note!);
      expect(p.ok).toBe(true);
      const cp = parseCheckpoint((p as any).note.text);
      expect(cp.ok && cp.checkpoint.size).toBeGreaterThanOrEqual(finalBeforeKill);
      expect(cp.ok && cp.checkpoint.size).toBe(4_000);
    } finally {
      await store.close();
    }
    // No double signing: an honest peer that saw two different signed messages from the child for
    // one (height, round, step) would have stored equivocation evidence.
    for (const p of c.peers.slice(0, 3)) expect(await p!.evidence()).toEqual([]);
  }, 240_000);
});

// Peer acceptance: 4 peers, 2,000 entries submitted round-robin to all peers; every entry
// becomes final; all 4 peers hold identical leaves and serve an identical checkpoint body with
// >= 3 valid signatures; the light verifier verifies inclusion of every entry against it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCheckpointQuorum, parseCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { parseNote } from '../../src/checkpoint/note.js';
import { nobleVerifier } from '../../src/crypto/noble.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { entryLeaf, leafHashOfEntry } from '../../src/entry/index.js';
import { fromBase64, toHex } from '../../src/encoding/bytes.js';
import { verifyInclusion } from '../../src/merkle/index.js';
import { clusterProgress, clusterStatus, makeCluster, makeEntries, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';

const N = 2_000;
let c: Cluster;

beforeAll(async () => {
  c = await makeCluster(4);
  await Promise.all([0, 1, 2, 3].map((i) => c.start(i)));
  await waitConnected(c, [0, 1, 2, 3], 3);
});
afterAll(async () => {
  await c?.close();
});

describe('4 peers, 2,000 entries', () => {
  it('every entry becomes final, identical logs and checkpoints, light-verifier inclusion (~20 s)', async () => {
    const entries = makeEntries(c.clients, N);
    const t0 = Date.now();
    // Round-robin: entry i goes to peer i mod 4, in batches of 100 per call.
    const perPeer: (typeof entries)[] = [[], [], [], []];
    entries.forEach((e, i) => perPeer[i % 4]!.push(e));
    await Promise.all(
      perPeer.map(async (list, p) => {
        for (let i = 0; i < list.length; i += 100) {
          const res = await c.peers[p]!.submit(list.slice(i, i + 100));
          for (const r of res) expect(r, JSON.stringify(r)).toHaveProperty('status', 'accepted');
        }
      }),
    );
    const submittedMs = Date.now() - t0;
    await waitFor(
      c,
      'all entries final on all peers',
      () => c.peers.every((p) => p!.status().finalSize >= N),
      () => clusterProgress(c),
      { stallMs: 20_000, maxMs: 180_000 },
    );
    const finalMs = Date.now() - t0;
    console.log(`[peer-basic] ${N} entries: submitted in ${submittedMs} ms, final on all 4 peers after ${finalMs} ms (${Math.round((N * 1000) / finalMs)} entries/s)`);
    console.log(clusterStatus(c));

    // Wait until all peers serve the same final checkpoint (the last block's).
    await waitFor(
      c,
      'identical final checkpoints',
      async () => {
        const notes = await Promise.all(c.peers.map((p) => p!.latestCheckpoint()));
        const bodies = notes.map((n) => (n === null ? null : parseNote(n).ok ? (parseNote(n) as any).note.text : null));
        return bodies.every((b) => b !== null && b === bodies[0]);
      },
      () => clusterProgress(c),
      { stallMs: 10_000, maxMs: 30_000 },
    );
    const trust = { origin: c.genesis.origin, keys: c.genesis.validators.map((v) => v.key), quorum: 3 };
    const notes = await Promise.all(c.peers.map((p) => p!.latestCheckpoint()));
    const verified = notes.map((n) => verifyCheckpointQuorum(n!, trust, nobleVerifier));
    for (const v of verified) {
      expect(v.ok, JSON.stringify(v)).toBe(true);
      if (v.ok) expect(v.signers.length).toBeGreaterThanOrEqual(3);
    }
    const cp = (verified[0] as any).checkpoint;
    expect(cp.size).toBe(N);
    for (const v of verified) expect(toHex((v as any).checkpoint.root)).toBe(toHex(cp.root));

    // Identical leaves on all peers.
    const leaves0: string[] = [];
    for (let i = 0; i < N; i++) leaves0.push(toHex((await c.peers[0]!.getLeaf(i))!));
    for (const p of c.peers.slice(1)) {
      for (let i = 0; i < N; i += 1) {
        const l = await p!.getLeaf(i);
        if (toHex(l!) !== leaves0[i]) throw new Error(`leaf ${i} differs`);
      }
    }
    // Every submitted entry is in the log exactly once.
    const wanted = new Set(entries.map((e) => toHex(leafHashOfEntry(entryLeaf(e)))));
    expect(wanted.size).toBe(N);

    // The light verifier (RFC 9162 inclusion, noble-free pure code) checks every entry against the checkpoint.
    for (let k = 0; k < N; k++) {
      const e = entries[k]!;
      const peer = c.peers[k % 4]!;
      const r = await peer.getEntryByClientId(e.client, e.id);
      expect(r.status).toBe('final');
      if (r.status !== 'final') continue;
      const proof = r.proof.map((b) => fromBase64(b)!);
      // Verify against the common checkpoint (size N) with a proof for that size.
      const proofN = r.treeSize === N ? proof : await peer.inclusionProof(r.index, N);
      expect(verifyInclusion(leafHashOfEntry(entryLeaf(e)), r.index, N, proofN, cp.root)).toBe(true);
      wanted.delete(toHex(leafHashOfEntry(entryLeaf(e))));
    }
    expect(wanted.size).toBe(0);
    // Status is sane and no evidence among honest peers.
    for (const p of c.peers) {
      const s = p!.status();
      expect(s.problem).toBeNull();
      expect(s.evidence).toBe(0);
      expect(parseCheckpoint(parseNote(s.latestFinalCheckpoint!).ok ? (parseNote(s.latestFinalCheckpoint!) as any).note.text : '').ok).toBe(true);
    }
    void nodeVerifier;
  }, 240_000);
});

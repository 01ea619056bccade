// A peer whose log diverges from the others is named without anyone posting a checkpoint: the
// integrity monitor of peer 0 polls every connected validator's latest final checkpoint over the
// catch-up protocol (real libp2p and LevelDB on 127.0.0.1). Peer 1 is made to serve a checkpoint
// of the current size with another root, signed by a quorum of the genesis keys (the test holds
// them): peer 0 raises `divergence` naming peer 1, and `fork` naming the double signers. Observed
// checkpoints smaller than the final tree are checked with a consistency proof from our tiles.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { signNote } from '../../src/checkpoint/note.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { appendLeafHashes, EMPTY_RANGE, rootOf } from '../../src/merkle/compact-range.js';
import { leafHash } from '../../src/merkle/index.js';
import { attachAlerts } from '../../node/alerts/peer-alerts.js';
import { makeEntries, waitFor, clusterProgress } from '../peer-support/cluster.js';
import { FAST_OUTBOX, monitorFixture, monitorRulesFile, until } from './helpers/monitor-fixture.js';

const fx = monitorFixture();

describe('divergence of another peer', () => {
  it('a peer serving a quorum-signed checkpoint with another root is named (divergence + fork); prefixes are checked by consistency proof', async () => {
    const c = await fx.cluster(2, 'diverge');
    const rx = await fx.receiver();
    const peers = [await c.start(0), await c.start(1)];
    const file = await monitorRulesFile(c.dirs[0]!, rx.url, '{ destinations: [soc] }');
    const a = await attachAlerts(peers[0]!, { rulesFile: file, outbox: FAST_OUTBOX, alarms: { checkMs: 50, peerCheckpointMs: 100, scrubLeavesPerSecond: 0 } });
    await peers[0]!.submit(makeEntries(c.clients, 10, 'd'));
    await waitFor(c, '10 final on both', () => peers.every((p) => p.status().finalSize >= 10), () => clusterProgress(c));
    const size = peers[1]!.status().finalSize;
    await until('peer 0 at the same final size', () => peers[0]!.status().finalSize >= size);
    // Honest peers: polled several times, nothing raised.
    await new Promise((r) => setTimeout(r, 600));
    expect(a.monitor!.stats.byKind.divergence).toBeUndefined();
    expect(a.monitor!.stats.byKind.fork).toBeUndefined();

    // A checkpoint smaller than our final tree: a consistency proof from our tiles decides.
    const leaves = await peers[0]!.internals.store.getLeaves(0, 7);
    const root7 = rootOf(appendLeafHashes(EMPTY_RANGE, leaves.map((l) => leafHash(l))).state);
    const quorumSign = (sz: number, root: Uint8Array): string => signNote(formatCheckpoint({ origin: c.genesis.origin, size: sz, root }), c.orgs.map((o) => ({ name: o.name, signer: o.signer })));
    expect(await a.monitor!.observeCheckpoint(quorumSign(7, root7))).toEqual({ status: 'consistent' });
    expect(await a.monitor!.observeCheckpoint(quorumSign(size + 100, randomBytes(32)))).toEqual({ status: 'unknown_size' });

    // Peer 1 now serves a conflicting checkpoint of the current size as its latest final one.
    const forged = quorumSign(size, randomBytes(32));
    await peers[1]!.internals.store.putCheckpoint(size, utf8(forged), true);
    await until('divergence alarm delivered', () => rx.alerts.some((x) => x.ruleId === 'cairn.alarm.divergence'));
    const d = rx.alerts.find((x) => x.ruleId === 'cairn.alarm.divergence')!;
    const names = c.orgs.map((o) => o.name).sort();
    expect(d.severity).toBe('critical');
    expect(d.title).toContain(c.orgs[1]!.name);
    expect(d.group).toMatchObject({ peer: c.orgs[1]!.name, treeSize: String(size), doubleSigners: names.join(',') });
    await until('fork alarm delivered', () => rx.alerts.some((x) => x.ruleId === 'cairn.alarm.fork'));
    // Polled every 100 ms, raised once.
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.alerts.filter((x) => x.ruleId === 'cairn.alarm.divergence')).toHaveLength(1);

    // Not a prefix of our tree: a fork through the consistency check.
    const r = await a.monitor!.observeCheckpoint(quorumSign(7, randomBytes(32)));
    expect(r).toEqual({ status: 'fork', doubleSigners: names });
  }, 120_000);
});

// Built-in integrity alarms of real peers (libp2p and LevelDB on 127.0.0.1), delivered through the
// alert outbox to a real webhook receiver: a fork (a conflicting checkpoint signed by a quorum of
// the genesis keys) names the double signers; a validator missing from consecutive final
// checkpoints; no quorum for longer than T; low disk space, raised once per episode however
// often it is checked.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { signNote } from '../../src/checkpoint/note.js';
import { nodeSigner } from '../../src/crypto/node.js';
import { attachAlerts } from '../../node/alerts/peer-alerts.js';
import { signEntry } from '../../src/entry/index.js';
import { encodeEvidence } from '../../node/peer/codec.js';
import { voteSignBytes, type Vote } from '../../src/consensus/index.js';
import { makeEntries, waitFor, clusterProgress } from '../peer-support/cluster.js';
import { FAST_OUTBOX, monitorFixture, monitorRulesFile as rules, until } from './helpers/monitor-fixture.js';

const fx = monitorFixture();
const fast = { outbox: FAST_OUTBOX };

describe('integrity alarms', () => {
  it('a conflicting quorum-signed checkpoint raises the fork alarm naming the double signers; low disk is raised once', async () => {
    const c = await fx.cluster(1, 'fork');
    const rx = await fx.receiver();
    const peer = await c.start(0);
    const file = await rules(c.dirs[0]!, rx.url, '{ destinations: [soc], diskFreeMinBytes: 9007199254740991, badSignaturesPerKey: 3, clockSkewRejections: 2 }');
    const a = await attachAlerts(peer, { rulesFile: file, ...fast, alarms: { checkMs: 50 } });
    await peer.submit(makeEntries(c.clients, 10, 'f'));
    await waitFor(c, '10 final', () => peer.status().finalSize >= 10, () => clusterProgress(c));
    const size = peer.status().finalSize;
    const ours = (await peer.latestCheckpoint())!;
    const org = c.orgs[0]!;
    expect(await a.monitor!.observeCheckpoint(ours)).toEqual({ status: 'consistent' });
    // Not signed by a quorum of genesis keys: not evidence of anything.
    const stranger = signNote(formatCheckpoint({ origin: c.genesis.origin, size, root: randomBytes(32) }), [{ name: org.name, signer: nodeSigner(new Uint8Array(32).fill(7)) }]);
    expect((await a.monitor!.observeCheckpoint(stranger)).status).toBe('invalid');
    const forged = signNote(formatCheckpoint({ origin: c.genesis.origin, size, root: randomBytes(32) }), [{ name: org.name, signer: org.signer }]);
    expect(await a.monitor!.observeCheckpoint(forged)).toEqual({ status: 'fork', doubleSigners: [org.name] });
    await until('fork alarm delivered', () => rx.alerts.some((x) => x.ruleId === 'cairn.alarm.fork'));
    const fork = rx.alerts.find((x) => x.ruleId === 'cairn.alarm.fork')!;
    expect(fork.severity).toBe('critical');
    expect(fork.title).toContain(org.name);
    expect(fork.group).toMatchObject({ treeSize: String(size), doubleSigners: org.name });
    // Checked every 50 ms, delivered once.
    await until('disk alarm delivered', () => rx.alerts.some((x) => x.ruleId === 'cairn.alarm.disk_low'));
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.alerts.filter((x) => x.ruleId === 'cairn.alarm.disk_low')).toHaveLength(1);
    expect(rx.alerts.filter((x) => x.ruleId === 'cairn.alarm.fork')).toHaveLength(1);
    // Equivocation evidence (two prevotes of one validator for one height and round) is named.
    const vote = (valueId: Uint8Array | null): Vote => ({ type: 'prevote', height: 9999, round: 1, valueId, validator: 0, signature: org.signer.sign(voteSignBytes(c.genesis.origin, 'prevote', 9999, 1, valueId)) });
    await peer.internals.store.putEvidence(encodeEvidence({ height: 9999, round: 1, type: 'prevote', validator: 0, first: vote(null), second: vote(randomBytes(32)) }));
    await until('equivocation alarm', () => rx.alerts.some((x) => x.ruleId === 'cairn.alarm.equivocation'));
    const eq = rx.alerts.find((x) => x.ruleId === 'cairn.alarm.equivocation')!;
    expect(eq.group).toEqual({ validator: org.name, height: '9999', round: '1', type: 'prevote' });
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.alerts.filter((x) => x.ruleId === 'cairn.alarm.equivocation')).toHaveLength(1);
    // Entries submitted with bad signatures for one client key, and with a time far off.
    const client = c.clients[1]!;
    const bad = makeEntries([client], 3, 'badsig').map((e) => ({ ...e, sig: (e.sig.startsWith('a') ? 'b' : 'a') + e.sig.slice(1) }));
    const results = await peer.submit(bad);
    expect(results.map((r) => ('error' in r ? r.error.code : 'ok'))).toEqual(['bad_signature', 'bad_signature', 'bad_signature']);
    const old = [0, 1].map((i) => signEntry({ v: 1, id: `old-${Date.now()}-${i}`, time: '2020-01-01T00:00:00Z', actor: { id: 'u', type: 'user' }, action: 'db.query', resource: { type: 't', id: 'x' }, outcome: 'success' }, client.signer));
    expect((await peer.submit(old)).map((r) => ('error' in r ? r.error.code : 'ok'))).toEqual(['clock_skew', 'clock_skew']);
    await until('bad signature and clock skew alarms', () => rx.alerts.some((x) => x.ruleId === 'cairn.alarm.bad_signatures') && rx.alerts.some((x) => x.ruleId === 'cairn.alarm.clock_skew'));
    expect(rx.alerts.find((x) => x.ruleId === 'cairn.alarm.bad_signatures')!.group).toMatchObject({ client: bad[0]!.client, clientName: client.name });
    // Re-checked every 50 ms, raised once.
    expect(a.monitor!.stats.byKind).toMatchObject({ equivocation: 1, disk_low: 1, fork: 1 });
  }, 120_000);

  it('a full outbox is itself an alarm (outbox_full), one per episode, delivered once deliveries made room', async () => {
    const c = await fx.cluster(1, 'oboxfull');
    const rx = await fx.receiver();
    rx.down = true;
    const peer = await c.start(0);
    const rule = `[{ id: every, version: 1, title: "{{entry.id}}", severity: low, destinations: [soc], condition: 'true' }]`;
    const file = await rules(c.dirs[0]!, rx.url, '{ destinations: [soc] }', rule);
    const a = await attachAlerts(peer, { rulesFile: file, outbox: { ...fast.outbox, maxQueued: 3 }, alarms: { checkMs: 50, scrubLeavesPerSecond: 0 } });
    await peer.submit(makeEntries(c.clients, 3, 'o1'));
    await waitFor(c, '3 final', () => peer.status().finalSize >= 3, () => clusterProgress(c));
    await until('3 alerts queued', () => a.stats().outbox.queued >= 3);
    await peer.submit(makeEntries(c.clients, 3, 'o2'));
    await waitFor(c, '6 final', () => peer.status().finalSize >= 6, () => clusterProgress(c));
    // The evaluator retries every second and is refused each time: one alarm for the episode.
    await until('refused twice', () => a.stats().alarms.outbox_full >= 2, 10_000);
    expect(a.monitor!.stats.byKind.outbox_full).toBe(1);
    expect(rx.alerts).toHaveLength(0);
    rx.down = false;
    await until('6 alerts and the alarm delivered', () => rx.alerts.filter((x) => x.ruleId === 'every').length >= 6 && rx.alerts.some((x) => x.ruleId === 'cairn.alarm.outbox_full'));
    const alarm = rx.alerts.find((x) => x.ruleId === 'cairn.alarm.outbox_full')!;
    expect(alarm.severity).toBe('high');
    expect(alarm.group).toMatchObject({ queued: '3', max: '3' });
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.alerts.filter((x) => x.ruleId === 'cairn.alarm.outbox_full')).toHaveLength(1);
    expect(a.monitor!.stats.byKind.outbox_full).toBe(1);
  }, 120_000);

  it('a validator missing from consecutive final checkpoints, then no quorum for longer than T', async () => {
    const c = await fx.cluster(4, 'silent');
    const rx = await fx.receiver();
    const peers = [await c.start(0), await c.start(1), await c.start(2)];
    const file = await rules(c.dirs[0]!, rx.url, '{ destinations: [soc], validatorSilentCheckpoints: 2, noQuorumSeconds: 1 }');
    await attachAlerts(peers[0]!, { rulesFile: file, ...fast, alarms: { checkMs: 100 } });
    for (let i = 0; i < 4; i++) {
      const want = peers[0]!.status().finalSize + 5;
      await peers[0]!.submit(makeEntries(c.clients, 5, `s${i}`));
      await waitFor(c, `${want} final`, () => peers[0]!.status().finalSize >= want, () => clusterProgress(c));
    }
    await until('validator_silent alarm', () => rx.alerts.some((x) => x.ruleId === 'cairn.alarm.validator_silent'));
    const silent = rx.alerts.filter((x) => x.ruleId === 'cairn.alarm.validator_silent');
    expect(silent.map((x) => x.group.validator)).toEqual([c.orgs[3]!.name]);
    expect(rx.alerts.some((x) => x.ruleId === 'cairn.alarm.no_quorum')).toBe(false);
    await c.stop(1);
    await c.stop(2);
    await until('no_quorum alarm', () => rx.alerts.some((x) => x.ruleId === 'cairn.alarm.no_quorum'));
    const nq = rx.alerts.find((x) => x.ruleId === 'cairn.alarm.no_quorum')!;
    expect(nq.group).toMatchObject({ reachable: '1', needed: '3' });
  }, 180_000);
});

// The scrub also re-verifies the search indexes of a real peer (LevelDB in a temp dir): a clean
// store passes the index check; one posting group deleted from the stopped peer's LevelDB is
// named after a restart (scrub_index_mismatch with its first leaf index), delivered through the alert
// outbox to a real webhook receiver on 127.0.0.1, once. The index check keeps the leaf scrub's rate
// bound: N leaves take about 2 N / leavesPerSecond (leaf reads, then the index records' scan).
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import { attachAlerts } from '../../node/alerts/peer-alerts.js';
import { Scrubber } from '../../node/monitor/scrub.js';
import { K_ACTOR, P_SEARCH, decodeGroup, indexOfPostingKey } from '../../node/search/keys.js';
import { makeEntries, waitFor, clusterProgress } from '../peer-support/cluster.js';
import { FAST_OUTBOX, monitorFixture, monitorRulesFile, until } from './helpers/monitor-fixture.js';

const fx = monitorFixture();

describe('background scrub of the search indexes', () => {
  it('a clean store passes; a deleted posting group is named by its first leaf index after a restart', async () => {
    const c = await fx.cluster(1, 'scrubix');
    const rx = await fx.receiver();
    const dir = c.dirs[0]!;
    const rulesFile = await monitorRulesFile(dir, rx.url, '{ destinations: [soc], scrubLeavesPerSecond: 100000, scrubPauseSeconds: 1, scrubIndexesSeconds: 1, diskFreeMinBytes: 0 }');
    const opts = { rulesFile, outbox: FAST_OUTBOX, alarms: { checkMs: 100, peerCheckpointMs: 0 } };
    const indexAlerts = () => rx.alarms('scrub_index_mismatch');

    let peer = await c.start(0);
    let a = await attachAlerts(peer, opts);
    await peer.submit(makeEntries(c.clients, 200, 'x'));
    await waitFor(c, '200 final', () => peer.status().finalSize >= 200, () => clusterProgress(c));
    await until('a clean index check', () => a.monitor!.scrubber!.stats.indexChecks >= 1);
    const checks = a.monitor!.scrubber!.stats.indexChecks;
    await until('another index check', () => a.monitor!.scrubber!.stats.indexChecks > checks, 20_000);
    expect(indexAlerts()).toEqual([]);
    expect(rx.alerts.filter((x) => x.ruleId.startsWith('cairn.alarm.scrub'))).toEqual([]);

    // One posting record (an actor index entry) deleted while the peer was stopped.
    await c.stop(0);
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'store'), { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const groups = await db.iterator({ gte: Uint8Array.of(P_SEARCH, K_ACTOR), lt: Uint8Array.of(P_SEARCH, K_ACTOR + 1), limit: 50 }).all();
    const [victim, value] = groups[groups.length - 1]!;
    // The first leaf of the group (one actor's entries of a block) is the first one found missing.
    const listed = decodeGroup(indexOfPostingKey(victim), value)!;
    const index = listed[listed.length - 1]!;
    await db.del(victim);
    await db.close();
    peer = await c.start(0);
    a = await attachAlerts(peer, opts);
    // Queries would now miss that entry; the log itself is intact (the leaf scrub stays quiet).
    await until('index alarm', () => indexAlerts().length >= 1);
    const alarm = indexAlerts()[0]!;
    expect(alarm.group).toMatchObject({ index: String(index) });
    expect(alarm.group.message).toMatch(/INDEX_MISSING/);
    expect(alarm.severity).toBe('high');
    await new Promise((r) => setTimeout(r, 2500));
    expect(indexAlerts()).toHaveLength(1);
    expect(rx.alarms('scrub_mismatch')).toEqual([]);
  }, 180_000);
});

describe('pace of the search-index check', () => {
  it('verifies the indexes of N leaves at the leaf scrub rate: about 2 N / leavesPerSecond, not at once', async () => {
    const c = await fx.cluster(1, 'scrubpace');
    const peer = await c.start(0);
    await peer.submit(makeEntries(c.clients, 400, 'p'));
    await waitFor(c, '400 final', () => peer.status().finalSize >= 400, () => clusterProgress(c));
    const size = peer.internals.store.searchAccess().treeSize();
    const mismatches: unknown[] = [];
    // 1,000 leaves/s: the leaf reads of 400+ leaves take ≥ 0.4 s, the scan of their postings as long.
    const scrubber = new Scrubber(peer, { leavesPerSecond: 1000, indexEveryMs: 1, onMismatch: (m) => mismatches.push(m) });
    const t0 = performance.now();
    expect(await scrubber.indexes()).toBeNull();
    const ms = performance.now() - t0;
    expect(scrubber.stats.indexChecks).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(2 * size * 0.9);
    // Paced by waiting, not merely slow because the machine is busy.
    expect(scrubber.stats.pausedMs).toBeGreaterThan(0);
    // The pacing waits for the rate, not much longer (generous: a loaded machine).
    expect(ms).toBeLessThan(15_000);
    expect(mismatches).toEqual([]);
  }, 120_000);
});

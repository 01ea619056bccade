// The background scrub of a real peer: an insider edits one stored leaf (then, separately, one
// stored tile) in a stopped peer's LevelDB and restarts it; within one scrub cycle the peer
// raises a scrub_mismatch alarm naming the index, delivered through the alert outbox to a real
// webhook receiver on 127.0.0.1. An unedited store raises nothing.
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import { leafHash } from '../../src/merkle/index.js';
import { attachAlerts } from '../../node/alerts/peer-alerts.js';
import { P_LEAF, P_TILE, u64 } from '../../node/storage/keys.js';
import { makeEntries, waitFor, clusterProgress } from '../peer-support/cluster.js';
import { FAST_OUTBOX, monitorFixture, monitorRulesFile, until } from './helpers/monitor-fixture.js';

const fx = monitorFixture();

/** Flips one byte of a stored record of a stopped peer; returns a function that puts it back. */
async function tamper(storeDir: string, key: Uint8Array, at: number): Promise<() => Promise<void>> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(storeDir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const v = (await db.get(key))!;
  const edited = Uint8Array.from(v);
  edited[at] = edited[at]! ^ 0x01;
  await db.put(key, edited);
  await db.close();
  return async () => {
    const d = new ClassicLevel<Uint8Array, Uint8Array>(storeDir, { keyEncoding: 'view', valueEncoding: 'view' });
    await d.open();
    await d.put(key, v);
    await d.close();
  };
}

/** Edits leaf `i` and writes its new leaf hash into the level-0 tile, so the two agree. */
async function tamperConsistently(storeDir: string, i: number): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(storeDir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const lk = Uint8Array.of(P_LEAF, ...u64(i));
  const leaf = Uint8Array.from((await db.get(lk))!);
  leaf[40] = leaf[40]! ^ 0x01;
  const tk = Uint8Array.of(P_TILE, 0, ...u64(Math.floor(i / 256)));
  const tile = Uint8Array.from((await db.get(tk))!);
  tile.set(leafHash(leaf), (i % 256) * 32);
  await db.batch([{ type: 'put', key: lk, value: leaf }, { type: 'put', key: tk, value: tile }]);
  await db.close();
}

describe('background scrub', () => {
  it('names an edited leaf, then an edited tile, within one cycle after a restart; a clean store raises nothing', async () => {
    const c = await fx.cluster(1, 'scrub');
    const rx = await fx.receiver();
    const dir = c.dirs[0]!;
    const rulesFile = await monitorRulesFile(dir, rx.url, '{ destinations: [soc], scrubLeavesPerSecond: 100000, scrubPauseSeconds: 1, diskFreeMinBytes: 0 }');
    const opts = { rulesFile, outbox: FAST_OUTBOX, alarms: { checkMs: 100 } };
    const scrubAlerts = () => rx.alarms('scrub_mismatch');

    let peer = await c.start(0);
    let a = await attachAlerts(peer, opts);
    for (let i = 0; i < 3; i++) await peer.submit(makeEntries(c.clients, 100, `s${i}`));
    await waitFor(c, '300 final', () => peer.status().finalSize >= 300, () => clusterProgress(c));
    // A clean store: cycles complete, nothing raised.
    await until('a clean cycle over 300', () => (a.monitor!.scrubber!.stats.cycles ?? 0) >= 1 && a.monitor!.scrubber!.stats.position >= 256);
    const cleanCycles = a.monitor!.scrubber!.stats.cycles;
    await until('another cycle', () => a.monitor!.scrubber!.stats.cycles > cleanCycles);
    expect(scrubAlerts()).toEqual([]);
    const size = peer.status().finalSize;

    // 1. One leaf edited while the peer was stopped.
    await c.stop(0);
    const store = join(dir, 'store');
    const restoreLeaf = await tamper(store, Uint8Array.of(P_LEAF, ...u64(7)), 40);
    peer = await c.start(0);
    a = await attachAlerts(peer, opts);
    // The peer serves the edited entry: nothing but the scrub notices.
    expect(await peer.getLeaf(7)).not.toBeUndefined();
    await until('leaf alarm', () => scrubAlerts().length >= 1);
    expect(scrubAlerts()[0]!.group).toEqual({ what: 'leaf', index: '7', treeSize: String(size) });
    expect(scrubAlerts()[0]!.severity).toBe('critical');

    // 2. The leaf put back; now a careful insider: leaf 100 edited AND its hash in the level-0 tile
    // recomputed, so leaf and tile agree. The level-0 tile no longer gives the level-1 hash of
    // leaves 0..255. (Editing that level-1 hash too would already stop the store from opening:
    // the head's log state covers it.)
    await c.stop(0);
    await restoreLeaf();
    await tamperConsistently(store, 100);
    peer = await c.start(0);
    a = await attachAlerts(peer, opts);
    await until('tile alarm', () => scrubAlerts().length >= 2);
    expect(scrubAlerts()[1]!.group).toEqual({ what: 'tile', index: '0', treeSize: String(size) });
    // Raised on every cycle while it lasts, delivered once (same id).
    await new Promise((r) => setTimeout(r, 1500));
    expect(scrubAlerts()).toHaveLength(2);
  }, 180_000);
});

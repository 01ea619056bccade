// The scrub also re-verifies the search indexes of a real peer (LevelDB in a temp dir): a clean
// store passes the index check; one posting record deleted from the stopped peer's LevelDB is
// named after a restart (scrub_index_mismatch with the leaf index), delivered through the alert
// outbox to a real webhook receiver on 127.0.0.1, once.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/types.js';
import { attachAlerts } from '../../node/alerts/peer-alerts.js';
import { K_ACTOR, P_SEARCH, indexOfPostingKey } from '../../node/search/keys.js';
import { makeCluster, makeEntries, waitFor, clusterProgress, type Cluster } from '../peer-support/cluster.js';

let cluster: Cluster | null = null;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.close();
  cluster = null;
});

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('background scrub of the search indexes', () => {
  it('a clean store passes; a deleted posting record is named by its leaf index after a restart', async () => {
    const c = (cluster = await makeCluster(1, { label: 'scrubix' }));
    const st = { alerts: [] as Alert[] };
    const server: Server = createServer((req, res) => {
      const ch: Buffer[] = [];
      req.on('data', (x: Buffer) => ch.push(x));
      req.on('end', () => {
        st.alerts.push((JSON.parse(Buffer.concat(ch).toString('utf8')) as { data: Alert }).data);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
    const dir = c.dirs[0]!;
    await writeFile(join(dir, 'whsec.txt'), `whsec_${randomBytes(32).toString('base64')}`);
    const rulesFile = join(dir, 'rules.yaml');
    await writeFile(
      rulesFile,
      `version: 1\ndestinations:\n  soc: { type: webhook, url: "http://127.0.0.1:${(server.address() as { port: number }).port}/hook", secretFile: whsec.txt }\n` +
        'alarms: { destinations: [soc], scrubLeavesPerSecond: 100000, scrubPauseSeconds: 1, scrubIndexesSeconds: 1, diskFreeMinBytes: 0 }\nrules: []\n',
    );
    const opts = { rulesFile, outbox: { tickMs: 20, backoffBaseMs: 50, backoffMaxMs: 200 }, alarms: { checkMs: 100, peerCheckpointMs: 0 } };
    const indexAlerts = () => st.alerts.filter((a) => a.ruleId === 'cairn.alarm.scrub_index_mismatch');

    let peer = await c.start(0);
    let a = await attachAlerts(peer, opts);
    await peer.submit(makeEntries(c.clients, 200, 'x'));
    await waitFor(c, '200 final', () => peer.status().finalSize >= 200, () => clusterProgress(c));
    await until('a clean index check', () => a.monitor!.scrubber!.stats.indexChecks >= 1);
    const checks = a.monitor!.scrubber!.stats.indexChecks;
    await until('another index check', () => a.monitor!.scrubber!.stats.indexChecks > checks, 20_000);
    expect(indexAlerts()).toEqual([]);
    expect(st.alerts.filter((x) => x.ruleId.startsWith('cairn.alarm.scrub'))).toEqual([]);

    // One posting record (an actor index entry) deleted while the peer was stopped.
    await c.stop(0);
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'store'), { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const keys = await db.keys({ gte: Uint8Array.of(P_SEARCH, K_ACTOR), lt: Uint8Array.of(P_SEARCH, K_ACTOR + 1), limit: 50 }).all();
    const victim = keys[keys.length - 1]!;
    const index = indexOfPostingKey(victim);
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
    expect(st.alerts.filter((x) => x.ruleId === 'cairn.alarm.scrub_mismatch')).toEqual([]);
  }, 180_000);
});

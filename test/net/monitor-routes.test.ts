// The monitoring routes on a real peer: a fork reported by POST /v1/checkpoints/observe (a
// conflicting checkpoint signed by a quorum of genesis keys) names the double signers and raises
// the fork alarm; junk and under-signed notes are refused; alert status and reload for operators;
// 503 when the peer runs without alerts.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { signNote } from '../../src/checkpoint/note.js';
import { nodeSigner } from '../../src/crypto/node.js';
import { attachAlerts } from '../../node/alerts/peer-alerts.js';
import { makeHttpCluster, postJson, call, type HttpCluster } from './helpers/http-cluster.js';
import { makeEntries, waitFor, clusterProgress } from '../peer-support/cluster.js';
import { monitorRulesFile } from './helpers/monitor-fixture.js';

let cluster: HttpCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

describe('monitoring routes', () => {
  it('observe a forked checkpoint, alert status and reload; 503 without alerts', async () => {
    const c = (cluster = await makeHttpCluster(1, { label: 'mroutes' }));
    const http = await c.startWithHttp(0);
    const peer = c.peers[0]!;
    expect((await postJson(`${http.url}/v1/checkpoints/observe`, { checkpoint: 'x' })).status).toBe(503);
    expect((await call(`${http.url}/v1/alerts/status`)).status).toBe(503);
    const dir = c.dirs[0]!;
    const rulesFile = await monitorRulesFile(dir, 'http://127.0.0.1:9/none', '{ destinations: [soc], scrubLeavesPerSecond: 0 }');
    await attachAlerts(peer, { rulesFile });
    await peer.submit(makeEntries(c.clients, 5, 'r'));
    await waitFor(c, '5 final', () => peer.status().finalSize >= 5, () => clusterProgress(c));
    const size = peer.status().finalSize;
    const org = c.orgs[0]!;
    const forged = signNote(formatCheckpoint({ origin: c.genesis.origin, size, root: randomBytes(32) }), [{ name: org.name, signer: org.signer }]);
    const r = await postJson(`${http.url}/v1/checkpoints/observe`, { checkpoint: forged });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'fork', doubleSigners: [org.name] });
    expect((await postJson(`${http.url}/v1/checkpoints/observe`, { checkpoint: (await peer.latestCheckpoint())! })).json).toEqual({ status: 'consistent' });
    const stranger = signNote(formatCheckpoint({ origin: c.genesis.origin, size, root: randomBytes(32) }), [{ name: org.name, signer: nodeSigner(new Uint8Array(32).fill(9)) }]);
    expect((await postJson(`${http.url}/v1/checkpoints/observe`, { checkpoint: stranger })).status).toBe(400);
    expect((await postJson(`${http.url}/v1/checkpoints/observe`, { note: forged })).status).toBe(400);
    const st = await call(`${http.url}/v1/alerts/status`);
    expect(st.status).toBe(200);
    // Both sets of counters: the outbox's own alarms and the integrity monitor's.
    expect(st.json.integrity.byKind.fork).toBe(1);
    expect(st.json.outbox.alarms).toEqual({ outbox_full: 0, delivery_failing: 0 });
    expect(st.json.outbox.queued).toBeGreaterThanOrEqual(0);
    expect(st.json.nextIndex).toBeGreaterThanOrEqual(0);
    await writeFile(rulesFile, 'version: 1\nrules: [ {');
    const bad = await postJson(`${http.url}/v1/alerts/reload`, {});
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/rules\.yaml/);
    expect((await call(`${http.url}/v1/alerts/status`)).json.reloads).toEqual({ ok: 0, failed: 1 });
  }, 60_000);

  it('a wrong method on a monitoring route answers 405 with Allow, not 404', async () => {
    const c = (cluster = await makeHttpCluster(1, { label: 'mroutes405' }));
    const http = await c.startWithHttp(0);
    for (const [path, method, allow] of [
      ['/v1/checkpoints/observe', 'GET', 'POST'],
      ['/v1/alerts/status', 'POST', 'GET'],
      ['/v1/alerts/reload', 'GET', 'POST'],
    ] as const) {
      const r = await call(`${http.url}${path}`, { method });
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.headers.get('allow'), path).toBe(allow);
      expect(r.json.error.code).toBe('method_not_allowed');
    }
  }, 60_000);
});

// Meta-audit without a quorum: 4 organizations, 2 stopped. Events recorded meanwhile stay in the
// durable queue (no entry can be final); when a third organization returns, every one of them
// becomes a final entry naming its principal, and the queue empties.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetaAudit, type MetaAudit } from '../../node/meta-audit/index.js';
import { clusterProgress, makeCluster, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';
import { entriesOf, eventCount, metaAuditClients } from '../peer-support/meta-audit.js';

let c: Cluster;
let ma: MetaAudit | null = null;
let qdir = '';

beforeAll(async () => {
  c = await makeCluster(4, { label: 'maq', extraClients: metaAuditClients });
  await Promise.all([0, 1, 2, 3].map((i) => c.start(i)));
  await waitConnected(c, [0, 1, 2, 3], 3);
  qdir = await mkdtemp(join(tmpdir(), 'cairn-maq-'));
});
afterAll(async () => {
  await ma?.close();
  await c?.close();
  if (qdir !== '') await rm(qdir, { recursive: true, force: true });
});

describe('meta-audit and quorum loss', () => {
  it('events recorded while 2 of 4 peers are down stay queued, then appear as final entries naming the principal', async () => {
    const client = metaAuditClients(c.orgs)[0]!;
    ma = await openMetaAudit({ peer: c.peers[0]!, dir: qdir, seed: client.seed, limits: { coalesceWindowMs: 100, pollMs: 100, retryMs: 200 } });
    // With everybody up, one event goes through end to end.
    await ma.record({ actor: 'key:warmup', action: 'cairn.read.status', resource: { type: 'route', id: '/v1/status' }, address: '127.0.0.1', outcome: 'success', atMs: Date.now() });
    await waitFor(c, 'warm-up meta-audit entry final', () => ma!.stats().queued === 0, () => clusterProgress(c) + ma!.stats().final);

    await c.stop(2);
    await c.stop(3);
    await waitFor(c, 'peer 0 notices it lacks a quorum', () => c.peers[0]!.status().problem === 'no quorum', () => clusterProgress(c), { stallMs: 20_000, maxMs: 30_000 });
    const principals = ['https://idp.example#alice', 'https://idp.example#bob', 'key:auditor', 'anonymous'];
    const finalBefore = c.peers[0]!.status().finalSize;
    for (let i = 0; i < 20; i++) {
      const actor = principals[i % principals.length]!;
      const denied = actor === 'anonymous';
      const r = await ma.record({
        actor,
        action: denied ? 'cairn.auth.denied' : 'cairn.read.entry',
        resource: { type: 'entry', id: `h${i}` },
        address: `10.0.0.${i % 3}`,
        outcome: denied ? 'denied' : 'success',
        ...(denied ? { reason: 'missing_credentials' } : {}),
        atMs: Date.now(),
      });
      expect(r).toBe('queued');
    }
    // Several consensus rounds' worth of time: nothing becomes final, everything stays queued.
    await new Promise((r) => setTimeout(r, 4_000));
    expect(c.peers[0]!.status().finalSize).toBe(finalBefore);
    const waiting = ma.stats();
    expect(waiting.queued).toBeGreaterThan(0);
    expect(waiting.final).toBe(1);
    expect((await entriesOf(c.peers[0]!, client.publicKeyHex)).map((e) => e.actor.id)).toEqual(['key:warmup']);

    // Quorum returns.
    await c.start(2);
    await waitFor(c, 'the queue drains into final entries', () => ma!.stats().queued === 0, () => clusterProgress(c) + ma!.stats().final, { stallMs: 30_000, maxMs: 120_000 });
    const entries = (await entriesOf(c.peers[0]!, client.publicKeyHex)).filter((e) => e.actor.id !== 'key:warmup');
    expect(eventCount(entries)).toBe(20);
    expect(new Set(entries.map((e) => e.actor.id))).toEqual(new Set(principals));
    const resources = entries.flatMap((e) => ((e.data as { resources?: { id: string }[] }).resources ?? [e.resource]).map((r) => r.id));
    expect(resources.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `h${i}`).sort());
    for (const e of entries) {
      expect(e.action).toBe(e.actor.id === 'anonymous' ? 'cairn.auth.denied' : 'cairn.read.entry');
      expect(e.outcome).toBe(e.actor.id === 'anonymous' ? 'denied' : 'success');
    }
    // The returning organization holds the same final entries.
    await waitFor(c, 'peer 2 catches up', () => c.peers[2]!.status().finalSize >= c.peers[0]!.status().finalSize, () => clusterProgress(c));
    expect((await entriesOf(c.peers[2]!, client.publicKeyHex)).length).toBe(entries.length + 1);
  });
});

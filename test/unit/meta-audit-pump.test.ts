// The meta-audit pump against a real one-organization peer (libp2p on 127.0.0.1, LevelDB in temp
// dirs): events become final entries naming the principal, the queue empties, and a record that
// was already logged by an earlier run (signed at another time, as after a crash) is recognized by
// its id — never logged twice.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openMetaAudit, type MetaAudit } from '../../node/meta-audit/index.js';
import { MetaAuditQueue } from '../../node/meta-audit/queue.js';
import { signRecord } from '../../node/meta-audit/entry.js';
import { DEFAULT_META_AUDIT_LIMITS } from '../../node/meta-audit/types.js';
import { startPeer, type Peer } from '../../node/peer/peer.js';
import { nodeSigner } from '../../src/crypto/node.js';
import { makeClients, makeGenesis, makeOrgs, seedOf } from '../peer-support/fixtures.js';
import { entriesOf, eventCount, metaAuditClients, until } from '../peer-support/meta-audit.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
});

async function tmp(label: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `cairn-ma-${label}-`));
  cleanup.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

const FAST = { coalesceWindowMs: 50, pollMs: 50, retryMs: 100 };

async function onePeer(): Promise<{ peer: Peer; seed: Uint8Array; client: string }> {
  const orgs = await makeOrgs(1, 'mp');
  const ma = metaAuditClients(orgs);
  const genesis = makeGenesis(orgs, [...ma, ...makeClients(1)], { limits: { blockIntervalMs: 20, timeouts: { proposeMs: 500, prevoteMs: 200, precommitMs: 200, deltaMs: 100 } } });
  const peer = await startPeer({ genesis, signingSeed: orgs[0]!.seed, p2pKey: orgs[0]!.p2pKey, dataDir: await tmp('peer'), listen: [`/ip4/127.0.0.1/tcp/${orgs[0]!.port}`] });
  cleanup.push(() => peer.stop());
  return { peer, seed: ma[0]!.seed, client: ma[0]!.publicKeyHex };
}

describe('meta-audit pump', () => {
  it('turns recorded events into final entries naming the principal, then empties the queue', async () => {
    const { peer, seed, client } = await onePeer();
    // A window long enough that the burst below shares a record even on a loaded machine.
    const ma: MetaAudit = await openMetaAudit({ peer, dir: await tmp('q'), seed, limits: { ...FAST, coalesceWindowMs: 2_000 } });
    cleanup.push(() => ma.close());
    const at = Date.now();
    await ma.record({ actor: 'https://idp.example#alice', action: 'cairn.read.entry', resource: { type: 'entry', id: 'h1' }, address: '127.0.0.1', outcome: 'success', atMs: at });
    await ma.record({ actor: 'anonymous', action: 'cairn.auth.denied', resource: { type: 'route', id: '/v1/entries' }, address: '10.1.2.3', outcome: 'denied', reason: 'missing_credentials', atMs: at });
    // A burst of one principal: coalesced into one entry.
    await Promise.all(['r1', 'r2', 'r3'].map((id) => ma.record({ actor: 'key:auditor', action: 'cairn.read.search', resource: { type: 'query', id }, address: '127.0.0.1', outcome: 'success', atMs: at })));
    await until('queue drained into final entries', () => ma.stats().queued === 0, 30_000, () => JSON.stringify(ma.stats()));
    const entries = await entriesOf(peer, client);
    expect(entries.map((e) => [e.actor.id, e.action, e.outcome, e.resource.id, e.reason ?? null, e.source?.ip ?? null]).sort()).toEqual(
      [
        ['https://idp.example#alice', 'cairn.read.entry', 'success', 'h1', null, '127.0.0.1'],
        ['anonymous', 'cairn.auth.denied', 'denied', '/v1/entries', 'missing_credentials', '10.1.2.3'],
        ['key:auditor', 'cairn.read.search', 'success', 'r1', null, '127.0.0.1'],
      ].sort(),
    );
    const burst = entries.find((e) => e.actor.id === 'key:auditor')!;
    expect(burst.data).toMatchObject({ count: 3, resources: [{ type: 'query', id: 'r1' }, { type: 'query', id: 'r2' }, { type: 'query', id: 'r3' }] });
    expect(eventCount(entries)).toBe(5);
    expect(ma.stats()).toMatchObject({ queued: 0, final: 3, events: 5, coalesced: 2, submitErrors: 0 });
  });

  it('a record already logged by an earlier run is recognized by its id and not logged again', async () => {
    const { peer, seed, client } = await onePeer();
    const dir = await tmp('q2');
    // Run 1: events are queued (no pump), then "submitted before the crash": signed at another
    // time, so the new run's entries differ byte for byte but carry the same ids.
    const first = await openMetaAudit({ peer, dir, seed, limits: FAST, pump: false });
    for (const a of ['key:a', 'key:b', 'key:c']) await first.record({ actor: a, action: 'cairn.read.entry', resource: { type: 'entry', id: 'x' }, address: '127.0.0.1', outcome: 'success', atMs: Date.now() });
    await first.close();
    const raw = await MetaAuditQueue.open(dir, DEFAULT_META_AUDIT_LIMITS);
    const earlier = [...raw.records.values()].map((r) => signRecord(r, raw.instance, Date.now() - 60_000, nodeSigner(seed)));
    await raw.close();
    const res = await peer.submit(earlier.slice(0, 2));
    expect(res.every((r) => 'status' in r && r.status === 'accepted')).toBe(true);
    await until('earlier entries final', async () => (await entriesOf(peer, client)).length === 2, 30_000);

    // Run 2 (after the "restart"): resubmits every queued record under its id.
    const second = await openMetaAudit({ peer, dir, seed, limits: FAST });
    cleanup.push(() => second.close());
    await until('queue drained', () => second.stats().queued === 0, 30_000, () => JSON.stringify(second.stats()));
    const entries = await entriesOf(peer, client);
    expect(entries.map((e) => e.actor.id).sort()).toEqual(['key:a', 'key:b', 'key:c']);
    expect(new Set(entries.map((e) => e.id)).size).toBe(3);
    // The two already-logged ones are the earlier run's entries (their time is a minute older).
    expect(entries.filter((e) => Date.parse(e.time) < Date.now() - 30_000).map((e) => e.actor.id).sort()).toEqual(['key:a', 'key:b']);
    expect(second.stats()).toMatchObject({ final: 3, submitErrors: 0 });
  });

  it('without a quorum for longer than maxClockSkewMs, records the mempool dropped are submitted again, then logged once', async () => {
    const orgs = await makeOrgs(2, 'ms');
    const ma = metaAuditClients(orgs);
    const genesis = makeGenesis(orgs, ma, { limits: { maxClockSkewMs: 2_000, blockIntervalMs: 20, timeouts: { proposeMs: 500, prevoteMs: 200, precommitMs: 200, deltaMs: 100 } } });
    const start = async (i: number) => {
      const p = await startPeer({ genesis, signingSeed: orgs[i]!.seed, p2pKey: orgs[i]!.p2pKey, dataDir: await tmp(`peer${i}`), listen: [`/ip4/127.0.0.1/tcp/${orgs[i]!.port}`] });
      cleanup.push(() => p.stop());
      return p;
    };
    const peer = await start(0); // 1 of 2: no quorum
    const audit = await openMetaAudit({ peer, dir: await tmp('q3'), seed: ma[0]!.seed, limits: FAST });
    cleanup.push(() => audit.close());
    for (const a of ['key:a', 'key:b', 'key:c']) await audit.record({ actor: a, action: 'cairn.read.entry', resource: { type: 'entry', id: 'x' }, address: '127.0.0.1', outcome: 'success', atMs: Date.now() });
    await until('submitted to the mempool', () => audit.stats().submitted === 3 && peer.status().mempool.entries === 3, 10_000, () => JSON.stringify(audit.stats()));
    // The entries' time leaves the skew window: the mempool drops them (as its expiry timer would).
    await new Promise((r) => setTimeout(r, 2_500));
    expect(peer.internals.mempool.expire()).toBe(3);
    await until('submitted again with a fresh time', () => audit.stats().submitted >= 6 && peer.status().mempool.entries === 3, 10_000, () => JSON.stringify(audit.stats()));
    expect(audit.stats().queued).toBe(3);
    // Quorum returns.
    const other = await start(1);
    await until('queue drained', () => audit.stats().queued === 0, 60_000, () => JSON.stringify([audit.stats(), peer.status().finalSize, other.status().finalSize]));
    const entries = await entriesOf(peer, ma[0]!.publicKeyHex);
    expect(entries.map((e) => e.actor.id).sort()).toEqual(['key:a', 'key:b', 'key:c']);
    expect(new Set(entries.map((e) => e.id)).size).toBe(3);
  });

  it('refuses to start with a key that is not the organization meta-audit client', async () => {
    const { peer, seed } = await onePeer();
    await expect(openMetaAudit({ peer, dir: await tmp('bad'), seed: seedOf('someone else') })).rejects.toMatchObject({ code: 'meta_audit_key_mismatch' });
    await expect(openMetaAudit({ peer, dir: await tmp('bad2'), seed, organization: 'other-org' })).rejects.toMatchObject({ code: 'meta_audit_no_client' });
  });
});


// Peer connections follow the validator set, on a real in-process cluster (libp2p on 127.0.0.1,
// LevelDB in temp dirs): a fifth organization's peer, started with the same genesis and its own
// keys, is refused until an org.add for it is decided, then connects, catches up and counts as a
// member (quorum 4 of 5) from its effective height; a removed organization's peer is
// disconnected by everyone when its removal takes effect and refused from then on.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPeer, type Peer } from '../../node/peer/peer.js';
import { GOV_TYPES_IN_FORCE } from '../../node/peer/governance.js';
import { signEntry } from '../../src/entry/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { govEntry, signGovRecord, unsignedGovRecord, type GovRecord, type GovSigner, type GovType } from '../../src/governance/index.js';
import { clusterProgress, makeCluster, makeEntries, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';
import { makeOrgs, type OrgFixture } from '../peer-support/fixtures.js';

let c: Cluster;
let newcomer: OrgFixture;
let np: Peer | null = null;
let ndir: string;
const nlogs: { level: string; msg: string; obj: Record<string, unknown> }[] = [];

// Connections follow the governance state whether or not consensus applies membership records
// (GOV_TYPES_IN_FORCE): the test lets the in-process peers apply org.add and org.remove in any case
// and restores the set afterwards. The organizations it needs for a quorum run throughout.
const LET_IN: GovType[] = ['org.add', 'org.remove'];
const inForce = GOV_TYPES_IN_FORCE as Set<GovType>;
const added = LET_IN.filter((t) => !inForce.has(t));

const org = (i: number): GovSigner => ({ name: c.orgs[i]!.name, signer: c.orgs[i]!.signer });
let seq = 0;
const carry = (record: GovRecord): AuditEntry =>
  signEntry(govEntry(record, { time: new Date().toISOString(), actor: { id: 'membership-test', type: 'service' }, id: `memb-${seq++}-${Date.now()}` }), c.clients[0]!.signer);
const running = (): Peer[] => [...c.peers.filter((p): p is Peer => p !== null), ...(np ? [np] : [])];
const progress = () => clusterProgress(c) + (np ? np.status().height + np.status().treeSize : 0);
const head = () => Math.max(...running().map((p) => p.status().height));

/** Submits filler entries (one small batch per height, at most 40) until every given peer's head reaches `height`. */
async function advanceTo(peers: Peer[], height: number): Promise<void> {
  for (let round = 0; round < 40 && !peers.every((p) => p.status().height >= height); round++) {
    const before = c.peers[0]!.status().height;
    await c.peers[0]!.submit(makeEntries(c.clients, 2, `fill${round}-${height}`));
    await waitFor(c, `a new height on peer 0 after ${before}`, () => c.peers[0]!.status().height > before, progress, { stallMs: 20_000, maxMs: 30_000, pollMs: 50 });
  }
  await waitFor(c, `heads at ${height}`, () => peers.every((p) => p.status().height >= height), progress, { stallMs: 20_000, maxMs: 40_000 });
}

beforeAll(async () => {
  for (const t of added) inForce.add(t);
  c = await makeCluster(4, { label: 'memb' });
  for (let i = 0; i < 4; i++) await c.start(i);
  await waitConnected(c, [0, 1, 2, 3], 3);
  newcomer = (await makeOrgs(1, 'membnew'))[0]!;
  ndir = await mkdtemp(join(tmpdir(), 'cairn-membnew-'));
}, 120_000);

afterAll(async () => {
  for (const t of added) inForce.delete(t);
  await np?.stop().catch(() => undefined);
  await c?.close();
  if (ndir) await rm(ndir, { recursive: true, force: true });
}, 60_000);

describe('connections follow the validator set', () => {
  it('a fifth organization is refused, then admitted once its addition is decided: it catches up and becomes a member (quorum 4 of 5)', async () => {
    await c.peers[0]!.submit(makeEntries(c.clients, 5, 'before'));
    const capture = (level: string) => (obj: Record<string, unknown>, msg: string) => {
      if (nlogs.length < 5_000) nlogs.push({ level, msg, obj });
    };
    np = await startPeer({
      genesis: c.genesis,
      signingSeed: newcomer.seed,
      p2pKey: newcomer.p2pKey,
      dataDir: ndir,
      listen: [`/ip4/127.0.0.1/tcp/${newcomer.port}`],
      logger: { debug: () => {}, info: capture('info'), warn: capture('warn'), error: capture('error') },
    });
    const denied = () => c.peers.reduce((s, p) => s + (p?.internals.net.stats().gaterDeniedInbound ?? 0), 0);
    await waitFor(c, 'the genesis peers to refuse the newcomer', () => denied() >= 2, progress, { stallMs: 20_000, maxMs: 20_000 });
    expect(np.status().peers.filter((p) => p.connected)).toEqual([]);
    expect(np.status().validator).toBeNull();

    const h = head();
    const record = signGovRecord(
      unsignedGovRecord('org.add', { epoch: 1, org: { name: newcomer.name, key: newcomer.verifierKey, peerId: newcomer.peerId }, deadline: h + 1_000, nonce: 'add-newcomer' }),
      [org(0), org(1), org(2), { name: newcomer.name, signer: newcomer.signer }],
    );
    const r = await c.peers[1]!.submit([carry(record)]);
    expect(r[0], JSON.stringify(r)).toMatchObject({ status: 'accepted' });
    await waitFor(c, 'the addition decided on the four', () => c.peers.every((p) => (p!.status().governance?.records ?? 0) >= 1), progress, { stallMs: 20_000, maxMs: 60_000 });
    const effective = c.peers[0]!.status().governance!.pending!.effectiveHeight;

    // Admitted as a scheduled member: it connects and catches up before its effective height.
    await waitFor(c, 'the newcomer connected to the four', () => np!.internals.net.connectedPeers().length === 4, progress, { stallMs: 20_000, maxMs: 40_000 });
    await advanceTo([...c.peers as Peer[], np], effective);
    await waitFor(c, 'the newcomer caught up', () => np!.status().height >= c.peers[0]!.status().height - 1 && (np!.status().governance?.records ?? 0) >= 1, progress, { stallMs: 20_000, maxMs: 40_000 });
    expect(np.status().governance!.govStateHash).toBe(c.peers[0]!.status().governance!.govStateHash);
    for (const p of running()) {
      const s = p.status();
      expect(s.quorum.needed, `quorum on ${s.peerId.slice(-6)}`).toBe(4);
      expect(s.peers.filter((x) => x.role === 'member')).toHaveLength(4);
    }
    expect(np.status().validator).toEqual({ index: 4, name: newcomer.name });
    expect(c.peers[0]!.status().peers.find((x) => x.peerId === newcomer.peerId)).toMatchObject({ name: newcomer.name, connected: true, role: 'member' });
    expect(nlogs.some((l) => l.msg === "this peer's organization is now scheduled to join the validator set")).toBe(true);
    expect(nlogs.some((l) => l.msg === "this peer's organization is now a validator")).toBe(true);
  }, 120_000);

  it('a removed organization is disconnected when its removal takes effect and refused from then on', async () => {
    const h = head();
    const gone = c.orgs[3]!;
    const record = signGovRecord(unsignedGovRecord('org.remove', { epoch: 2, org: gone.name, deadline: h + 1_000, nonce: 'remove-3' }), [
      org(0),
      org(1),
      org(2),
      { name: newcomer.name, signer: newcomer.signer },
    ]);
    const r = await c.peers[0]!.submit([carry(record)]);
    expect(r[0], JSON.stringify(r)).toMatchObject({ status: 'accepted' });
    const stay = [c.peers[0]!, c.peers[1]!, c.peers[2]!, np!];
    await waitFor(c, 'the removal decided', () => stay.every((p) => (p.status().governance?.records ?? 0) >= 2), progress, { stallMs: 20_000, maxMs: 60_000 });
    const effective = c.peers[0]!.status().governance!.pending!.effectiveHeight;
    await advanceTo(stay, effective);
    await waitFor(c, 'nobody connected to the removed peer', () => stay.every((p) => !p.internals.net.connectedPeers().includes(gone.peerId)) && c.peers[3]!.internals.net.connectedPeers().length === 0, progress, {
      stallMs: 20_000,
      maxMs: 30_000,
    });
    // It keeps dialing and is refused, named as removed.
    await waitFor(c, 'the removed peer refused as removed', () => stay.some((p) => p.internals.net.stats().gaterDeniedRemoved >= 1), progress, { stallMs: 20_000, maxMs: 30_000 });
    expect(c.logs[0]!.some((l) => l.msg === 'peer removed from the validator set: connections closed, refused from now on' && l.obj.org === gone.name)).toBe(true);
    const names = [c.orgs[0]!.name, c.orgs[1]!.name, c.orgs[2]!.name, newcomer.name];
    for (const p of stay) {
      const s = p.status();
      expect(s.peers.map((x) => x.name).sort()).toEqual(names.filter((n) => n !== s.validator?.name).sort());
      expect(s.quorum.needed).toBe(3);
    }
    expect(c.peers[3]!.status().quorum.ok).toBe(false);
    // The others keep finalizing entries.
    const e = makeEntries(c.clients, 3, 'after-remove');
    const res = await c.peers[2]!.submit(e);
    const leaf = (res[0] as { leafHash: string }).leafHash;
    await waitFor(c, 'entries final after the removal', async () => (await Promise.all(stay.map((p) => p.getEntry(leaf)))).every((x) => x.status === 'final'), progress, { stallMs: 20_000, maxMs: 40_000 });
  }, 120_000);
});

// Connections follow the validator set (PeerNetwork.setMembers, node/net/membership-gate.ts), on
// real libp2p hosts on 127.0.0.1: a host outside the set is refused until the members admit it,
// then it connects (it dials them from its own list: the members do not know its address); a
// removed host's connections are closed at once and it is refused from then on, named as removed.
import { afterEach, describe, expect, it } from 'vitest';
import type { NetLogger, PeerNetwork } from '../../node/net/index.js';
import { createPeerNetwork } from '../../node/net/index.js';
import { describeHosts, GENESIS_A, identities, NS_A, startCluster, stopAll, TEST_LIMITS, waitFor, waitFullMesh } from './net-helpers.js';

describe('membership gate on real hosts', () => {
  let hosts: PeerNetwork[] = [];
  afterEach(async () => {
    await stopAll(hosts);
    hosts = [];
  });

  it('admits an added host, closes and refuses a removed one', async () => {
    const ids = await identities(5);
    const logged: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
    const capture = (level: string) => (obj: Record<string, unknown>, msg: string) => logged.push({ level, obj, msg });
    const logger: NetLogger = { debug: () => {}, info: capture('info'), warn: capture('warn'), error: capture('error') };
    const members = await startCluster(ids.slice(0, 4), ids.slice(0, 4), { extra: { logger } });
    hosts.push(...members);
    await waitFullMesh(members);

    // The newcomer lists the four members with their addresses (its operator's config).
    const newcomer = await createPeerNetwork({
      privateKey: ids[4]!.key,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers: ids.slice(0, 4).map((g, i) => ({ peerId: g.peerId, addrs: members[i]!.addresses() })),
      namespace: NS_A,
      genesisHash: GENESIS_A,
      limits: TEST_LIMITS,
    });
    hosts.push(newcomer);
    await waitFor('every member to refuse the newcomer', () => members.every((m) => m.stats().gaterDeniedInbound >= 1), 15_000, () => describeHosts(hosts));
    expect(newcomer.connectedPeers()).toEqual([]);
    expect(members.every((m) => m.stats().gaterDeniedRemoved === 0)).toBe(true);

    // Its addition is decided: the members admit it (scheduled, no address known to them).
    const withNew = [...ids.slice(0, 4).map((g, i) => ({ peerId: g.peerId, name: `org${i}`, addrs: members[i]!.addresses() })), { peerId: ids[4]!.peerId, name: 'org4', role: 'scheduled' as const, addrs: [] }];
    for (const m of members) expect(await m.setMembers(withNew)).toEqual({ added: [ids[4]!.peerId], removed: [] });
    await waitFor('the newcomer connected to all four', () => newcomer.connectedPeers().length === 4 && members.every((m) => m.connectedPeers().includes(ids[4]!.peerId)), 15_000, () => describeHosts(hosts));
    expect(members[0]!.members().find((p) => p.peerId === ids[4]!.peerId)).toEqual({ peerId: ids[4]!.peerId, name: 'org4', role: 'scheduled' });
    expect(members[0]!.stats().membersAdded).toBe(1);

    // org3 is removed: everyone else drops it at once and refuses its redials.
    const removed = ids[3]!.peerId;
    const without = withNew.filter((p) => p.peerId !== removed);
    for (const h of [members[0]!, members[1]!, members[2]!, newcomer]) expect((await h.setMembers(without)).removed).toEqual([removed]);
    await waitFor('the removed host has no connection left', () => members[3]!.connectedPeers().length === 0, 10_000, () => describeHosts(hosts));
    for (const h of [members[0]!, members[1]!, members[2]!, newcomer]) expect(h.connectedPeers()).not.toContain(removed);
    // It keeps redialing (its own list still names everyone) and is refused as removed.
    await waitFor('the removed host refused as removed', () => members.slice(0, 3).some((m) => m.stats().gaterDeniedRemoved >= 1), 15_000, () => describeHosts(hosts));
    const end = Date.now() + 1_500;
    while (Date.now() < end) {
      expect(members[3]!.connectedPeers()).toEqual([]);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(logged.some((l) => l.level === 'warn' && l.msg === 'peer removed from the validator set: connections closed, refused from now on' && l.obj.org === 'org3')).toBe(true);
    expect(logged.some((l) => l.level === 'warn' && l.msg === 'refused inbound connection from a peer removed from the validator set' && l.obj.org === 'org3')).toBe(true);
    await expect(members[0]!.request(removed, 'any/1', new Uint8Array(0), { timeoutMs: 1_000, maxResponseBytes: 10 })).rejects.toMatchObject({ code: 'NOT_GENESIS_PEER' });
    // The remaining four stay fully connected.
    for (const h of [members[0]!, members[1]!, members[2]!, newcomer]) expect(h.connectedPeers()).toHaveLength(3);
  }, 60_000);

  it('refuses a member list over maxGenesisPeers or with a bad peer id, and keeps the old one', async () => {
    const ids = await identities(4);
    const [h] = await startCluster([ids[0]!], ids.slice(0, 2), { limits: { maxGenesisPeers: 2 } });
    hosts.push(h!);
    const three = ids.slice(1, 4).map((g) => ({ peerId: g.peerId, addrs: [] }));
    await expect(h!.setMembers(three)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', limit: 'maxGenesisPeers=2' });
    await expect(h!.setMembers([{ peerId: 'not-a-peer-id', addrs: [] }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(h!.members().map((p) => p.peerId)).toEqual([ids[1]!.peerId]);
  }, 30_000);
});

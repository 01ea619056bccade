// Who may connect: only genesis peer ids (connection gater), and only with the same genesis
// (hello exchange).
import { afterEach, describe, expect, it } from 'vitest';
import { noise } from '@chainsafe/libp2p-noise';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { createLibp2p, type Libp2p } from 'libp2p';
import { createPeerNetwork, NetError, type GenesisMismatch, type NetLogger, type PeerNetwork } from '../../node/net/index.js';
import { toHex } from '../../src/encoding/bytes.js';
import { describeHosts, GENESIS_A, GENESIS_B, identities, NS_A, NS_B, startCluster, stopAll, TEST_LIMITS, waitFor, waitFullMesh } from './net-helpers.js';

describe('admission', () => {
  let hosts: PeerNetwork[] = [];
  let raw: Libp2p | undefined;
  afterEach(async () => {
    await stopAll(hosts);
    hosts = [];
    await raw?.stop();
    raw = undefined;
  });

  it('a 5th host outside the genesis cannot connect, in either direction', async () => {
    const ids = await identities(5);
    const genesisIds = ids.slice(0, 4);
    const members = await startCluster(genesisIds, genesisIds);
    hosts.push(...members);
    await waitFullMesh(members);
    // A manual dial to a member works and names it (the connection already exists).
    expect(await members[0]!.dial(members[1]!.addresses()[0]!)).toBe(genesisIds[1]!.peerId);
    await expect(members[0]!.dial('garbage')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // The outsider believes it belongs (its own config lists everyone with their addresses)
    // and keeps dialing all four.
    const outsider = await createPeerNetwork({
      privateKey: ids[4]!.key,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers: [...genesisIds.map((g, i) => ({ peerId: g.peerId, addrs: members[i]!.addresses() })), { peerId: ids[4]!.peerId, addrs: [] }],
      namespace: NS_A,
      genesisHash: GENESIS_A,
      limits: TEST_LIMITS,
    });
    hosts.push(outsider);
    // Inbound: every member's gater refuses it (repeatedly: it keeps trying).
    await waitFor('every member to refuse the outsider twice', () => members.every((m) => m.stats().gaterDeniedInbound >= 2), 15_000, () => describeHosts(hosts));
    expect(outsider.connectedPeers()).toEqual([]);
    for (const m of members) {
      expect(m.connectedPeers()).not.toContain(ids[4]!.peerId);
      expect(m.connectedPeers()).toHaveLength(3);
    }
    // Outbound: a member dialing the outsider's address is stopped by its own gater.
    const before = members[0]!.stats().gaterDeniedOutbound;
    const err = await members[0]!.dial(outsider.addresses()[0]!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetError);
    expect((err as NetError).code).toBe('NOT_GENESIS_PEER');
    expect(members[0]!.stats().gaterDeniedOutbound).toBeGreaterThan(before);
    // ... also without the /p2p/ suffix (the gater learns who it is only after Noise).
    const bare = outsider.addresses()[0]!.replace(/\/p2p\/.*$/, '');
    const err2 = await members[1]!.dial(bare).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(NetError);
    expect(['NOT_GENESIS_PEER', 'DIAL_FAILED']).toContain((err2 as NetError).code);
    expect(members[1]!.stats().gaterDeniedOutbound).toBeGreaterThan(0);
    await expect(members[0]!.request(ids[4]!.peerId, 'any/1', new Uint8Array(0), { timeoutMs: 1000, maxResponseBytes: 10 })).rejects.toMatchObject({
      code: 'NOT_GENESIS_PEER',
    });
    expect(outsider.connectedPeers()).toEqual([]);
  });

  it('a genesis peer id started from a different genesis is refused, with the mismatch recorded on both sides', async () => {
    const [a, x] = await identities(2);
    const logged: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
    const capture = (level: string) => (obj: Record<string, unknown>, msg: string) => logged.push({ level, obj, msg });
    const logger: NetLogger = { debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error') };
    const [hA] = await startCluster([a!], [a!, x!], { extra: { logger } });
    hosts.push(hA!);
    const seenByA: GenesisMismatch[] = [];
    hA!.onGenesisMismatch((m) => seenByA.push(m));
    let connectsA = 0;
    hA!.onPeerConnect(() => connectsA++);
    const hX = await createPeerNetwork({
      privateKey: x!.key,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers: [{ peerId: a!.peerId, addrs: hA!.addresses() }],
      namespace: NS_B,
      genesisHash: GENESIS_B,
      limits: TEST_LIMITS,
    });
    hosts.push(hX);
    await waitFor('both sides to record the mismatch', () => hA!.mismatches().length >= 1 && hX.mismatches().length >= 1, 10_000, () => describeHosts(hosts));
    const mA = hA!.mismatches()[0]!;
    expect(mA.peerId).toBe(x!.peerId);
    expect(mA.reason).toBe(`genesis mismatch: ours ${toHex(GENESIS_A)} theirs ${toHex(GENESIS_B)}`);
    expect(mA.theirsNamespace).toBe(NS_B);
    const mX = hX.mismatches()[0]!;
    expect(mX.reason).toBe(`genesis mismatch: ours ${toHex(GENESIS_B)} theirs ${toHex(GENESIS_A)}`);
    expect(seenByA).toHaveLength(hA!.mismatches().length);
    expect(logged.filter((l) => l.level === 'error').map((l) => l.msg)).toContain(mA.reason);
    // Neither side counts the other as connected, and the connection is closed; the mismatch
    // is not retried in a tight loop (mismatchRetryMs defaults to 30 s).
    await new Promise((r) => setTimeout(r, 1_500));
    expect(hA!.connectedPeers()).toEqual([]);
    expect(hX.connectedPeers()).toEqual([]);
    expect(connectsA).toBe(0);
    expect(hA!.mismatches().length).toBeLessThanOrEqual(2);
    expect(hX.mismatches().length).toBeLessThanOrEqual(2);
    // Their topics never meet either (namespaced).
    expect(hA!.topics.entries).not.toBe(hX.topics.entries);
  });

  it('same genesis hash but a different namespace is a mismatch too', async () => {
    const [a, x] = await identities(2);
    const [hA] = await startCluster([a!], [a!, x!]);
    hosts.push(hA!);
    const hX = await createPeerNetwork({
      privateKey: x!.key,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers: [{ peerId: a!.peerId, addrs: hA!.addresses() }],
      namespace: NS_B,
      genesisHash: GENESIS_A,
      limits: TEST_LIMITS,
    });
    hosts.push(hX);
    await waitFor('A to record the mismatch', () => hA!.mismatches().length >= 1, 10_000, () => describeHosts(hosts));
    expect(hA!.mismatches()[0]!.reason).toContain(`(namespace ${NS_B})`);
    expect(hA!.connectedPeers()).toEqual([]);
  });

  it('validates its options with specific errors', async () => {
    const [a, b] = await identities(2);
    const base = { privateKey: a!.key, listen: ['/ip4/127.0.0.1/tcp/0'], peers: [{ peerId: b!.peerId, addrs: [] }], namespace: NS_A, genesisHash: GENESIS_A };
    const bad = async (o: object): Promise<string> => {
      const e = await createPeerNetwork({ ...base, ...o } as never).then(
        async (h) => {
          await h.stop();
          return 'created';
        },
        (err: unknown) => (err instanceof NetError ? `${err.code}` : `other ${String(err)}`),
      );
      return e;
    };
    expect(await bad({ namespace: 'has space' })).toBe('INVALID_CONFIG');
    expect(await bad({ genesisHash: new Uint8Array(0) })).toBe('INVALID_CONFIG');
    expect(await bad({ listen: [] })).toBe('INVALID_CONFIG');
    expect(await bad({ listen: ['not a multiaddr'] })).toBe('INVALID_CONFIG');
    expect(await bad({ peers: [{ peerId: 'nope', addrs: [] }] })).toBe('INVALID_CONFIG');
    expect(await bad({ peers: [{ peerId: b!.peerId, addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${a!.peerId}`] }] })).toBe('INVALID_CONFIG');
    expect(await bad({ peers: [{ peerId: b!.peerId, addrs: [] }, { peerId: b!.peerId, addrs: [] }] })).toBe('INVALID_CONFIG');
    expect(await bad({ limits: { maxGossipMessageBytes: 5 << 20 } })).toBe('INVALID_CONFIG');
    expect(await bad({ limits: { nonsense: 1 } })).toBe('INVALID_CONFIG');
    expect(await bad({ peers: [{ peerId: b!.peerId, addrs: [] }], limits: { maxGenesisPeers: 1 } })).toBe('created');
    expect(await bad({ peers: [{ peerId: a!.peerId, addrs: [] }, { peerId: b!.peerId, addrs: [] }], limits: { maxGenesisPeers: 1 } })).toBe('INVALID_CONFIG');
    // a port that is already taken
    const [holder] = await startCluster([b!], [a!, b!]);
    hosts.push(holder!);
    const takenPort = /\/tcp\/(\d+)/.exec(holder!.addresses()[0]!)![1];
    expect(await bad({ listen: [`/ip4/127.0.0.1/tcp/${takenPort}`] })).toBe('LISTEN_FAILED');
    // our own entry in the genesis list is accepted and ignored
    expect(await bad({ peers: [{ peerId: a!.peerId, addrs: [] }, { peerId: b!.peerId, addrs: [] }] })).toBe('created');
  });

  it('a genesis peer id that does not speak hello is disconnected and redialed with backoff, not in a loop', async () => {
    const [a, x] = await identities(2);
    // x is a bare libp2p node: right key, no Cairn protocols at all.
    raw = await createLibp2p({
      privateKey: x!.key,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    });
    const hA = await createPeerNetwork({
      privateKey: a!.key,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers: [{ peerId: x!.peerId, addrs: raw.getMultiaddrs().map(String) }],
      namespace: NS_A,
      genesisHash: GENESIS_A,
      limits: { ...TEST_LIMITS, redialIntervalMs: 200, redialMaxBackoffMs: 2_000 },
    });
    hosts.push(hA);
    await waitFor('a failed hello', () => hA.stats().helloFailed >= 1, 10_000, () => describeHosts(hosts));
    await new Promise((r) => setTimeout(r, 2_500));
    // backoff 200, 400, 800, 1600 ms: a handful of attempts, not hundreds
    expect(hA.stats().helloFailed).toBeLessThanOrEqual(6);
    expect(hA.connectedPeers()).toEqual([]);
  });
});

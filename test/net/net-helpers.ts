// Helpers for the multi-host network tests: real libp2p hosts on 127.0.0.1, port 0.
import '../../node/polyfills.js';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { createPeerNetwork, type PeerNetwork, type PeerNetworkOptions, type GenesisPeer } from '../../node/net/index.js';
import type { NetLimits } from '../../node/net/limits.js';

export const GENESIS_A = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
export const GENESIS_B = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);
export const NS_A = '01020304/cairn.test/devnet';
export const NS_B = 'c8c7c6c5/cairn.test/devnet';

export interface Identity {
  key: PrivateKey;
  peerId: string;
}

export async function identities(count: number): Promise<Identity[]> {
  const out: Identity[] = [];
  for (let i = 0; i < count; i++) {
    const key = await generateKeyPair('Ed25519');
    out.push({ key, peerId: peerIdFromPrivateKey(key).toString() });
  }
  return out;
}

/** Fast-reacting limits for tests (the defaults are tuned for real deployments). */
export const TEST_LIMITS: Partial<NetLimits> = {
  redialIntervalMs: 100,
  redialMaxBackoffMs: 1_000,
  dialTimeoutMs: 2_000,
  helloTimeoutMs: 3_000,
  inboundConnectionsPerSecondPerIp: 1_000,
};

export interface ClusterOptions {
  namespace?: string;
  genesisHash?: Uint8Array;
  limits?: Partial<NetLimits>;
  extra?: Partial<PeerNetworkOptions>;
}

/**
 * Starts one host per identity, in order; each host is given the addresses of the hosts started
 * before it (later ones dial the earlier ones), and every genesis peer id. `genesisOf(i)` picks
 * which identities host i considers genesis (default: all of `genesisIds`).
 */
export async function startCluster(ids: Identity[], genesisIds: Identity[], o: ClusterOptions = {}): Promise<PeerNetwork[]> {
  const hosts: PeerNetwork[] = [];
  const known = new Map<string, string[]>();
  for (const id of ids) {
    const peers: GenesisPeer[] = genesisIds.map((g) => ({ peerId: g.peerId, addrs: known.get(g.peerId) ?? [] }));
    const h = await createPeerNetwork({
      privateKey: id.key,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers,
      namespace: o.namespace ?? NS_A,
      genesisHash: o.genesisHash ?? GENESIS_A,
      limits: { ...TEST_LIMITS, ...(o.limits ?? {}) },
      ...(o.extra ?? {}),
    });
    hosts.push(h);
    known.set(id.peerId, h.addresses());
  }
  return hosts;
}

/** Polls `cond` every 20 ms until it holds; fails with `describe()` after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs: number, describe: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}. ${describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function describeHosts(hosts: PeerNetwork[]): string {
  return hosts
    .map((h, i) => `host${i} ${h.peerId.slice(-6)} connected=[${h.connectedPeers().map((p) => p.slice(-6)).join(',')}] stats=${JSON.stringify(h.stats())}`)
    .join('\n');
}

export async function stopAll(hosts: (PeerNetwork | undefined)[]): Promise<void> {
  await Promise.all(hosts.map((h) => h?.stop().catch(() => {})));
}

export async function waitFullMesh(hosts: PeerNetwork[], timeoutMs = 15_000): Promise<void> {
  await waitFor('full mesh', () => hosts.every((h) => h.connectedPeers().length === hosts.length - 1), timeoutMs, () => describeHosts(hosts));
}

export async function waitTopicMesh(hosts: PeerNetwork[], topic: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(`every host to see ${hosts.length - 1} subscribers of ${topic}`, () => hosts.every((h) => h.topicPeers(topic).length === hosts.length - 1), timeoutMs, () => describeHosts(hosts));
}

/**
 * Two connected hosts A and B, both subscribed to one of their topics: B accepts every message
 * and hands it to `onB`. The caller stops `hosts`.
 */
export async function pairOnTopic(topicOf: (t: PeerNetwork['topics']) => string, onB: (data: Uint8Array) => void): Promise<{ hosts: PeerNetwork[]; a: PeerNetwork; b: PeerNetwork }> {
  const ids = await identities(2);
  const hosts = await startCluster(ids, ids);
  await waitFullMesh(hosts);
  const [a, b] = hosts as [PeerNetwork, PeerNetwork];
  const topic = topicOf(a.topics);
  b.subscribe(topic, () => 'accept', (_from, data) => onB(data));
  a.subscribe(topic, () => 'accept', () => {});
  await waitTopicMesh(hosts, topic);
  return { hosts, a, b };
}

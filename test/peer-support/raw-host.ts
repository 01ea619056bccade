// A raw networking host holding organization `index`'s libp2p identity, for tests that play a
// Byzantine validator by publishing hand-made messages (real libp2p on 127.0.0.1).
import { createPeerNetwork, type PeerNetwork } from '../../node/net/index.js';
import type { Cluster } from './cluster.js';

export function rawHost(c: Cluster, index: number): Promise<PeerNetwork> {
  const o = c.orgs[index]!;
  return createPeerNetwork({
    privateKey: o.p2pKey,
    listen: [`/ip4/127.0.0.1/tcp/${o.port}`],
    peers: c.genesis.validators.map((v) => ({ peerId: v.peerId, addrs: v.addrs })),
    namespace: c.genesis.hashHex.slice(0, 16),
    genesisHash: c.genesis.hash,
  });
}

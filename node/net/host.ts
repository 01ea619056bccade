// The peer's networking layer: one libp2p v3 host (TCP + Noise + Yamux, identify, gossipsub)
// that talks only to the admitted peers (the genesis validators, then the validator sets that
// governance decides: setMembers, membership-gate.ts), plus request/response protocols and the
// hello check. The rest of the peer sees only the small PeerNetwork interface (host-types.ts;
// each libp2p setting in host-node.ts says why it is set).
//
// Modules: host-options.ts (checks the options), host-node.ts (the libp2p node and its gater),
// host-connections.ts (hello, connected peers, callbacks), host-gossip.ts (validators,
// publishing with backpressure), host-requests.ts (request/response), host-peers.ts (redial
// loop, validator set changes, addresses), host-state.ts (what they share). This file wires them
// together, starts the node and stops it.
import '../polyfills.js';
import { KEEP_ALIVE } from '@libp2p/interface';
import { NetError, describeError } from './errors.js';
import { trackConnections } from './host-connections.js';
import { setUpGossip } from './host-gossip.js';
import { createHostNode } from './host-node.js';
import { resolveHostSetup } from './host-options.js';
import { setUpPeers } from './host-peers.js';
import { setUpRequests } from './host-requests.js';
import { freshDialState, zeroStats, type HostState } from './host-state.js';
import type { PeerNetwork, PeerNetworkOptions } from './host-types.js';
import { createWireMeter } from './wire-bytes.js';
import { installFrameDecoderFix } from './frame-decoder.js';

export type { GenesisPeer, PeerNetworkOptions, PublishOptions, GossipValidator, GossipHandler, GenesisMismatch, NetStats, PeerNetwork, MemberUpdate } from './host-types.js';
export { MAX_OUTBOUND_REQUESTS_PER_PEER } from './host-requests.js';

export async function createPeerNetwork(opts: PeerNetworkOptions): Promise<PeerNetwork> {
  const { limits, log, namespace, genesisHash, selfStr, listen, genesis, gate, n, cairnTopics, allowedTopics } = resolveHostSetup(opts);
  const stats = zeroStats();
  // Before any connection exists: every Noise decoder made after this has the empty-buffer check.
  const frameDecoder = installFrameDecoderFix();
  // Coalesced writes: the Noise frames a connection writes in one tick leave in one writev. On
  // the cost bench (4 peers, 150 entries/s, back to back) write system calls per entry per peer
  // fell from 2.8-4.5 to 1.4-2.6; CPU per entry did not move beyond the noise of a busy machine.
  const wire = createWireMeter({ coalesceWrites: true });
  const node = await createHostNode({ privateKey: opts.privateKey, listen, n, allowedTopics, limits, log, stats, gate, wire });
  node.addEventListener('connection:open', (evt) => wire.attach(evt.detail));
  const s: HostState = { node, limits, log, stats, selfStr, genesis, gate, dialState: new Map(), stopped: false };
  for (const id of genesis.keys()) s.dialState.set(id, freshDialState(limits));

  const requests = setUpRequests(s, namespace);
  const conns = await trackConnections(s, genesisHash, namespace, requests.servers);
  const gossip = setUpGossip(s, allowedTopics, cairnTopics);
  const gs = node.services.pubsub;
  const peers = setUpPeers(s, conns.untagged);

  // ---- start --------------------------------------------------------------------------------
  for (const [, g] of genesis) {
    await node.peerStore.merge(g.id, { multiaddrs: g.addrs, tags: { [KEEP_ALIVE]: { value: 1 } } });
  }
  try {
    await node.start();
  } catch (err) {
    await Promise.resolve()
      .then(() => node.stop())
      .catch(() => {});
    throw new NetError('LISTEN_FAILED', `could not start listening on ${listen.join(', ')}: ${describeError(err)}`, { cause: err });
  }
  peers.startRedial();
  log.info({ peerId: selfStr, namespace, addrs: node.getMultiaddrs().map(String), genesisPeers: genesis.size, frameDecoder }, 'peer network started');

  const net: PeerNetwork = {
    peerId: selfStr,
    namespace,
    topics: cairnTopics,
    allowedTopics: Object.freeze([...allowedTopics]),
    limits: Object.freeze({ ...limits }),

    addresses: () => node.getMultiaddrs().map((a) => a.toString()),

    connectedPeers: () => [...conns.ready].sort(),

    topicPeers: gossip.topicPeers,
    subscribe: gossip.subscribe,
    unsubscribe: gossip.unsubscribe,
    publish: gossip.publish,

    handle: requests.handle,
    request: requests.request,

    setMembers: peers.setMembers,
    members: peers.members,
    addPeerAddresses: peers.addPeerAddresses,
    dial: peers.dial,

    onPeerConnect(cb) {
      conns.connectCbs.add(cb);
      return () => conns.connectCbs.delete(cb);
    },
    onPeerDisconnect(cb) {
      conns.disconnectCbs.add(cb);
      return () => conns.disconnectCbs.delete(cb);
    },
    onGenesisMismatch(cb) {
      conns.mismatchCbs.add(cb);
      return () => conns.mismatchCbs.delete(cb);
    },
    mismatches: () => conns.recorded.map((m) => ({ ...m })),

    peerScore(peerId) {
      const scorer = gs as unknown as { getScore?: (id: string) => number };
      return typeof scorer.getScore === 'function' ? scorer.getScore(String(peerId)) : 0;
    },

    stats: () => ({ ...stats }),
    wireBytes: () => wire.snapshot(),

    async stop() {
      if (s.stopped) return;
      s.stopped = true;
      peers.stopRedial();
      conns.clearTimers();
      requests.stop();
      await node.stop();
      conns.clear();
      log.info({ peerId: selfStr }, 'peer network stopped');
    },
  };
  return net;
}

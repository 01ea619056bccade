// The libp2p node of the peer network: TCP + Noise + Yamux, identify and gossipsub, with a
// connection gater that admits only the admitted peers (each setting below says why it is set).
import '../polyfills.js';
import { noise } from '@chainsafe/libp2p-noise';
import { gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { createLibp2p } from 'libp2p';
import { gossipsubOptions } from './gossip.js';
import type { NetStats } from './host-types.js';
import type { HostNode } from './host-state.js';
import type { NetLimits } from './limits.js';
import type { NetLogger } from './logger.js';
import type { MembershipGate } from './membership-gate.js';
import type { WireMeter } from './wire-bytes.js';
import { installYamuxWindowRule } from './yamux-window.js';

/** How often a refused outsider is logged (it is counted every time). */
const DENIED_LOG_INTERVAL_MS = 60_000;
/**
 * Admitted peers the connection limit leaves room for beyond the starting set (organizations
 * added later by governance; a restart sizes it from the set in force then).
 */
const MEMBERS_GROWTH_HEADROOM = 8;

export interface HostNodeOptions {
  privateKey: PrivateKey;
  listen: string[];
  /** Nodes in the network at start, us included. */
  n: number;
  allowedTopics: string[];
  limits: NetLimits;
  log: NetLogger;
  stats: NetStats;
  gate: MembershipGate;
  /** Counts bytes on the wire of every connection. */
  wire: WireMeter;
}

/** Creates the (not yet started) libp2p node. */
export async function createHostNode({ privateKey, listen, n, allowedTopics, limits, log, stats, gate, wire }: HostNodeOptions): Promise<HostNode> {
  const isGenesis = (id: PeerId): boolean => gate.admits(id.toString());
  const deniedLoggedAt = new Map<string, number>();
  installYamuxWindowRule();

  return createLibp2p({
    start: false,
    privateKey,
    addresses: { listen },
    transports: [wire.transport(tcp())],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Admit only the admitted peers (gate), in both directions. Inbound peers are known only once the
    // Noise handshake has authenticated their key, hence the *EncryptedConnection hooks.
    connectionGater: {
      denyDialPeer: (id) => {
        const deny = !isGenesis(id);
        if (deny) stats.gaterDeniedOutbound++;
        return deny;
      },
      denyOutboundEncryptedConnection: (id) => {
        const deny = !isGenesis(id);
        if (deny) stats.gaterDeniedOutbound++;
        return deny;
      },
      denyInboundEncryptedConnection: (id) => {
        const deny = !isGenesis(id);
        if (deny) {
          stats.gaterDeniedInbound++;
          const key = id.toString();
          const why = gate.refusal(key);
          if (why?.kind === 'removed') stats.gaterDeniedRemoved++;
          // An outsider may retry every second: log it once per DENIED_LOG_INTERVAL_MS.
          const now = performance.now();
          if ((deniedLoggedAt.get(key) ?? -Infinity) + DENIED_LOG_INTERVAL_MS < now) {
            if (deniedLoggedAt.size >= 1024) deniedLoggedAt.clear();
            deniedLoggedAt.set(key, now);
            if (why?.kind === 'removed') {
              log.warn({ peer: key, org: why.name, refusedSoFar: stats.gaterDeniedInbound }, 'refused inbound connection from a peer removed from the validator set');
            } else {
              log.warn({ peer: key, refusedSoFar: stats.gaterDeniedInbound }, 'refused inbound connection from a peer outside the genesis and the validator set');
            }
          }
        }
        return deny;
      },
    },
    connectionManager: {
      // Two connections per peer can exist briefly (simultaneous dials) plus a few being refused.
      maxConnections: 2 * (n + MEMBERS_GROWTH_HEADROOM) + 8,
      dialTimeout: limits.dialTimeoutMs,
      inboundConnectionThreshold: limits.inboundConnectionsPerSecondPerIp,
      // Genesis peers carry KEEP_ALIVE tags and are redialed forever; a factor of 1
      // keeps the interval fixed instead of growing without bound during a long outage.
      reconnectRetries: Infinity,
      reconnectRetryInterval: limits.redialIntervalMs,
      reconnectBackoffFactor: 1,
    },
    services: {
      identify: identify(),
      pubsub: gossipsub(gossipsubOptions({ n, allowedTopics })),
    },
  });
}

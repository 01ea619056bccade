// What the modules of one running peer network share: the libp2p node, the admitted peers and
// how we redial them, the limits, counters and logger, and whether stop() has begun.
import type { GossipSub } from '@libp2p/gossipsub';
import type { Libp2p, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { NetError } from './errors.js';
import type { NetStats } from './host-types.js';
import type { NetLimits } from './limits.js';
import type { NetLogger } from './logger.js';
import type { MembershipGate } from './membership-gate.js';

export type HostNode = Libp2p<{ identify: unknown; pubsub: GossipSub }>;

/** An admitted peer's id and the addresses we dial it at. */
export interface AdmittedPeer {
  id: PeerId;
  addrs: Multiaddr[];
}

export interface DialState {
  backoffMs: number;
  nextAtMs: number;
  dialing: boolean;
}

export interface HostState {
  readonly node: HostNode;
  readonly limits: NetLimits;
  readonly log: NetLogger;
  readonly stats: NetStats;
  readonly selfStr: string;
  /** The admitted peers other than us, by peer id string (named `genesis` for the peers at start). */
  readonly genesis: Map<string, AdmittedPeer>;
  readonly gate: MembershipGate;
  readonly dialState: Map<string, DialState>;
  /** Set once stop() has begun. */
  stopped: boolean;
}

/** The dial state of a peer we have not tried yet: dial at once. */
export function freshDialState(limits: NetLimits): DialState {
  return { backoffMs: limits.redialIntervalMs, nextAtMs: 0, dialing: false };
}

/** The admitted peer `peerId` (NOT_GENESIS_PEER when it is not admitted). */
export function admittedPeer(s: HostState, peerId: unknown): AdmittedPeer {
  const g = typeof peerId === 'string' ? s.genesis.get(peerId) : undefined;
  if (g === undefined) throw new NetError('NOT_GENESIS_PEER', `${JSON.stringify(peerId)?.slice(0, 100)} is not an admitted peer (genesis or validator set)`);
  return g;
}

export function assertRunning(s: HostState): void {
  if (s.stopped) throw new NetError('STOPPED', 'the peer network was stopped');
}

export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function zeroStats(): NetStats {
  return {
    gaterDeniedInbound: 0,
    gaterDeniedOutbound: 0,
    gaterDeniedRemoved: 0,
    membersRemoved: 0,
    membersAdded: 0,
    helloOk: 0,
    helloFailed: 0,
    genesisMismatches: 0,
    gossipAccepted: 0,
    gossipRejected: 0,
    gossipIgnored: 0,
    gossipDelivered: 0,
    gossipHandlerErrors: 0,
    gossipUrgentPublished: 0,
    gossipBulkPublished: 0,
    gossipBulkShed: 0,
    gossipBackpressureFailures: 0,
    gossipQueuedBytesMax: 0,
  };
}

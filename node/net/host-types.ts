// The types of the peer's networking layer (node/net/host.ts implements them): options, the
// PeerNetwork interface the rest of the peer sees, and its counters.
import type { PrivateKey } from '@libp2p/interface';
import type { GossipVerdict } from './gossip.js';
import type { NetLimits, ProtocolLimits } from './limits.js';
import type { NetLogger } from './logger.js';
import type { RequestHandler, RequestOptions } from './reqresp.js';
import type { CairnTopics } from './topics.js';
import type { WireBytes } from './wire-bytes.js';

export interface GenesisPeer {
  /** libp2p peer id (base58btc string, e.g. `12D3KooW...`). */
  peerId: string;
  /** Multiaddrs to dial, with or without a trailing `/p2p/<peerId>`; may be empty. */
  addrs: string[];
  /** The organization it belongs to (for logs); optional. */
  name?: string;
}

/** One admitted peer for PeerNetwork.setMembers. */
export interface MemberUpdate extends GenesisPeer {
  /** 'member': in the validator set in force; 'scheduled': only in the decided next set. */
  role?: 'member' | 'scheduled';
}

export interface PeerNetworkOptions {
  /** This peer's libp2p identity (an Ed25519 key from @libp2p/crypto). */
  privateKey: PrivateKey;
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0` (port 0: read addresses() back). */
  listen: string[];
  /**
   * The peers admitted at start (the genesis validators, or the validator set in force and the
   * scheduled one: setMembers changes it later); our own entry may be included (it is ignored).
   */
  peers: GenesisPeer[];
  /** Genesis hash prefix + origin; goes into every topic and protocol id. */
  namespace: string;
  /** Full genesis hash (1..64 bytes), compared in the hello exchange. */
  genesisHash: Uint8Array;
  /** Extra gossip topic names besides topics(namespace) (each becomes `/cairn/<ns>/<name>/1`). */
  extraTopicNames?: string[];
  limits?: Partial<NetLimits>;
  logger?: NetLogger;
}

export interface PublishOptions {
  priority?: 'urgent' | 'bulk';
}

export type GossipValidator = (from: string, data: Uint8Array) => GossipVerdict;
export type GossipHandler = (from: string, data: Uint8Array) => void;

export interface GenesisMismatch {
  peerId: string;
  /** `genesis mismatch: ours <hex> theirs <hex>` (plus the namespaces when only they differ). */
  reason: string;
  oursGenesis: string;
  theirsGenesis: string;
  theirsNamespace: string;
  /** Wall-clock time (ms since epoch) it was seen. */
  atMs: number;
}

export interface NetStats {
  gaterDeniedInbound: number;
  gaterDeniedOutbound: number;
  /** Of gaterDeniedInbound: peers that were admitted before and were removed by setMembers. */
  gaterDeniedRemoved: number;
  /** Peers removed from the admitted set by setMembers (their connections closed). */
  membersRemoved: number;
  /** Peers added to the admitted set by setMembers. */
  membersAdded: number;
  helloOk: number;
  helloFailed: number;
  genesisMismatches: number;
  gossipAccepted: number;
  gossipRejected: number;
  gossipIgnored: number;
  gossipDelivered: number;
  gossipHandlerErrors: number;
  /** Publishes sent, by priority. */
  gossipUrgentPublished: number;
  gossipBulkPublished: number;
  /** Bulk publishes refused because gossipBulkQueueMax were already waiting. */
  gossipBulkShed: number;
  /** Publishes that failed on backpressure after waiting (bulk, or urgent past the hard cap). */
  gossipBackpressureFailures: number;
  /** Largest gossip write buffer (bytes, any peer) seen when a publish checked it. */
  gossipQueuedBytesMax: number;
}

export interface PeerNetwork {
  readonly peerId: string;
  readonly namespace: string;
  /** The namespace's standard topics. */
  readonly topics: CairnTopics;
  /** Every topic that may be subscribed to (standard + extra). */
  readonly allowedTopics: readonly string[];
  /** The limits in force (defaults merged with opts.limits). */
  readonly limits: Readonly<NetLimits>;
  /** Our listen addresses with their real ports, each ending in `/p2p/<peerId>`. */
  addresses(): string[];
  /** Admitted peers with an open connection that passed the hello check. */
  connectedPeers(): string[];
  /** Peers that told us they subscribe to `topic` (a publish reaches them). */
  topicPeers(topic: string): string[];
  /**
   * Subscribes to a topic. `validator` runs first on every received message (synchronously,
   * keep it fast): 'accept' delivers it to `handler` and forwards it, 'ignore' drops it,
   * 'reject' drops it and penalises the peer that sent it (gossipsub P4 score). `from` is the
   * peer the message came from (the last hop), not necessarily its author: StrictNoSign
   * messages carry no author; Cairn messages carry their own signatures.
   */
  subscribe(topic: string, validator: GossipValidator, handler: GossipHandler): void;
  unsubscribe(topic: string): void;
  /**
   * Publishes to every subscribed peer. Identical bytes re-published on a topic within ~2 min are a no-op.
   * Priority (default: 'urgent' on the consensus and checkpoint-signature topics, 'bulk'
   * elsewhere): an urgent publish goes out at once, never behind bulk ones; bulk publishes go out
   * one at a time while every peer's gossip write buffer is below gossipMaxQueuedBytes, at most
   * gossipBulkQueueMax wait (more are shed: GOSSIP_BACKPRESSURE at once), each at most
   * gossipBackpressureTimeoutMs.
   */
  publish(topic: string, data: Uint8Array, opts?: PublishOptions): Promise<{ recipients: number }>;
  /** Serves a request/response protocol (`name` like `blocks/1`; the id is namespaced). */
  handle(name: string, handler: RequestHandler, limits?: Partial<ProtocolLimits>): Promise<void>;
  /** Sends one request to an admitted peer on protocol `name` and returns the response body. */
  request(peerId: string, name: string, req: Uint8Array, opts: RequestOptions): Promise<Uint8Array>;
  /**
   * Replaces the admitted peers (the validator set changed: docs/governance.md). A peer no longer
   * listed has its connections closed and is refused from then on (logged at warn, counted in
   * membersRemoved / gaterDeniedRemoved); a new one is admitted and dialed at the addresses given
   * (or the ones it showed when it connected to us). At most limits.maxGenesisPeers.
   */
  setMembers(peers: MemberUpdate[]): Promise<{ added: string[]; removed: string[] }>;
  /** The admitted peers (our own id excluded) with their organization names and roles. */
  members(): { peerId: string; name: string; role: 'member' | 'scheduled' }[];
  /** Adds addresses for an admitted peer (e.g. learnt after it started on port 0). */
  addPeerAddresses(peerId: string, addrs: string[]): Promise<void>;
  /** Dials a multiaddr (must lead to an admitted peer: the gater applies); returns its peer id. */
  dial(addr: string): Promise<string>;
  onPeerConnect(cb: (peerId: string) => void): () => void;
  onPeerDisconnect(cb: (peerId: string) => void): () => void;
  onGenesisMismatch(cb: (m: GenesisMismatch) => void): () => void;
  /** The most recent genesis mismatches (at most limits.maxRecordedMismatches). */
  mismatches(): GenesisMismatch[];
  /** gossipsub's score of a peer (0 for unknown peers; negative after rejected messages). */
  peerScore(peerId: string): number;
  stats(): NetStats;
  /** Bytes written to / read from the TCP sockets of libp2p connections, in total and per peer. */
  wireBytes(): WireBytes;
  stop(): Promise<void>;
}

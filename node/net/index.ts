// Public API of the peer's networking layer.
export { createPeerNetwork, MAX_OUTBOUND_REQUESTS_PER_PEER } from './host.js';
export type { PeerNetwork, PeerNetworkOptions, GenesisPeer, GenesisMismatch, NetStats, PublishOptions, GossipValidator, GossipHandler, MemberUpdate } from './host-types.js';
export { admittedPeers, MembershipGate, type MemberPeer } from './membership-gate.js';
export type { GossipVerdict } from './gossip.js';
export type { WireBytes } from './wire-bytes.js';
export type { RequestHandler, RequestOptions } from './reqresp.js';
export { NetError, HandlerError, type NetErrorCode } from './errors.js';
export { DEFAULT_NET_LIMITS, DEFAULT_PROTOCOL_LIMITS, MAX_FRAME_BYTES, type NetLimits, type ProtocolLimits } from './limits.js';
export { topics, extraTopic, protocolId, HELLO_PROTOCOL, type CairnTopics } from './topics.js';
export { silentLogger, type NetLogger } from './logger.js';

// gossipsub configuration for a small, fixed set of peers (the genesis validators).
import { createHash } from 'node:crypto';
import type { GossipsubOpts } from '@libp2p/gossipsub';
import type { Message } from '@libp2p/gossipsub';
import { utf8 } from '../../src/encoding/bytes.js';

export type GossipVerdict = 'accept' | 'reject' | 'ignore';

/**
 * Message id = SHA-256(len(topic) ‖ topic ‖ data), where len is 4 bytes big-endian.
 * Content-addressed (the messages carry their own signatures, so StrictNoSign leaves no
 * author/seqno to hash) so a message re-forwarded by several peers is recognised as one.
 * The topic is included so identical bytes on two topics are not silently dropped as duplicates.
 * A consequence: re-publishing identical bytes on a topic within seenTTL is a no-op.
 */
export function gossipMessageId(topic: string, data: Uint8Array): Uint8Array {
  const t = utf8(topic);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, t.length, false);
  const h = createHash('sha256');
  h.update(len);
  h.update(t);
  h.update(data);
  return new Uint8Array(h.digest());
}

function idHex(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}

/** Peers each heartbeat's IHAVE announcement goes to (at most n−1). */
export const GOSSIP_LAZY_PEERS = 2;

export interface GossipSettings {
  /** Number of genesis peers including ourselves. */
  n: number;
  /** The only topics this peer subscribes to or tracks for others (bounds gossipsub's maps). */
  allowedTopics: string[];
}

/**
 * Options for @libp2p/gossipsub:
 * - No eager forwarding (mesh degree D = Dlo = Dhi = 0): every genesis peer is directly
 *   connected to every other, and floodPublish already sends each message from its publisher to
 *   every subscribed peer in one hop. A mesh of n−1 made every receiver forward every message to
 *   the n−2 others as well (IDONTWANT rarely wins that race), i.e. each entry batch and each
 *   proposal crossed the network ~3× for n = 4; the bench (bench/run.ts, 4 peer processes on
 *   2 cores) measured 3.45 -> 2.63 ms of CPU per finalized entry and ~1.5× the throughput
 *   without it.
 * - Recovery of a message whose direct send was lost (or relaying across a missing link) is
 *   lazy: at every heartbeat each peer announces the ids of its recent messages (IHAVE) to
 *   Dlazy = min(n−1, GOSSIP_LAZY_PEERS) random peers, which fetch what they lack (IWANT);
 *   consensus also re-sends its own messages while a height is stuck, and catch-up covers
 *   longer absences. Not to all n−1: every peer holds every message, so with Dlazy = n−1 each
 *   peer received n−1 IHAVE lists per heartbeat, each naming every message of the last 3
 *   heartbeats (the consensus messages of n peers among them): O(n²) ids per peer, for
 *   messages it almost always already had. With a fixed Dlazy a peer receives ~Dlazy lists
 *   per heartbeat whatever n is, and a message announced by the n−1 peers that hold it over
 *   3 heartbeats still reaches one that missed it with near certainty.
 * - floodPublish: our own messages go to every subscribed peer.
 * - StrictNoSign: no libp2p-level author signature; Cairn messages are signed inside.
 * - Scoring only penalises invalid messages (P4): a validator's 'reject' costs the peer that
 *   forwarded it; the delivery-rate terms (P1–P3b) are off because Cairn traffic is bursty
 *   and the peer set is fixed, and IP colocation (P6) is off because the gater already admits
 *   only genesis peers (and tests run every peer on 127.0.0.1).
 */
export function gossipsubOptions(s: GossipSettings): Partial<GossipsubOpts> {
  const lazy = Math.max(1, Math.min(s.n - 1, GOSSIP_LAZY_PEERS));
  // A WeakMap keyed by the data buffer lets msgIdFn reuse the digest fastMsgIdFn just computed
  // for the same inbound message (gossipsub calls both on one received message).
  const digests = new WeakMap<Uint8Array, { topic: string; id: Uint8Array }>();
  const digest = (topic: string, data: Uint8Array): Uint8Array => {
    const hit = digests.get(data);
    if (hit !== undefined && hit.topic === topic) return hit.id;
    const id = gossipMessageId(topic, data);
    digests.set(data, { topic, id });
    return id;
  };
  const topicScore = {
    topicWeight: 1,
    timeInMeshWeight: 0,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 1,
    firstMessageDeliveriesWeight: 0,
    firstMessageDeliveriesDecay: 0.5,
    firstMessageDeliveriesCap: 1,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 1,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    // P4 = -(invalid deliveries)²: 5 rejected messages in quick succession bring a peer below
    // gossipThreshold (-10 → no more gossip to/from it), 9 below graylistThreshold (-80 → its
    // RPCs are ignored). Decays by 10 % per second, so a peer recovers within a minute.
    invalidMessageDeliveriesWeight: -1,
    invalidMessageDeliveriesDecay: 0.9,
  };
  return {
    D: 0,
    Dlo: 0,
    Dhi: 0,
    Dscore: 0,
    Dout: 0,
    Dlazy: lazy,
    // gossipsub gossips to max(Dlazy, gossipFactor × non-mesh peers): 0 keeps it at Dlazy.
    gossipFactor: 0,
    floodPublish: true,
    fallbackToFloodsub: false,
    globalSignaturePolicy: 'StrictNoSign',
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    emitSelf: false,
    allowedTopics: s.allowedTopics,
    msgIdFn: (msg: Message) => digest(msg.topic, msg.data),
    fastMsgIdFn: (rpcMsg) => idHex(digest(rpcMsg.topic, rpcMsg.data ?? new Uint8Array(0))),
    msgIdToStrFn: idHex,
    scoreParams: {
      IPColocationFactorWeight: 0,
      topics: Object.fromEntries(s.allowedTopics.map((t) => [t, topicScore])),
    },
    // Two inbound + two outbound gossip streams per connection are plenty (one is normal).
    maxInboundStreams: 4,
    maxOutboundStreams: 4,
  };
}

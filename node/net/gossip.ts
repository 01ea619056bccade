// gossipsub configuration for a small, fixed set of peers (GUIDE §6).
import { createHash } from 'node:crypto';
import type { GossipsubOpts } from '@libp2p/gossipsub';
import type { Message } from '@libp2p/gossipsub';
import { utf8 } from '../../src/encoding/bytes.js';

export type GossipVerdict = 'accept' | 'reject' | 'ignore';

/**
 * Message id = SHA-256(len(topic) ‖ topic ‖ data), where len is 4 bytes big-endian.
 * Content-addressed (GUIDE §6: the messages carry their own signatures, StrictNoSign leaves no
 * author/seqno to hash) so a message re-forwarded by several peers is recognised as one.
 * The topic is included so identical bytes on two topics are not silently dropped as duplicates.
 * A consequence (GUIDE §6): re-publishing identical bytes on a topic within seenTTL is a no-op.
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

export interface GossipSettings {
  /** Number of genesis peers including ourselves. */
  n: number;
  /** The only topics this peer subscribes to or tracks for others (bounds gossipsub's maps). */
  allowedTopics: string[];
}

/**
 * Options for @libp2p/gossipsub:
 * - D = Dlo = n−1: every other peer is in our mesh, so a message reaches everyone in one hop
 *   and is still forwarded once by each peer if the publisher's direct send was lost.
 * - floodPublish: our own messages go to every subscribed peer, not just the mesh.
 * - StrictNoSign: no libp2p-level author signature; Cairn messages are signed inside.
 * - Scoring only penalises invalid messages (P4): a validator's 'reject' costs the peer that
 *   forwarded it; the delivery-rate terms (P1–P3b) are off because Cairn traffic is bursty
 *   and the peer set is fixed, and IP colocation (P6) is off because the gater already admits
 *   only genesis peers (and tests run every peer on 127.0.0.1).
 */
export function gossipsubOptions(s: GossipSettings): Partial<GossipsubOpts> {
  const D = Math.max(1, s.n - 1);
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
    D,
    Dlo: D,
    Dhi: D + 2,
    Dscore: Math.min(D, 4),
    Dout: Math.min(Math.floor(D / 2), D - 1),
    Dlazy: D,
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

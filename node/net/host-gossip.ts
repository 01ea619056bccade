// Gossip of the peer network: a validator on every allowed topic (messages are never forwarded
// unvalidated), delivery to the subscribed handler, and publishing with the backpressure
// gossipsub lacks: urgent publishes (consensus) go out at once, bulk ones (entry batches) one at a
// time while every peer's gossip write buffer is small, and are shed beyond a bounded queue.
import { TopicValidatorResult } from '@libp2p/gossipsub';
import { NetError, describeError } from './errors.js';
import type { GossipVerdict } from './gossip.js';
import type { GossipHandler, PeerNetwork } from './host-types.js';
import { assertRunning, type HostState } from './host-state.js';
import type { CairnTopics } from './topics.js';

const VERDICTS: ReadonlySet<string> = new Set(['accept', 'reject', 'ignore']);

export type Gossip = Pick<PeerNetwork, 'topicPeers' | 'subscribe' | 'unsubscribe' | 'publish'>;

/** Installs the topic validators and the message listener on the (not yet started) node. */
export function setUpGossip(s: HostState, allowedTopics: readonly string[], cairnTopics: CairnTopics): Gossip {
  const gs = s.node.services.pubsub;
  const handlers = new Map<string, GossipHandler>();
  // Until subscribe() installs a validator, messages on an allowed topic are ignored (never
  // forwarded unvalidated): every topic has a validator.
  for (const t of allowedTopics) gs.topicValidators.set(t, () => TopicValidatorResult.Ignore);

  const toResult = (v: GossipVerdict): TopicValidatorResult =>
    v === 'accept' ? TopicValidatorResult.Accept : v === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore;

  gs.addEventListener('gossipsub:message', (evt) => {
    const { propagationSource, msg } = evt.detail;
    const h = handlers.get(msg.topic);
    if (h === undefined) return;
    s.stats.gossipDelivered++;
    try {
      h(propagationSource.toString(), msg.data);
    } catch (err) {
      s.stats.gossipHandlerErrors++;
      s.log.error({ topic: msg.topic, err: describeError(err) }, 'gossip handler threw');
    }
  });

  const gossipProtocols = new Set(gs.protocols);
  const maxQueuedGossipBytes = (): number => {
    let max = 0;
    for (const c of s.node.getConnections()) {
      for (const st of c.streams) {
        if (st.direction === 'outbound' && gossipProtocols.has(st.protocol) && st.writeBufferLength > max) max = st.writeBufferLength;
      }
    }
    return max;
  };

  // Backpressure that gossipsub lacks: wait while some peer's write buffer is over `max`.
  const waitForQueueBelow = async (max: number, name: string, deadline: number): Promise<void> => {
    for (;;) {
      const queued = maxQueuedGossipBytes();
      if (queued > s.stats.gossipQueuedBytesMax) s.stats.gossipQueuedBytesMax = queued;
      if (queued <= max) return;
      if (performance.now() > deadline) {
        s.stats.gossipBackpressureFailures++;
        throw new NetError('GOSSIP_BACKPRESSURE', `a peer's gossip queue stayed above ${name}=${max} for gossipBackpressureTimeoutMs=${s.limits.gossipBackpressureTimeoutMs}`, {
          limit: `${name}=${max}`,
        });
      }
      await new Promise((r) => setTimeout(r, 5));
      assertRunning(s);
    }
  };
  const gossipPublish = async (t: string, data: Uint8Array): Promise<{ recipients: number }> => {
    try {
      const res = await gs.publish(t, data);
      return { recipients: res.recipients.length };
    } catch (err) {
      throw new NetError('GOSSIP_PUBLISH_FAILED', `publish on ${t} failed: ${describeError(err)}`, { cause: err });
    }
  };
  /** Bulk publishes run one after another on this chain; bulkWaiting counts the queued ones. */
  let bulkTail: Promise<void> = Promise.resolve();
  let bulkWaiting = 0;
  const assertTopic = (topic: unknown): string => {
    if (typeof topic !== 'string' || !allowedTopics.includes(topic)) {
      throw new NetError('UNKNOWN_TOPIC', `topic ${JSON.stringify(topic)?.slice(0, 200)} is not one of ${allowedTopics.join(', ')}`);
    }
    return topic;
  };

  return {
    topicPeers: (topic) => gs.getSubscribers(assertTopic(topic)).map((p) => p.toString()).sort(),

    subscribe(topic, validator, handler) {
      assertRunning(s);
      const t = assertTopic(topic);
      if (typeof validator !== 'function' || typeof handler !== 'function') {
        throw new NetError('INVALID_ARGUMENT', 'subscribe needs a validator and a handler function');
      }
      if (handlers.has(t)) throw new NetError('ALREADY_REGISTERED', `already subscribed to ${t}`);
      handlers.set(t, handler);
      gs.topicValidators.set(t, (from, msg) => {
        let verdict: unknown;
        try {
          verdict = validator(from.toString(), msg.data);
        } catch (err) {
          // A bug in our validator is not the sender's fault: ignore, do not penalise.
          s.log.error({ topic: t, err: describeError(err) }, 'gossip validator threw; ignoring message');
          verdict = 'ignore';
        }
        if (typeof verdict !== 'string' || !VERDICTS.has(verdict)) {
          s.log.error({ topic: t, verdict: String(verdict) }, 'gossip validator returned an invalid verdict; ignoring message');
          verdict = 'ignore';
        }
        if (verdict === 'accept') s.stats.gossipAccepted++;
        else if (verdict === 'reject') s.stats.gossipRejected++;
        else s.stats.gossipIgnored++;
        return toResult(verdict as GossipVerdict);
      });
      gs.subscribe(t);
    },

    unsubscribe(topic) {
      const t = assertTopic(topic);
      if (!handlers.has(t)) return;
      handlers.delete(t);
      gs.topicValidators.set(t, () => TopicValidatorResult.Ignore);
      if (!s.stopped) gs.unsubscribe(t);
    },

    async publish(topic, data, pubOpts) {
      assertRunning(s);
      const t = assertTopic(topic);
      if (!(data instanceof Uint8Array)) throw new NetError('INVALID_ARGUMENT', 'gossip data must be a Uint8Array');
      if (data.length > s.limits.maxGossipMessageBytes) {
        throw new NetError('GOSSIP_TOO_LARGE', `gossip message of ${data.length} bytes exceeds maxGossipMessageBytes=${s.limits.maxGossipMessageBytes}`, {
          limit: `maxGossipMessageBytes=${s.limits.maxGossipMessageBytes}`,
        });
      }
      const priority = pubOpts?.priority ?? (t === cairnTopics.consensus || t === cairnTopics.checkpointSigs ? 'urgent' : 'bulk');
      if (priority === 'urgent') {
        // Consensus traffic is small and bounded by its own protocol; it must not queue behind
        // entry batches, so it only waits for a peer that has stopped reading altogether.
        await waitForQueueBelow(s.limits.gossipUrgentMaxQueuedBytes, 'gossipUrgentMaxQueuedBytes', performance.now() + s.limits.gossipBackpressureTimeoutMs);
        const r = await gossipPublish(t, data);
        s.stats.gossipUrgentPublished++;
        return r;
      }
      // Bulk: one at a time, FIFO, bounded; shed at once rather than queue without limit.
      if (bulkWaiting >= s.limits.gossipBulkQueueMax) {
        s.stats.gossipBulkShed++;
        throw new NetError('GOSSIP_BACKPRESSURE', `${bulkWaiting} bulk publishes already waiting (gossipBulkQueueMax=${s.limits.gossipBulkQueueMax})`, {
          limit: `gossipBulkQueueMax=${s.limits.gossipBulkQueueMax}`,
        });
      }
      const deadline = performance.now() + s.limits.gossipBackpressureTimeoutMs;
      bulkWaiting++;
      const turn = bulkTail.then(async () => {
        try {
          assertRunning(s);
          await waitForQueueBelow(s.limits.gossipMaxQueuedBytes, 'gossipMaxQueuedBytes', deadline);
          const r = await gossipPublish(t, data);
          s.stats.gossipBulkPublished++;
          return r;
        } finally {
          bulkWaiting--;
        }
      });
      bulkTail = turn.then(
        () => undefined,
        () => undefined,
      );
      return turn;
    },
  };
}

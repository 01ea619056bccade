// The peer's networking layer: one libp2p v3 host (TCP + Noise + Yamux, identify, gossipsub)
// that talks only to the admitted peers (the genesis validators, then the validator sets that
// governance decides: setMembers, membership-gate.ts), plus request/response protocols and the
// hello check. The rest of the peer sees only the small PeerNetwork interface (host-types.ts;
// each libp2p setting below says why it is set).
import '../polyfills.js';
import { noise } from '@chainsafe/libp2p-noise';
import { gossipsub, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import { KEEP_ALIVE, type Connection, type Libp2p, type PeerId, type PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { toHex } from '../../src/encoding/bytes.js';
import { NetError, describeError } from './errors.js';
import { MAX_GENESIS_HASH_BYTES } from './frames.js';
import { gossipsubOptions, type GossipVerdict } from './gossip.js';
import { helloAsDialer, helloAsListener, type HelloOutcome } from './hello.js';
import { resolveNetLimits, resolveProtocolLimits, MAX_FRAME_BYTES, type NetLimits, type ProtocolLimits } from './limits.js';
import { silentLogger, type NetLogger } from './logger.js';
import { ProtocolServer, classifyOpenError, exchange, validateRequestOptions, type RequestHandler, type RequestOptions } from './reqresp.js';
import { HELLO_PROTOCOL, assertName, assertNamespace, extraTopic, protocolId, topics } from './topics.js';
import type { GenesisMismatch, GossipHandler, NetStats, PeerNetwork, PeerNetworkOptions } from './host-types.js';
import { MembershipGate } from './membership-gate.js';
import { MAX_ADDRS_PER_PEER, parseAddr, parsePeerList } from './peer-list.js';

export type { GenesisPeer, PeerNetworkOptions, PublishOptions, GossipValidator, GossipHandler, GenesisMismatch, NetStats, PeerNetwork, MemberUpdate } from './host-types.js';

/** Outbound requests in flight to one peer on one protocol (below libp2p's 64 stream cap). */
export const MAX_OUTBOUND_REQUESTS_PER_PEER = 32;
/** How often a refused outsider is logged (it is counted every time). */
const DENIED_LOG_INTERVAL_MS = 60_000;
/**
 * Admitted peers the connection limit leaves room for beyond the starting set (organizations
 * added later by governance; a restart sizes it from the set in force then).
 */
const MEMBERS_GROWTH_HEADROOM = 8;
/** A listener keeps a mismatched connection open this long so the dialer can read our hello. */
const MISMATCH_CLOSE_GRACE_MS = 500;
const VERDICTS: ReadonlySet<string> = new Set(['accept', 'reject', 'ignore']);

interface DialState {
  backoffMs: number;
  nextAtMs: number;
  dialing: boolean;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export async function createPeerNetwork(opts: PeerNetworkOptions): Promise<PeerNetwork> {
  if (opts === null || typeof opts !== 'object') throw new NetError('INVALID_CONFIG', 'options must be an object');
  const limits = resolveNetLimits(opts.limits);
  const log = opts.logger ?? silentLogger;
  assertNamespace(opts.namespace);
  const namespace = opts.namespace;
  if (!(opts.genesisHash instanceof Uint8Array) || opts.genesisHash.length < 1 || opts.genesisHash.length > MAX_GENESIS_HASH_BYTES) {
    throw new NetError('INVALID_CONFIG', `genesisHash must be 1..${MAX_GENESIS_HASH_BYTES} bytes`);
  }
  const genesisHash = new Uint8Array(opts.genesisHash);
  if (opts.privateKey?.type !== 'Ed25519') throw new NetError('INVALID_CONFIG', 'privateKey must be an Ed25519 key from @libp2p/crypto');
  const self = peerIdFromPrivateKey(opts.privateKey);
  const selfStr = self.toString();

  if (!Array.isArray(opts.listen) || opts.listen.length === 0 || opts.listen.length > 16) {
    throw new NetError('INVALID_CONFIG', 'listen must be 1..16 multiaddr strings');
  }
  const listen = opts.listen.map((a) => parseAddr(selfStr, a, 'listen').toString());

  /** The admitted peers other than us, by peer id string (named `genesis` for the peers at start). */
  const genesis = new Map<string, { id: PeerId; addrs: Multiaddr[] }>();
  const gate = new MembershipGate(selfStr, limits.maxGenesisPeers);
  const initial = parsePeerList(opts.peers, selfStr, limits.maxGenesisPeers, 'peers');
  for (const [peerId, p] of initial) genesis.set(peerId, { id: p.id, addrs: p.addrs });
  gate.set([...initial].map(([peerId, p]) => ({ peerId, name: p.name, role: p.role })));
  const n = genesis.size + 1;

  const cairnTopics = topics(namespace);
  const extraNames = opts.extraTopicNames ?? [];
  if (!Array.isArray(extraNames) || extraNames.length > 16) throw new NetError('INVALID_CONFIG', 'extraTopicNames must be an array of at most 16 names');
  const allowedTopics = [cairnTopics.entries, cairnTopics.consensus, cairnTopics.checkpointSigs];
  for (const name of extraNames) {
    let t: string;
    try {
      t = extraTopic(namespace, name);
    } catch (err) {
      throw new NetError('INVALID_CONFIG', `extraTopicNames: ${describeError(err)}`);
    }
    if (allowedTopics.includes(t)) throw new NetError('INVALID_CONFIG', `extraTopicNames: duplicate topic ${t}`);
    allowedTopics.push(t);
  }

  const stats: NetStats = {
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
  const isGenesis = (id: PeerId): boolean => gate.admits(id.toString());
  const deniedLoggedAt = new Map<string, number>();

  const node: Libp2p<{ identify: unknown; pubsub: GossipSub }> = await createLibp2p({
    start: false,
    privateKey: opts.privateKey,
    addresses: { listen },
    transports: [tcp()],
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
  const gs = node.services.pubsub;

  // ---- connection bookkeeping, hello, events -------------------------------------------------
  const verifiedConns = new Set<string>(); // connection ids that passed hello
  const ready = new Set<string>(); // peer ids with a verified open connection
  const dialState = new Map<string, DialState>();
  const recorded: GenesisMismatch[] = [];
  const connectCbs = new Set<(peerId: string) => void>();
  const disconnectCbs = new Set<(peerId: string) => void>();
  const mismatchCbs = new Set<(m: GenesisMismatch) => void>();
  const servers = new Map<string, ProtocolServer>();
  const helloTimers = new Map<string, ReturnType<typeof setTimeout>>();
  const graceTimers = new Set<ReturnType<typeof setTimeout>>();
  const ours = { genesis: genesisHash, namespace };
  let stopped = false;

  for (const id of genesis.keys()) dialState.set(id, { backoffMs: limits.redialIntervalMs, nextAtMs: 0, dialing: false });

  const emit = <T>(cbs: Set<(v: T) => void>, v: T, what: string): void => {
    for (const cb of cbs) {
      try {
        cb(v);
      } catch (err) {
        log.error({ err: describeError(err) }, `${what} callback threw`);
      }
    }
  };

  const untagged = new Set<string>(); // genesis peers whose KEEP_ALIVE tag we removed
  const keepAlive = async (id: PeerId, on: boolean): Promise<void> => {
    const key = id.toString();
    if (on && !untagged.has(key)) return;
    if (on) untagged.delete(key);
    else untagged.add(key);
    try {
      await node.peerStore.merge(id, { tags: { [KEEP_ALIVE]: on ? { value: 1 } : undefined } });
    } catch (err) {
      log.warn({ peer: id.toString(), err: describeError(err) }, 'could not update keep-alive tag');
    }
  };

  const onHello = async (conn: Connection, outcome: HelloOutcome, side: 'dialer' | 'listener'): Promise<void> => {
    const peer = conn.remotePeer.toString();
    const t = helloTimers.get(conn.id);
    if (t !== undefined) {
      clearTimeout(t);
      helloTimers.delete(conn.id);
    }
    if (stopped) return;
    if (outcome.ok) {
      stats.helloOk++;
      if (conn.status !== 'open') return;
      if (!gate.admits(peer)) {
        // Removed by setMembers while its handshake was under way.
        conn.close().catch((err) => conn.abort(toError(err)));
        return;
      }
      verifiedConns.add(conn.id);
      const st = dialState.get(peer);
      if (st !== undefined) {
        st.backoffMs = limits.redialIntervalMs;
        st.nextAtMs = 0;
      }
      await keepAlive(conn.remotePeer, true); // restore it if a past failure removed it
      if (!ready.has(peer) && conn.status === 'open') {
        ready.add(peer);
        log.info({ peer }, 'genesis peer connected');
        emit(connectCbs, peer, 'peer connect');
      }
      return;
    }
    if (outcome.kind === 'mismatch') {
      stats.genesisMismatches++;
      const m: GenesisMismatch = {
        peerId: peer,
        reason: outcome.reason,
        oursGenesis: toHex(genesisHash),
        theirsGenesis: toHex(outcome.theirs.genesis),
        theirsNamespace: outcome.theirs.namespace,
        atMs: Date.now(),
      };
      recorded.push(m);
      if (recorded.length > limits.maxRecordedMismatches) recorded.shift();
      log.error({ peer, ours: m.oursGenesis, theirs: m.theirsGenesis, theirsNamespace: m.theirsNamespace }, outcome.reason);
      // Stop libp2p's reconnect queue from redialing it in a tight loop; our dialer retries
      // it after mismatchRetryMs (the operator may fix their genesis and restart).
      const st = dialState.get(peer);
      if (st !== undefined) st.nextAtMs = performance.now() + limits.mismatchRetryMs;
      await keepAlive(conn.remotePeer, false);
      emit(mismatchCbs, m, 'genesis mismatch');
    } else {
      stats.helloFailed++;
      log.warn({ peer, side, reason: outcome.reason }, 'hello failed; closing connection');
      // Same reasoning as for a mismatch, with the ordinary growing backoff: a peer that
      // cannot complete hello (an old version, overload) must not be redialed in a tight loop.
      const st = dialState.get(peer);
      if (st !== undefined) {
        st.nextAtMs = Math.max(st.nextAtMs, performance.now() + st.backoffMs);
        st.backoffMs = Math.min(st.backoffMs * 2, limits.redialMaxBackoffMs);
      }
      await keepAlive(conn.remotePeer, false);
    }
    const close = (): void => {
      conn.close().catch((err) => conn.abort(toError(err)));
    };
    if (side === 'listener' && outcome.kind === 'mismatch') {
      // Let the dialer read our hello first so both sides can name the mismatch.
      const timer = setTimeout(() => {
        graceTimers.delete(timer);
        close();
      }, MISMATCH_CLOSE_GRACE_MS);
      graceTimers.add(timer);
    } else {
      close();
    }
  };

  node.addEventListener('connection:open', (evt) => {
    const conn = evt.detail;
    if (stopped) return;
    if (conn.direction === 'outbound') {
      void helloAsDialer(conn, ours, limits.helloTimeoutMs).then((o) => onHello(conn, o, 'dialer'));
    } else {
      // The dialer speaks first; a dialer that never does is closed after helloTimeoutMs.
      const timer = setTimeout(() => {
        helloTimers.delete(conn.id);
        void onHello(conn, { ok: false, kind: 'failed', reason: `no hello within helloTimeoutMs=${limits.helloTimeoutMs}` }, 'listener');
      }, limits.helloTimeoutMs);
      helloTimers.set(conn.id, timer);
    }
  });

  node.addEventListener('connection:close', (evt) => {
    const conn = evt.detail;
    const peer = conn.remotePeer.toString();
    verifiedConns.delete(conn.id);
    const t = helloTimers.get(conn.id);
    if (t !== undefined) {
      clearTimeout(t);
      helloTimers.delete(conn.id);
    }
    const stillUp = node.getConnections(conn.remotePeer).some((c) => c.status === 'open' && verifiedConns.has(c.id));
    if (!stillUp && ready.delete(peer)) {
      for (const s of servers.values()) s.forgetPeer(peer);
      log.info({ peer }, 'genesis peer disconnected');
      if (!stopped) emit(disconnectCbs, peer, 'peer disconnect');
    }
  });

  await node.handle(
    HELLO_PROTOCOL,
    (stream, conn) => {
      void helloAsListener(stream, ours, limits.helloTimeoutMs).then((o) => onHello(conn, o, 'listener'));
    },
    { maxInboundStreams: 2, maxOutboundStreams: 2 },
  );

  // ---- gossip -------------------------------------------------------------------------------
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
    stats.gossipDelivered++;
    try {
      h(propagationSource.toString(), msg.data);
    } catch (err) {
      stats.gossipHandlerErrors++;
      log.error({ topic: msg.topic, err: describeError(err) }, 'gossip handler threw');
    }
  });

  const gossipProtocols = new Set(gs.protocols);
  const maxQueuedGossipBytes = (): number => {
    let max = 0;
    for (const c of node.getConnections()) {
      for (const s of c.streams) {
        if (s.direction === 'outbound' && gossipProtocols.has(s.protocol) && s.writeBufferLength > max) max = s.writeBufferLength;
      }
    }
    return max;
  };

  const assertRunning = (): void => {
    if (stopped) throw new NetError('STOPPED', 'the peer network was stopped');
  };

  // Backpressure that gossipsub lacks: wait while some peer's write buffer is over `max`.
  const waitForQueueBelow = async (max: number, name: string, deadline: number): Promise<void> => {
    for (;;) {
      const queued = maxQueuedGossipBytes();
      if (queued > stats.gossipQueuedBytesMax) stats.gossipQueuedBytesMax = queued;
      if (queued <= max) return;
      if (performance.now() > deadline) {
        stats.gossipBackpressureFailures++;
        throw new NetError('GOSSIP_BACKPRESSURE', `a peer's gossip queue stayed above ${name}=${max} for gossipBackpressureTimeoutMs=${limits.gossipBackpressureTimeoutMs}`, {
          limit: `${name}=${max}`,
        });
      }
      await new Promise((r) => setTimeout(r, 5));
      assertRunning();
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
  const genesisPeer = (peerId: unknown): { id: PeerId; addrs: Multiaddr[] } => {
    const g = typeof peerId === 'string' ? genesis.get(peerId) : undefined;
    if (g === undefined) throw new NetError('NOT_GENESIS_PEER', `${JSON.stringify(peerId)?.slice(0, 100)} is not an admitted peer (genesis or validator set)`);
    return g;
  };

  // ---- redial loop --------------------------------------------------------------------------
  // libp2p's reconnect queue only redials peers that *were* connected; this loop also reaches
  // peers that were down when we started, and spaces out retries after a genesis mismatch.
  const dialOnce = (peer: string, st: DialState): void => {
    const g = genesis.get(peer)!;
    st.dialing = true;
    node
      .dial(g.id, { signal: AbortSignal.timeout(limits.dialTimeoutMs) })
      .then(
        () => {},
        (err: unknown) => {
          const now = performance.now();
          st.nextAtMs = Math.max(st.nextAtMs, now + st.backoffMs);
          st.backoffMs = Math.min(st.backoffMs * 2, limits.redialMaxBackoffMs);
          log.debug({ peer, err: describeError(err), retryInMs: Math.round(st.nextAtMs - now) }, 'dial to genesis peer failed');
        },
      )
      .finally(() => {
        st.dialing = false;
      });
  };
  const tick = (): void => {
    if (stopped) return;
    const now = performance.now();
    for (const [peer, st] of dialState) {
      if (st.dialing || now < st.nextAtMs) continue;
      if (node.getConnections(genesis.get(peer)!.id).some((c) => c.status === 'open')) continue;
      dialOnce(peer, st);
    }
  };

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
  const redialTimer = setInterval(tick, Math.max(10, Math.floor(limits.redialIntervalMs / 2)));
  tick();
  log.info({ peerId: selfStr, namespace, addrs: node.getMultiaddrs().map(String), genesisPeers: genesis.size }, 'peer network started');

  const outbound = new Map<string, number>(); // `${peerId} ${protocol}` -> requests in flight
  const stopSignal = new AbortController();

  const net: PeerNetwork = {
    peerId: selfStr,
    namespace,
    topics: cairnTopics,
    allowedTopics: Object.freeze([...allowedTopics]),
    limits: Object.freeze({ ...limits }),

    addresses: () => node.getMultiaddrs().map((a) => a.toString()),

    connectedPeers: () => [...ready].sort(),

    topicPeers: (topic) => gs.getSubscribers(assertTopic(topic)).map((p) => p.toString()).sort(),

    subscribe(topic, validator, handler) {
      assertRunning();
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
          log.error({ topic: t, err: describeError(err) }, 'gossip validator threw; ignoring message');
          verdict = 'ignore';
        }
        if (typeof verdict !== 'string' || !VERDICTS.has(verdict)) {
          log.error({ topic: t, verdict: String(verdict) }, 'gossip validator returned an invalid verdict; ignoring message');
          verdict = 'ignore';
        }
        if (verdict === 'accept') stats.gossipAccepted++;
        else if (verdict === 'reject') stats.gossipRejected++;
        else stats.gossipIgnored++;
        return toResult(verdict as GossipVerdict);
      });
      gs.subscribe(t);
    },

    unsubscribe(topic) {
      const t = assertTopic(topic);
      if (!handlers.has(t)) return;
      handlers.delete(t);
      gs.topicValidators.set(t, () => TopicValidatorResult.Ignore);
      if (!stopped) gs.unsubscribe(t);
    },

    async publish(topic, data, pubOpts) {
      assertRunning();
      const t = assertTopic(topic);
      if (!(data instanceof Uint8Array)) throw new NetError('INVALID_ARGUMENT', 'gossip data must be a Uint8Array');
      if (data.length > limits.maxGossipMessageBytes) {
        throw new NetError('GOSSIP_TOO_LARGE', `gossip message of ${data.length} bytes exceeds maxGossipMessageBytes=${limits.maxGossipMessageBytes}`, {
          limit: `maxGossipMessageBytes=${limits.maxGossipMessageBytes}`,
        });
      }
      const priority = pubOpts?.priority ?? (t === cairnTopics.consensus || t === cairnTopics.checkpointSigs ? 'urgent' : 'bulk');
      if (priority === 'urgent') {
        // Consensus traffic is small and bounded by its own protocol; it must not queue behind
        // entry batches, so it only waits for a peer that has stopped reading altogether.
        await waitForQueueBelow(limits.gossipUrgentMaxQueuedBytes, 'gossipUrgentMaxQueuedBytes', performance.now() + limits.gossipBackpressureTimeoutMs);
        const r = await gossipPublish(t, data);
        stats.gossipUrgentPublished++;
        return r;
      }
      // Bulk: one at a time, FIFO, bounded; shed at once rather than queue without limit.
      if (bulkWaiting >= limits.gossipBulkQueueMax) {
        stats.gossipBulkShed++;
        throw new NetError('GOSSIP_BACKPRESSURE', `${bulkWaiting} bulk publishes already waiting (gossipBulkQueueMax=${limits.gossipBulkQueueMax})`, {
          limit: `gossipBulkQueueMax=${limits.gossipBulkQueueMax}`,
        });
      }
      const deadline = performance.now() + limits.gossipBackpressureTimeoutMs;
      bulkWaiting++;
      const turn = bulkTail.then(async () => {
        try {
          assertRunning();
          await waitForQueueBelow(limits.gossipMaxQueuedBytes, 'gossipMaxQueuedBytes', deadline);
          const r = await gossipPublish(t, data);
          stats.gossipBulkPublished++;
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

    async handle(name, handler, protoLimits) {
      assertRunning();
      assertName('protocol', name);
      if (typeof handler !== 'function') throw new NetError('INVALID_ARGUMENT', 'handler must be a function');
      const pid = protocolId(namespace, name);
      if (servers.has(pid)) throw new NetError('ALREADY_REGISTERED', `a handler for ${pid} is already registered`);
      const server = new ProtocolServer(pid, handler, resolveProtocolLimits(protoLimits), log);
      servers.set(pid, server);
      await node.handle(
        pid,
        (stream, conn) => {
          void server.onStream(stream, conn).catch((err) => {
            log.error({ protocol: pid, err: describeError(err) }, 'request server failed');
            stream.abort(toError(err));
          });
        },
        { maxInboundStreams: server.maxInboundStreams, maxOutboundStreams: MAX_OUTBOUND_REQUESTS_PER_PEER * 2 },
      );
    },

    async request(peerId, name, req, reqOpts) {
      assertRunning();
      const g = genesisPeer(peerId);
      assertName('protocol', name);
      const ro = validateRequestOptions(reqOpts);
      if (!(req instanceof Uint8Array)) throw new NetError('INVALID_ARGUMENT', 'request must be a Uint8Array');
      if (req.length > MAX_FRAME_BYTES) {
        throw new NetError('REQUEST_TOO_LARGE', `request of ${req.length} bytes exceeds the frame limit MAX_FRAME_BYTES=${MAX_FRAME_BYTES}`, {
          limit: `MAX_FRAME_BYTES=${MAX_FRAME_BYTES}`,
        });
      }
      const pid = protocolId(namespace, name);
      const key = `${peerId} ${pid}`;
      const inflight = outbound.get(key) ?? 0;
      if (inflight >= MAX_OUTBOUND_REQUESTS_PER_PEER) {
        throw new NetError('CONCURRENCY_LIMIT', `${inflight} requests to ${peerId} on ${pid} already in flight (MAX_OUTBOUND_REQUESTS_PER_PEER=${MAX_OUTBOUND_REQUESTS_PER_PEER})`, {
          limit: `MAX_OUTBOUND_REQUESTS_PER_PEER=${MAX_OUTBOUND_REQUESTS_PER_PEER}`,
        });
      }
      outbound.set(key, inflight + 1);
      const signal = AbortSignal.any([AbortSignal.timeout(ro.timeoutMs), stopSignal.signal]);
      try {
        let stream;
        try {
          stream = await node.dialProtocol(g.id, pid, { signal });
        } catch (err) {
          throw classifyOpenError(err, peerId, pid, ro.timeoutMs, signal.aborted);
        }
        return await exchange(stream, req, ro, signal, () => `request to ${peerId} on ${pid}`);
      } catch (err) {
        if (stopped) throw new NetError('STOPPED', 'the peer network was stopped during the request', { cause: err });
        throw err;
      } finally {
        const left = (outbound.get(key) ?? 1) - 1;
        if (left <= 0) outbound.delete(key);
        else outbound.set(key, left);
      }
    },

    async setMembers(peers) {
      assertRunning();
      const listed = parsePeerList(peers, selfStr, limits.maxGenesisPeers, 'setMembers peers', 'INVALID_ARGUMENT');
      const change = gate.set([...listed].map(([peerId, p]) => ({ peerId, name: p.name, role: p.role })));
      for (const r of change.removed) {
        const g = genesis.get(r.peerId);
        genesis.delete(r.peerId);
        dialState.delete(r.peerId);
        untagged.delete(r.peerId);
        stats.membersRemoved++;
        if (g === undefined) continue;
        const open = node.getConnections(g.id);
        log.warn({ peer: r.peerId, org: r.name, connectionsClosed: open.length }, 'peer removed from the validator set: connections closed, refused from now on');
        await node.peerStore.merge(g.id, { tags: { [KEEP_ALIVE]: undefined } }).catch(() => undefined);
        for (const c of open) await c.close().catch((err: unknown) => c.abort(toError(err)));
      }
      for (const a of change.added) {
        const p = listed.get(a.peerId)!;
        genesis.set(a.peerId, { id: p.id, addrs: p.addrs });
        dialState.set(a.peerId, { backoffMs: limits.redialIntervalMs, nextAtMs: 0, dialing: false });
        stats.membersAdded++;
        await node.peerStore.merge(p.id, { multiaddrs: p.addrs, tags: { [KEEP_ALIVE]: { value: 1 } } });
        log.info({ peer: a.peerId, org: a.name, role: a.role, addrs: p.addrs.map(String) }, 'peer admitted to the validator set');
      }
      // Peers kept: new addresses (e.g. given in the config after it was first admitted).
      for (const [peerId, p] of listed) {
        const g = genesis.get(peerId);
        if (g === undefined || change.added.some((a) => a.peerId === peerId) || p.addrs.length === 0) continue;
        const known = new Set(g.addrs.map(String));
        const fresh = p.addrs.filter((a) => !known.has(a.toString()));
        if (fresh.length === 0) continue;
        g.addrs.splice(0, g.addrs.length, ...[...g.addrs, ...fresh].slice(-MAX_ADDRS_PER_PEER));
        await node.peerStore.merge(p.id, { multiaddrs: fresh });
      }
      if (change.added.length > 0) tick();
      return { added: change.added.map((a) => a.peerId), removed: change.removed.map((r) => r.peerId) };
    },

    members: () => gate.peers().map((p) => ({ peerId: p.peerId, name: p.name, role: p.role })),

    async addPeerAddresses(peerId, addrs) {
      assertRunning();
      const g = genesisPeer(peerId);
      if (!Array.isArray(addrs) || addrs.length > MAX_ADDRS_PER_PEER) {
        throw new NetError('INVALID_ARGUMENT', `addrs must be an array of at most MAX_ADDRS_PER_PEER=${MAX_ADDRS_PER_PEER} strings`);
      }
      let parsed: Multiaddr[];
      try {
        parsed = addrs.map((a) => parseAddr(peerId, a, 'addPeerAddresses'));
      } catch (err) {
        throw new NetError('INVALID_ARGUMENT', (err as Error).message);
      }
      // Keep the newest MAX_ADDRS_PER_PEER distinct addresses.
      const all = [...g.addrs, ...parsed].map((a) => a.toString());
      const distinct = [...new Set(all.reverse())].slice(0, MAX_ADDRS_PER_PEER).reverse();
      g.addrs.splice(0, g.addrs.length, ...distinct.map((a) => multiaddr(a)));
      await node.peerStore.merge(g.id, { multiaddrs: parsed });
      const st = dialState.get(peerId);
      if (st !== undefined && st.nextAtMs < performance.now() + limits.mismatchRetryMs / 2) {
        st.nextAtMs = 0; // try the new address now, unless we are waiting out a mismatch
        st.backoffMs = limits.redialIntervalMs;
      }
    },

    async dial(addr) {
      assertRunning();
      let ma: Multiaddr;
      try {
        ma = multiaddr(addr);
      } catch (err) {
        throw new NetError('INVALID_ARGUMENT', `invalid multiaddr ${JSON.stringify(addr)}: ${describeError(err)}`);
      }
      try {
        const conn = await node.dial(ma, { signal: AbortSignal.timeout(limits.dialTimeoutMs) });
        return conn.remotePeer.toString();
      } catch (err) {
        if (err instanceof Error && /Denied/i.test(err.name)) {
          throw new NetError('NOT_GENESIS_PEER', `dial to ${addr} refused by our gater: not a genesis peer`, { cause: err });
        }
        throw new NetError('DIAL_FAILED', `dial to ${addr} failed: ${describeError(err)}`, { cause: err });
      }
    },

    onPeerConnect(cb) {
      connectCbs.add(cb);
      return () => connectCbs.delete(cb);
    },
    onPeerDisconnect(cb) {
      disconnectCbs.add(cb);
      return () => disconnectCbs.delete(cb);
    },
    onGenesisMismatch(cb) {
      mismatchCbs.add(cb);
      return () => mismatchCbs.delete(cb);
    },
    mismatches: () => recorded.map((m) => ({ ...m })),

    peerScore(peerId) {
      const scorer = gs as unknown as { getScore?: (id: string) => number };
      return typeof scorer.getScore === 'function' ? scorer.getScore(String(peerId)) : 0;
    },

    stats: () => ({ ...stats }),

    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(redialTimer);
      for (const t of helloTimers.values()) clearTimeout(t);
      helloTimers.clear();
      for (const t of graceTimers) clearTimeout(t);
      graceTimers.clear();
      stopSignal.abort(new NetError('STOPPED', 'the peer network was stopped'));
      for (const s of servers.values()) s.stop();
      await node.stop();
      ready.clear();
      verifiedConns.clear();
      log.info({ peerId: selfStr }, 'peer network stopped');
    },
  };
  return net;
}

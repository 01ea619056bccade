// The peer's networking layer: one libp2p v3 host (TCP + Noise + Yamux, identify, gossipsub)
// that talks only to the genesis peers, plus request/response protocols and the hello check.
// The rest of the peer sees only the small PeerNetwork interface below (each libp2p
// setting says why it is set).
import '../polyfills.js';
import { noise } from '@chainsafe/libp2p-noise';
import { gossipsub, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import { KEEP_ALIVE, type Connection, type Libp2p, type PeerId, type PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
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
import { HELLO_PROTOCOL, assertName, assertNamespace, extraTopic, protocolId, topics, type CairnTopics } from './topics.js';

export interface GenesisPeer {
  /** libp2p peer id (base58btc string, e.g. `12D3KooW...`). */
  peerId: string;
  /** Multiaddrs to dial, with or without a trailing `/p2p/<peerId>`; may be empty. */
  addrs: string[];
}

export interface PeerNetworkOptions {
  /** This peer's libp2p identity (an Ed25519 key from @libp2p/crypto). */
  privateKey: PrivateKey;
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0` (port 0: read addresses() back). */
  listen: string[];
  /** The genesis peers; our own entry may be included (it is ignored). */
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
  /** Genesis peers with an open connection that passed the hello check. */
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
  /** Sends one request to a genesis peer on protocol `name` and returns the response body. */
  request(peerId: string, name: string, req: Uint8Array, opts: RequestOptions): Promise<Uint8Array>;
  /** Adds addresses for a genesis peer (e.g. learnt after it started on port 0). */
  addPeerAddresses(peerId: string, addrs: string[]): Promise<void>;
  /** Dials a multiaddr (must lead to a genesis peer: the gater applies); returns its peer id. */
  dial(addr: string): Promise<string>;
  onPeerConnect(cb: (peerId: string) => void): () => void;
  onPeerDisconnect(cb: (peerId: string) => void): () => void;
  onGenesisMismatch(cb: (m: GenesisMismatch) => void): () => void;
  /** The most recent genesis mismatches (at most limits.maxRecordedMismatches). */
  mismatches(): GenesisMismatch[];
  /** gossipsub's score of a peer (0 for unknown peers; negative after rejected messages). */
  peerScore(peerId: string): number;
  stats(): NetStats;
  stop(): Promise<void>;
}

/** Outbound requests in flight to one peer on one protocol (below libp2p's 64 stream cap). */
export const MAX_OUTBOUND_REQUESTS_PER_PEER = 32;
/** How often a refused outsider is logged (it is counted every time). */
const DENIED_LOG_INTERVAL_MS = 60_000;
/** Addresses remembered per genesis peer (config + addPeerAddresses). */
const MAX_ADDRS_PER_PEER = 16;
/** A listener keeps a mismatched connection open this long so the dialer can read our hello. */
const MISMATCH_CLOSE_GRACE_MS = 500;
const VERDICTS: ReadonlySet<string> = new Set(['accept', 'reject', 'ignore']);

interface DialState {
  backoffMs: number;
  nextAtMs: number;
  dialing: boolean;
}

function parseAddr(peerId: string, s: unknown, what: string): Multiaddr {
  if (typeof s !== 'string' || s.length === 0 || s.length > 1024) {
    throw new NetError('INVALID_CONFIG', `${what}: address must be a non-empty string of at most 1024 chars`);
  }
  let text = s;
  const i = s.lastIndexOf('/p2p/');
  if (i >= 0) {
    const id = s.slice(i + 5);
    if (id !== peerId) throw new NetError('INVALID_CONFIG', `${what}: address ${s} names peer ${id}, not ${peerId}`);
    text = s.slice(0, i);
  }
  try {
    return multiaddr(text);
  } catch (err) {
    throw new NetError('INVALID_CONFIG', `${what}: invalid multiaddr ${JSON.stringify(s)}: ${describeError(err)}`);
  }
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

  if (!Array.isArray(opts.peers)) throw new NetError('INVALID_CONFIG', 'peers must be an array');
  if (opts.peers.length > limits.maxGenesisPeers) {
    throw new NetError('INVALID_CONFIG', `${opts.peers.length} genesis peers exceed maxGenesisPeers=${limits.maxGenesisPeers}`, {
      limit: `maxGenesisPeers=${limits.maxGenesisPeers}`,
    });
  }
  /** The other genesis peers, by peer id string. */
  const genesis = new Map<string, { id: PeerId; addrs: Multiaddr[] }>();
  for (const [i, p] of opts.peers.entries()) {
    if (p === null || typeof p !== 'object' || typeof p.peerId !== 'string') {
      throw new NetError('INVALID_CONFIG', `peers[${i}] must be { peerId: string, addrs: string[] }`);
    }
    let id: PeerId;
    try {
      id = peerIdFromString(p.peerId);
    } catch (err) {
      throw new NetError('INVALID_CONFIG', `peers[${i}].peerId ${JSON.stringify(p.peerId)} is not a peer id: ${describeError(err)}`);
    }
    if (id.toString() !== p.peerId) throw new NetError('INVALID_CONFIG', `peers[${i}].peerId is not in canonical form`);
    if (!Array.isArray(p.addrs) || p.addrs.length > MAX_ADDRS_PER_PEER) {
      throw new NetError('INVALID_CONFIG', `peers[${i}].addrs must be an array of at most MAX_ADDRS_PER_PEER=${MAX_ADDRS_PER_PEER} strings`);
    }
    const addrs = p.addrs.map((a) => parseAddr(p.peerId, a, `peers[${i}]`));
    if (p.peerId === selfStr) continue; // our own entry in a shared genesis file
    if (genesis.has(p.peerId)) throw new NetError('INVALID_CONFIG', `peers[${i}]: duplicate peer id ${p.peerId}`);
    genesis.set(p.peerId, { id, addrs });
  }
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
  const isGenesis = (id: PeerId): boolean => genesis.has(id.toString());
  const deniedLoggedAt = new Map<string, number>();

  const node: Libp2p<{ identify: unknown; pubsub: GossipSub }> = await createLibp2p({
    start: false,
    privateKey: opts.privateKey,
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Admit only genesis peers, in both directions. Inbound peers are known only once the
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
          // An outsider may retry every second: log it once per DENIED_LOG_INTERVAL_MS.
          const key = id.toString();
          const now = performance.now();
          if ((deniedLoggedAt.get(key) ?? -Infinity) + DENIED_LOG_INTERVAL_MS < now) {
            if (deniedLoggedAt.size >= 1024) deniedLoggedAt.clear();
            deniedLoggedAt.set(key, now);
            log.warn({ peer: key, refusedSoFar: stats.gaterDeniedInbound }, 'refused inbound connection from a peer outside the genesis');
          }
        }
        return deny;
      },
    },
    connectionManager: {
      // Two connections per peer can exist briefly (simultaneous dials) plus a few being refused.
      maxConnections: 2 * n + 8,
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
    if (g === undefined) throw new NetError('NOT_GENESIS_PEER', `${JSON.stringify(peerId)?.slice(0, 100)} is not a genesis peer`);
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

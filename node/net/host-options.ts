// Checks the options of createPeerNetwork and derives what the host is built from: the limits,
// our peer id and listen addresses, the admitted peers at start, and the topics we may use.
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { NetError, describeError } from './errors.js';
import { MAX_GENESIS_HASH_BYTES } from './frames.js';
import type { PeerNetworkOptions } from './host-types.js';
import type { AdmittedPeer } from './host-state.js';
import { resolveNetLimits, type NetLimits } from './limits.js';
import { silentLogger, type NetLogger } from './logger.js';
import { MembershipGate } from './membership-gate.js';
import { parseAddr, parsePeerList } from './peer-list.js';
import { assertNamespace, extraTopic, topics, type CairnTopics } from './topics.js';

export interface HostSetup {
  limits: NetLimits;
  log: NetLogger;
  namespace: string;
  genesisHash: Uint8Array;
  selfStr: string;
  listen: string[];
  /** The admitted peers other than us, by peer id string (named `genesis` for the peers at start). */
  genesis: Map<string, AdmittedPeer>;
  gate: MembershipGate;
  /** Nodes in the network at start, us included (sizes gossipsub and the connection limit). */
  n: number;
  cairnTopics: CairnTopics;
  allowedTopics: string[];
}

/** Validates `opts` (INVALID_CONFIG naming the option) and resolves the host's starting setup. */
export function resolveHostSetup(opts: PeerNetworkOptions): HostSetup {
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

  const genesis = new Map<string, AdmittedPeer>();
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
  return { limits, log, namespace, genesisHash, selfStr, listen, genesis, gate, n, cairnTopics, allowedTopics };
}

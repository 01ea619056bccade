// Names on the wire. Gossip topics and request/response protocol ids embed the namespace
// (genesis hash prefix + origin), so peers started from a different genesis share no topic and
// no protocol with us: gossipsub never meshes them and multistream-select refuses the protocol.
// Only the hello protocol is shared by all Cairn peers, so a mismatch can be detected and named.
import { NetError } from './errors.js';

/** Not namespaced on purpose: it is how two peers find out their namespaces differ. */
export const HELLO_PROTOCOL = '/cairn/hello/1';

/** Printable ASCII without spaces; '/' and '.' allowed (an origin looks like `cairn.example/devnet`). */
const NAMESPACE_RE = /^[\x21-\x7e]{1,128}$/;
/** Protocol / extra topic short names: `blocks`, `sync-range/1`. */
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,47}(\/[0-9]{1,4})?$/;

export function assertNamespace(namespace: unknown): asserts namespace is string {
  if (typeof namespace !== 'string' || !NAMESPACE_RE.test(namespace)) {
    throw new NetError('INVALID_CONFIG', `namespace must be 1..128 printable ASCII characters without spaces, got ${JSON.stringify(namespace)}`);
  }
}

export function assertName(kind: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new NetError('INVALID_ARGUMENT', `${kind} name must match ${NAME_RE}, got ${JSON.stringify(name)}`);
  }
}

export interface CairnTopics {
  /** Batches of log entries (mempool gossip). */
  readonly entries: string;
  /** Tendermint proposals and votes. */
  readonly consensus: string;
  /** Peers' signatures over checkpoints of decided blocks. */
  readonly checkpointSigs: string;
}

/** The gossip topics of a namespace: `/cairn/<namespace>/<kind>/1`. */
export function topics(namespace: string): CairnTopics {
  assertNamespace(namespace);
  return Object.freeze({
    entries: `/cairn/${namespace}/entries/1`,
    consensus: `/cairn/${namespace}/consensus/1`,
    checkpointSigs: `/cairn/${namespace}/checkpoint-sigs/1`,
  });
}

/** An additional topic of the namespace (e.g. `extraTopic(ns, 'blocks')` → `/cairn/<ns>/blocks/1`). */
export function extraTopic(namespace: string, name: string): string {
  assertNamespace(namespace);
  assertName('topic', name);
  return `/cairn/${namespace}/${name}/1`;
}

/**
 * The libp2p protocol id of a request/response protocol: `/cairn/<namespace>/rr/<name>`.
 * Put the version in the name (`blocks/1`) so it can evolve.
 */
export function protocolId(namespace: string, name: string): string {
  assertNamespace(namespace);
  assertName('protocol', name);
  return `/cairn/${namespace}/rr/${name}`;
}

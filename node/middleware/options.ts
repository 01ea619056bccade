// The options both adapters take: where events go (one of agent / agentSocket / peers+signer / sink)
// and how a request is mapped (mapping.ts).
import type { Ed25519Signer } from '../../src/crypto/types.js';
import type { MappingOptions } from './mapping.js';
import { agentSink, peerSink, type EventSink, type SinkOptions } from './sink.js';

export interface AuditMiddlewareOptions extends MappingOptions, SinkOptions {
  /** URL of a `cairn agent` (http://127.0.0.1:8480). */
  agent?: string;
  /** Unix socket of a `cairn agent`. */
  agentSocket?: string;
  /** Submit directly to these peers, signed with `signer` (no durable spool). */
  peers?: string[];
  signer?: Ed25519Signer;
  /** Any other sink (tests, custom transports). */
  sink?: EventSink;
}

export function sinkOf(o: AuditMiddlewareOptions): EventSink {
  const given = [o.agent, o.agentSocket, o.peers, o.sink].filter((x) => x !== undefined).length;
  if (given !== 1) throw new Error('audit middleware: give exactly one of agent, agentSocket, peers (with signer) or sink');
  if (o.sink !== undefined) return o.sink;
  if (o.agent !== undefined) return agentSink({ ...o, url: o.agent });
  if (o.agentSocket !== undefined) return agentSink({ ...o, socketPath: o.agentSocket });
  if (o.signer === undefined) throw new Error('audit middleware: peers needs signer (the client key)');
  return peerSink({ ...o, peers: o.peers!, signer: o.signer });
}

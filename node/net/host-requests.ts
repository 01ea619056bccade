// Request/response of the peer network: the protocol servers we run (one per namespaced
// protocol id) and the requests we send to admitted peers, bounded per peer and protocol and
// aborted when the network stops.
import { deadline } from './deadline.js';
import { NetError, describeError } from './errors.js';
import type { PeerNetwork } from './host-types.js';
import { admittedPeer, assertRunning, toError, type HostState } from './host-state.js';
import { MAX_FRAME_BYTES, resolveProtocolLimits } from './limits.js';
import { ProtocolServer, classifyOpenError, exchange, validateRequestOptions } from './reqresp.js';
import { assertName, protocolId } from './topics.js';

/** Outbound requests in flight to one peer on one protocol (below libp2p's 64 stream cap). */
export const MAX_OUTBOUND_REQUESTS_PER_PEER = 32;

export interface Requests extends Pick<PeerNetwork, 'handle' | 'request'> {
  /** The protocol servers by protocol id. */
  readonly servers: ReadonlyMap<string, ProtocolServer>;
  /** On stop: aborts every request in flight and stops every server. */
  stop(): void;
}

export function setUpRequests(s: HostState, namespace: string): Requests {
  const servers = new Map<string, ProtocolServer>();
  const outbound = new Map<string, number>(); // `${peerId} ${protocol}` -> requests in flight
  const stopSignal = new AbortController();

  return {
    servers,

    async handle(name, handler, protoLimits) {
      assertRunning(s);
      assertName('protocol', name);
      if (typeof handler !== 'function') throw new NetError('INVALID_ARGUMENT', 'handler must be a function');
      const pid = protocolId(namespace, name);
      if (servers.has(pid)) throw new NetError('ALREADY_REGISTERED', `a handler for ${pid} is already registered`);
      const server = new ProtocolServer(pid, handler, resolveProtocolLimits(protoLimits), s.log);
      servers.set(pid, server);
      await s.node.handle(
        pid,
        (stream, conn) => {
          void server.onStream(stream, conn).catch((err) => {
            s.log.error({ protocol: pid, err: describeError(err) }, 'request server failed');
            stream.abort(toError(err));
          });
        },
        { maxInboundStreams: server.maxInboundStreams, maxOutboundStreams: MAX_OUTBOUND_REQUESTS_PER_PEER * 2 },
      );
    },

    async request(peerId, name, req, reqOpts) {
      assertRunning(s);
      const g = admittedPeer(s, peerId);
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
      const limit = deadline(ro.timeoutMs, stopSignal.signal);
      const signal = limit.signal;
      try {
        let stream;
        try {
          stream = await s.node.dialProtocol(g.id, pid, { signal });
        } catch (err) {
          throw classifyOpenError(err, peerId, pid, ro.timeoutMs, signal.aborted);
        }
        return await exchange(stream, req, ro, signal, () => `request to ${peerId} on ${pid}`);
      } catch (err) {
        if (s.stopped) throw new NetError('STOPPED', 'the peer network was stopped during the request', { cause: err });
        throw err;
      } finally {
        limit.clear();
        const left = (outbound.get(key) ?? 1) - 1;
        if (left <= 0) outbound.delete(key);
        else outbound.set(key, left);
      }
    },

    stop() {
      stopSignal.abort(new NetError('STOPPED', 'the peer network was stopped'));
      for (const server of servers.values()) server.stop();
    },
  };
}

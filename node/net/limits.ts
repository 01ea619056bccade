// Every limit of the networking layer, with its default and the reason for it. Names carry
// their unit last (TigerBeetle style: `..._ms`, `...Bytes`). Errors name the limit they hit.
import { NetError } from './errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Largest length-prefixed frame on any stream. it-length-prefixed (used by gossipsub) and
 * @libp2p/utils' byteStream both default to 4 MiB; gossipsub cannot even *send* an RPC frame
 * larger than that (encode.single throws). So gossip and stream frames are limited to 4 MiB.
 */
export const MAX_FRAME_BYTES = 4 * MiB;

/**
 * Room left in a gossipsub RPC frame for the topic string, protobuf tags and piggybacked
 * control messages (GRAFT/PRUNE/IDONTWANT) next to one message.
 */
export const GOSSIP_FRAME_HEADROOM_BYTES = 64 * KiB;

export interface NetLimits {
  /** Genesis peers accepted in `peers` (the gater's allow-list is this size at most). */
  maxGenesisPeers: number;
  /** Largest gossip payload publish() accepts; at most MAX_FRAME_BYTES - headroom. */
  maxGossipMessageBytes: number;
  /**
   * gossipsub has no backpressure (its OutboundStream.push just appends to the stream's write
   * buffer); a bulk publish (entry batches) waits while any peer's gossip write buffer holds more
   * than this. It is also about the most bulk data a consensus message can find queued ahead of
   * it on a connection, so it is kept small.
   */
  gossipMaxQueuedBytes: number;
  /** How long a bulk publish waits for that buffer to drain before failing GOSSIP_BACKPRESSURE. */
  gossipBackpressureTimeoutMs: number;
  /** Bulk publishes waiting their turn; one more is shed at once with GOSSIP_BACKPRESSURE. */
  gossipBulkQueueMax: number;
  /**
   * An urgent publish (consensus, checkpoint signatures) never waits behind bulk ones; it waits
   * only while a peer's write buffer is above this hard cap (that peer reads nothing at all).
   */
  gossipUrgentMaxQueuedBytes: number;
  /** One dial attempt to a genesis peer. */
  dialTimeoutMs: number;
  /** First delay between redials of a disconnected genesis peer; doubles up to the max. */
  redialIntervalMs: number;
  redialMaxBackoffMs: number;
  /** After a genesis mismatch we wait this long before dialing that peer again. */
  mismatchRetryMs: number;
  /** The listener closes a connection whose dialer sent no hello within this time. */
  helloTimeoutMs: number;
  /** libp2p's inbound connection rate limit per remote IP (its default is 5/s). */
  inboundConnectionsPerSecondPerIp: number;
  /** Genesis mismatches kept for mismatches() (oldest dropped first). */
  maxRecordedMismatches: number;
}

export interface ProtocolLimits {
  /** Largest request body the server reads; larger requests get REQUEST_TOO_LARGE. */
  maxRequestBytes: number;
  /** Largest response body the server sends; a larger handler result becomes an error. */
  maxResponseBytes: number;
  /** Requests from one peer being handled at once on this protocol. */
  maxConcurrentPerPeer: number;
  /** Token bucket per peer: sustained requests per second ... */
  rateLimitPerSecond: number;
  /** ... and burst size (bucket capacity). */
  rateLimitBurst: number;
  /** The handler must answer within this time (it gets an AbortSignal that fires then). */
  handlerTimeoutMs: number;
  /** The whole request must arrive within this time (no slow-loris holding a slot). */
  requestReadTimeoutMs: number;
}

export const DEFAULT_NET_LIMITS: Readonly<NetLimits> = Object.freeze({
  maxGenesisPeers: 256,
  maxGossipMessageBytes: MAX_FRAME_BYTES - GOSSIP_FRAME_HEADROOM_BYTES,
  gossipMaxQueuedBytes: 4 * MiB,
  gossipBackpressureTimeoutMs: 10_000,
  gossipBulkQueueMax: 64,
  gossipUrgentMaxQueuedBytes: 64 * MiB,
  dialTimeoutMs: 5_000,
  redialIntervalMs: 500,
  redialMaxBackoffMs: 5_000,
  mismatchRetryMs: 30_000,
  helloTimeoutMs: 5_000,
  inboundConnectionsPerSecondPerIp: 20,
  maxRecordedMismatches: 100,
});

export const DEFAULT_PROTOCOL_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  maxRequestBytes: 1 * MiB,
  maxResponseBytes: MAX_FRAME_BYTES - 1,
  maxConcurrentPerPeer: 8,
  rateLimitPerSecond: 50,
  rateLimitBurst: 100,
  handlerTimeoutMs: 10_000,
  requestReadTimeoutMs: 10_000,
});

/** [min, max] accepted for each limit; anything outside is a configuration error. */
const NET_LIMIT_RANGES: { [K in keyof NetLimits]: readonly [number, number] } = {
  maxGenesisPeers: [1, 10_000],
  maxGossipMessageBytes: [1, MAX_FRAME_BYTES - GOSSIP_FRAME_HEADROOM_BYTES],
  gossipMaxQueuedBytes: [MAX_FRAME_BYTES, 1024 * MiB],
  gossipBackpressureTimeoutMs: [1, 600_000],
  gossipBulkQueueMax: [1, 100_000],
  gossipUrgentMaxQueuedBytes: [MAX_FRAME_BYTES, 4096 * MiB],
  dialTimeoutMs: [10, 600_000],
  redialIntervalMs: [10, 600_000],
  redialMaxBackoffMs: [10, 3_600_000],
  mismatchRetryMs: [10, 3_600_000],
  helloTimeoutMs: [10, 600_000],
  inboundConnectionsPerSecondPerIp: [1, 100_000],
  maxRecordedMismatches: [1, 100_000],
};

const PROTOCOL_LIMIT_RANGES: { [K in keyof ProtocolLimits]: readonly [number, number] } = {
  // The response frame carries one status byte before the body.
  maxRequestBytes: [0, MAX_FRAME_BYTES],
  maxResponseBytes: [0, MAX_FRAME_BYTES - 1],
  maxConcurrentPerPeer: [1, 1024],
  rateLimitPerSecond: [0.001, 1_000_000],
  rateLimitBurst: [1, 1_000_000],
  handlerTimeoutMs: [1, 3_600_000],
  requestReadTimeoutMs: [1, 3_600_000],
};

function resolve<T extends object>(
  what: string,
  defaults: Readonly<T>,
  ranges: { [K in keyof T]: readonly [number, number] },
  given: unknown,
  integerOnly: ReadonlySet<string>,
): T {
  if (given !== undefined && (given === null || typeof given !== 'object' || Array.isArray(given))) {
    throw new NetError('INVALID_CONFIG', `${what} must be an object`);
  }
  const out = { ...defaults } as T;
  const g = (given ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(g)) {
    if (!(key in defaults)) throw new NetError('INVALID_CONFIG', `${what}: unknown limit "${key}"`);
  }
  for (const key of Object.keys(defaults) as (keyof T & string)[]) {
    const v = g[key] === undefined ? (defaults[key] as unknown) : g[key];
    const [min, max] = ranges[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new NetError('INVALID_CONFIG', `${what}.${key} must be a number in [${min}, ${max}], got ${String(v)}`);
    }
    if (integerOnly.has(key) && !Number.isInteger(v)) {
      throw new NetError('INVALID_CONFIG', `${what}.${key} must be an integer, got ${v}`);
    }
    (out as Record<string, unknown>)[key] = v;
  }
  return out;
}

export function resolveNetLimits(given?: Partial<NetLimits>): NetLimits {
  const out = resolve('limits', DEFAULT_NET_LIMITS, NET_LIMIT_RANGES, given, new Set(Object.keys(DEFAULT_NET_LIMITS)));
  if (out.gossipUrgentMaxQueuedBytes < out.gossipMaxQueuedBytes) {
    throw new NetError('INVALID_CONFIG', 'limits.gossipUrgentMaxQueuedBytes must be >= limits.gossipMaxQueuedBytes');
  }
  if (out.redialMaxBackoffMs < out.redialIntervalMs) {
    throw new NetError('INVALID_CONFIG', 'limits.redialMaxBackoffMs must be >= limits.redialIntervalMs');
  }
  return out;
}

export function resolveProtocolLimits(given?: Partial<ProtocolLimits>): ProtocolLimits {
  const ints = new Set(Object.keys(DEFAULT_PROTOCOL_LIMITS));
  ints.delete('rateLimitPerSecond');
  return resolve('protocol limits', DEFAULT_PROTOCOL_LIMITS, PROTOCOL_LIMIT_RANGES, given, ints);
}

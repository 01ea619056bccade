// Limits of the HTTP API (docs/api.md, "Limits"). Every one is named in the error it causes.
import { SUBMIT_ARRAY_MAX } from '../../src/client/types.js';
import { ENTRY_DEPTH_MAX, ENTRY_VALUES_MAX, LEAF_BYTES_MAX, SUBMIT_BYTES_PER_ENTRY, SUBMIT_VALUES_PER_ENTRY } from '../../src/entry/limits.js';

export interface HttpLimits {
  /** Largest request body in bytes (413 body_too_large). */
  bodyBytesMax: number;
  /** Longest array submission (413 too_many_entries). */
  entriesPerRequestMax: number;
  /** Deepest JSON nesting of a request body, checked before parsing (400 too_deep). */
  jsonDepthMax: number;
  /** Most JSON values in a request body, checked before parsing (413 too_many_values). */
  jsonValuesMax: number;
  /** Bytes of request bodies being received or parsed at once, all clients (503 overloaded). */
  bodyBytesInFlightMax: number;
  /** The same, per client address (429 too_many_bodies). */
  bodyBytesInFlightPerAddressMax: number;
  /** Requests served concurrently, long-polls included (429 too_many_requests). */
  inFlightMax: number;
  /** Sustained requests per second per client address (429 rate_limited). */
  requestsPerSecondPerAddress: number;
  /** Requests a client address may send in a burst above that rate (429 rate_limited). */
  requestBurstPerAddress: number;
  /** Client addresses whose request rate is tracked (least recently seen forgotten first). */
  addressesTrackedMax: number;
  /** Open connections, all clients (503 overloaded). */
  connectionsMax: number;
  /** Open connections per client address (429 too_many_connections). */
  connectionsPerAddressMax: number;
  /** Concurrent ?wait=final long-polls (429 too_many_waiters). */
  waitersMax: number;
  /** Largest long-poll timeout (400 bad_request, field "timeout"). */
  waitTimeoutMsMax: number;
  /** Time to receive a whole request (Node's server.requestTimeout; 408). */
  requestTimeoutMs: number;
  /** Idle socket timeout; must exceed waitTimeoutMsMax or long-polls would be cut. */
  connectionTimeoutMs: number;
  /** Idle keep-alive connection timeout. */
  keepAliveTimeoutMs: number;
  /** Bytes of gzip-compressed full entry bundles kept in memory. */
  bundleGzipCacheBytesMax: number;
}

/** Default long-poll timeout when `timeout` is not given. */
export const WAIT_TIMEOUT_MS_DEFAULT = 10_000;

/** One maximal entry as a client may send it: its JCS bytes with room for whitespace and escapes. */
const ONE_ENTRY_BODY_BYTES = 2 * LEAF_BYTES_MAX;

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  // What a full array submission needs (SUBMIT_ARRAY_MAX entries of SUBMIT_BYTES_PER_ENTRY on
  // average, 2,048,000 bytes), and always at least one maximal entry. It bounds what JSON.parse
  // of one body may cost the event loop that consensus shares (the shape scan bounds the rest).
  bodyBytesMax: Math.max(SUBMIT_ARRAY_MAX * SUBMIT_BYTES_PER_ENTRY, ONE_ENTRY_BODY_BYTES),
  entriesPerRequestMax: SUBMIT_ARRAY_MAX,
  // The entry's own depth plus the array around it; anything deeper fails validation anyway.
  jsonDepthMax: ENTRY_DEPTH_MAX + 1,
  jsonValuesMax: SUBMIT_ARRAY_MAX * SUBMIT_VALUES_PER_ENTRY,
  bodyBytesInFlightMax: 64 * 1024 * 1024,
  bodyBytesInFlightPerAddressMax: 16 * 1024 * 1024,
  inFlightMax: 1024,
  requestsPerSecondPerAddress: 1000,
  requestBurstPerAddress: 2000,
  addressesTrackedMax: 10_000,
  connectionsMax: 2048,
  connectionsPerAddressMax: 512,
  waitersMax: 512,
  waitTimeoutMsMax: 60_000,
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 90_000,
  keepAliveTimeoutMs: 5_000,
  bundleGzipCacheBytesMax: 32 * 1024 * 1024,
};

/** Fills defaults and checks the combination; throws (a programming/config error) when inconsistent. */
export function resolveHttpLimits(partial: Partial<HttpLimits> = {}): HttpLimits {
  const l: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`http limit ${k} must be a positive integer, got ${String(v)}`);
  }
  if (l.entriesPerRequestMax > SUBMIT_ARRAY_MAX) throw new RangeError(`entriesPerRequestMax must be at most ${SUBMIT_ARRAY_MAX} (SUBMIT_ARRAY_MAX)`);
  if (l.connectionTimeoutMs <= l.waitTimeoutMsMax) throw new RangeError('connectionTimeoutMs must exceed waitTimeoutMsMax, or idle long-polls would be cut');
  if (l.jsonValuesMax < ENTRY_VALUES_MAX) throw new RangeError(`jsonValuesMax must be at least ${ENTRY_VALUES_MAX} (ENTRY_VALUES_MAX), or a valid entry could be refused`);
  if (l.requestBurstPerAddress < 1) throw new RangeError('requestBurstPerAddress must be at least 1');
  return l;
}

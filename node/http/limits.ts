// Limits of the HTTP API (docs/api.md, "Limits"). Every one is named in the error it causes.
import { SUBMIT_ARRAY_MAX } from '../../src/client/types.js';

export interface HttpLimits {
  /** Largest request body in bytes (413 body_too_large). */
  bodyBytesMax: number;
  /** Longest array submission (413 too_many_entries). */
  entriesPerRequestMax: number;
  /** Requests served concurrently, long-polls included (429 too_many_requests). */
  inFlightMax: number;
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
}

/** Default long-poll timeout when `timeout` is not given. */
export const WAIT_TIMEOUT_MS_DEFAULT = 10_000;

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  // 1,000 typical entries (~1 KiB) fit many times over; a body of 1,000 maximal (64 KiB) entries
  // does not, and is refused whole rather than buffered (the client splits it).
  bodyBytesMax: 8 * 1024 * 1024,
  entriesPerRequestMax: SUBMIT_ARRAY_MAX,
  inFlightMax: 1024,
  waitersMax: 512,
  waitTimeoutMsMax: 60_000,
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 90_000,
  keepAliveTimeoutMs: 5_000,
};

/** Fills defaults and checks the combination; throws (a programming/config error) when inconsistent. */
export function resolveHttpLimits(partial: Partial<HttpLimits> = {}): HttpLimits {
  const l: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`http limit ${k} must be a positive integer, got ${String(v)}`);
  }
  if (l.entriesPerRequestMax > SUBMIT_ARRAY_MAX) throw new RangeError(`entriesPerRequestMax must be at most ${SUBMIT_ARRAY_MAX} (SUBMIT_ARRAY_MAX)`);
  if (l.connectionTimeoutMs <= l.waitTimeoutMsMax) throw new RangeError('connectionTimeoutMs must exceed waitTimeoutMsMax, or idle long-polls would be cut');
  return l;
}

// Errors of the networking layer. Every failure the caller can see is a NetError with a
// machine-readable `code`; failures caused by a limit also name that limit (`limit`), so an
// operator reading a log line knows which knob was hit and what its value was.

export type NetErrorCode =
  /** Options passed to createPeerNetwork / handle / subscribe are malformed. */
  | 'INVALID_CONFIG'
  /** A listen address could not be bound (e.g. the port is in use). */
  | 'LISTEN_FAILED'
  /** An argument of a call (peer id, topic, protocol name, payload) is malformed. */
  | 'INVALID_ARGUMENT'
  /** The peer id is not one of the genesis peers: we never talk to it. */
  | 'NOT_GENESIS_PEER'
  /** The topic is not one of the namespace's topics (see topics()). */
  | 'UNKNOWN_TOPIC'
  /** subscribe() or handle() was called twice for the same topic / protocol. */
  | 'ALREADY_REGISTERED'
  /** The network was stopped. */
  | 'STOPPED'
  /** A gossip message is larger than maxGossipMessageBytes. */
  | 'GOSSIP_TOO_LARGE'
  /** A peer's outbound gossip queue stayed above gossipMaxQueuedBytes for too long. */
  | 'GOSSIP_BACKPRESSURE'
  /** gossipsub refused the publish for another reason (message in the error). */
  | 'GOSSIP_PUBLISH_FAILED'
  /** Could not open a connection to the peer. */
  | 'DIAL_FAILED'
  /** The remote does not serve this protocol (e.g. a different namespace / genesis). */
  | 'PROTOCOL_UNSUPPORTED'
  /** The whole request took longer than timeoutMs. */
  | 'TIMEOUT'
  /** A request exceeded maxRequestBytes (ours, or the server's: see `remote`). */
  | 'REQUEST_TOO_LARGE'
  /** A response exceeded maxResponseBytes (the caller's, or the server's: see `remote`). */
  | 'RESPONSE_TOO_LARGE'
  /** The server's per-peer token bucket for this protocol is empty. */
  | 'RATE_LIMITED'
  /** Too many requests in flight between this pair of peers on this protocol. */
  | 'CONCURRENCY_LIMIT'
  /** The server's handler threw; `remoteCode` carries a HandlerError's code. */
  | 'HANDLER_ERROR'
  /** The server's handler did not answer within handlerTimeoutMs. */
  | 'HANDLER_TIMEOUT'
  /** The bytes on the wire do not follow the framing (either side). */
  | 'MALFORMED_FRAME'
  /** The stream was reset or closed before the exchange completed. */
  | 'STREAM_ERROR';

export interface NetErrorDetails {
  /** The limit that was hit, as `name=value` (e.g. `maxRequestBytes=1024`). */
  limit?: string;
  /** True when the error was reported by the remote peer rather than detected locally. */
  remote?: boolean;
  /** For HANDLER_ERROR: the application code the remote handler chose (HandlerError). */
  remoteCode?: string;
  cause?: unknown;
}

export class NetError extends Error {
  readonly code: NetErrorCode;
  readonly limit: string | undefined;
  readonly remote: boolean;
  readonly remoteCode: string | undefined;

  constructor(code: NetErrorCode, message: string, details: NetErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'NetError';
    this.code = code;
    this.limit = details.limit;
    this.remote = details.remote ?? false;
    this.remoteCode = details.remoteCode;
  }
}

/** Codes a server may put in an error response frame; anything else is treated as malformed. */
export const REMOTE_ERROR_CODES: ReadonlySet<NetErrorCode> = new Set<NetErrorCode>([
  'REQUEST_TOO_LARGE',
  'RESPONSE_TOO_LARGE',
  'RATE_LIMITED',
  'CONCURRENCY_LIMIT',
  'HANDLER_ERROR',
  'HANDLER_TIMEOUT',
  'MALFORMED_FRAME',
  'TIMEOUT',
]);

const APP_CODE_RE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * An error a request handler throws on purpose: its code and message are sent to the caller
 * (code: upper-case identifier, at most 64 chars). Any other exception is reported to the caller
 * only as "internal error" so that internals (paths, stack traces) never leave the process.
 */
export class HandlerError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    if (!APP_CODE_RE.test(code)) {
      throw new NetError('INVALID_ARGUMENT', `HandlerError code must match ${APP_CODE_RE}: ${JSON.stringify(code)}`);
    }
    this.name = 'HandlerError';
    this.code = code;
  }
}

export function isAppCode(s: unknown): s is string {
  return typeof s === 'string' && APP_CODE_RE.test(s);
}

/** A short, single-line description of an unknown thrown value, for logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

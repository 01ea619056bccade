// The agent's limits, error codes and the shapes it reports (docs/integrations.md, "Agent").

/** Bounds of the agent: every queue and retry is limited in count, bytes and time. */
export interface AgentLimits {
  /** Events the spool holds at most (accepted, not final yet). A request that would exceed it: 503 spool_full. */
  spoolEventsMax: number;
  /** Bytes of spooled records at most (their JSON as stored). */
  spoolBytesMax: number;
  /** Largest request body on the intake (bytes). */
  bodyBytesMax: number;
  /** Most events in one intake request (an array, or the log records of one OTLP request). */
  eventsPerRequestMax: number;
  /** Entries in one submission to a peer (the API takes at most 1,000). */
  submitBatchMax: number;
  /** Bytes of entries in one submission (under the peers' bodyBytesMax, 2,048,000 by default). */
  submitBatchBytesMax: number;
  /** Submissions to peers in flight at once. */
  submitConcurrency: number;
  /** Entries submitted and not yet confirmed final, at most (bounds the re-submission work). */
  inflightMax: number;
  /** First finality check of a submitted entry after this long; doubles per check up to checkMaxMs. */
  checkFirstMs: number;
  checkMaxMs: number;
  /** Retry of an entry a peer refused (busy, unknown client, ...): first delay, doubling up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** A peer that failed (unreachable, 429, 503) is not asked again for this long, doubling up to peerBackoffMaxMs. */
  peerBackoffBaseMs: number;
  peerBackoffMaxMs: number;
  /** Deadline of one request to a peer. */
  requestTimeoutMs: number;
  /** Versions (re-signed with a fresh time) one event may have; see docs/integrations.md. */
  versionsMax: number;
}

export const AGENT_LIMITS_DEFAULT: AgentLimits = {
  spoolEventsMax: 1_000_000,
  spoolBytesMax: 1024 * 1024 * 1024,
  bodyBytesMax: 4 * 1024 * 1024,
  eventsPerRequestMax: 1_000,
  submitBatchMax: 500,
  submitBatchBytesMax: 1_500_000,
  submitConcurrency: 2,
  inflightMax: 20_000,
  checkFirstMs: 750,
  checkMaxMs: 30_000,
  retryBaseMs: 250,
  retryMaxMs: 30_000,
  peerBackoffBaseMs: 250,
  peerBackoffMaxMs: 30_000,
  requestTimeoutMs: 30_000,
  versionsMax: 64,
};

/** Error codes of the agent's own HTTP API (stable; clients match on them). */
export const AGENT_ERROR_CODES = [
  'invalid_json',
  'invalid_event',
  'event_conflict',
  'body_too_large',
  'too_many_events',
  'unsupported_media_type',
  'not_found',
  'method_not_allowed',
  'spool_full',
  'spool_error',
] as const;
export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

export const AGENT_ERROR_STATUS: Readonly<Record<AgentErrorCode, number>> = {
  invalid_json: 400,
  invalid_event: 400,
  event_conflict: 409,
  body_too_large: 413,
  too_many_events: 413,
  unsupported_media_type: 415,
  not_found: 404,
  method_not_allowed: 405,
  spool_full: 503,
  spool_error: 500,
};

/** One peer as the agent sees it. */
export interface AgentPeerStatus {
  url: string;
  /** Consecutive failed requests (0 = the last one worked). */
  failures: number;
  /** Not asked again before this many ms from now (0 = usable). */
  backoffMs: number;
  lastError: string | null;
}

/** GET /v1/status of the agent and `cairn agent status`. */
export interface AgentStatus {
  client: string;
  instance: string;
  spool: { events: number; bytes: number; eventsMax: number; bytesMax: number; full: boolean };
  /** Submitted entries waiting for their finality check. */
  inflight: number;
  /** Entries allowed in flight now (halved when entries expired in the mempools, up to inflightMax). */
  inflightWindow: number;
  /** Entries a peer refused, waiting for their retry. */
  retrying: number;
  /** Events whose versions reached versionsMax: they keep being retried with their last version. */
  stuck: number;
  counters: AgentCounters;
  peers: AgentPeerStatus[];
  /** The peer used for the next submission. */
  currentPeer: string;
  lastError: string | null;
}

export interface AgentCounters {
  /** Events durably spooled. */
  accepted: number;
  /** Events answered `duplicate` at the intake (same id and content already spooled). */
  duplicates: number;
  /** Requests answered 503 spool_full. */
  full: number;
  /** Events confirmed final and removed from the spool. */
  final: number;
  /** Events removed because the log already holds a different entry with their id. */
  conflicts: number;
  /** Versions signed with a fresh time because a peer refused the old one for clock skew. */
  retimed: number;
  /** Entries sent to peers (first submissions and finality checks). */
  entriesSent: number;
  /** Requests to peers that failed as a whole (unreachable, timeout, 429, 503, ...). */
  requestFailures: number;
  /** Entries a peer refused with an error other than conflict / clock skew. */
  entryErrors: number;
}

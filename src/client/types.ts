// Wire shapes of the Cairn peer HTTP API (docs/api.md). Shared by the server (node/http) and the
// portable client SDK, so the contract is written down once.
import type { AuditEntry } from '../entry/types.js';
import { GOV_PARSE_CODES, GOV_REJECT_CODES, type GovParseCode, type GovRejectCode } from '../governance/types.js';

/** Every error code the API can answer with (docs/api.md, "Status codes and error codes"). */
export const API_ERROR_CODES = [
  'malformed',
  'clock_skew',
  'invalid_json',
  'bad_request',
  'bad_range',
  'bad_tile_path',
  'too_deep',
  'cursor_malformed',
  'cursor_tampered',
  'cursor_mismatch',
  'unknown_client',
  'unauthenticated',
  'bad_signature',
  'forbidden',
  'not_found',
  'entry_not_found',
  'not_final',
  'no_checkpoint',
  'tile_not_found',
  'method_not_allowed',
  'request_timeout',
  'conflict',
  'too_large',
  'body_too_large',
  'too_many_entries',
  'too_many_values',
  'unsupported_media_type',
  'too_many_requests',
  'too_many_waiters',
  'rate_limited',
  'too_many_connections',
  'too_many_bodies',
  'busy',
  'overloaded',
  'unavailable',
  'unhealthy',
  'index_incomplete',
  'internal',
  // Submissions: a key governance revoked; a governance record that does not parse / is refused (docs/governance.md).
  'client_revoked',
  'gov_type_unsupported',
  ...GOV_PARSE_CODES,
  ...GOV_REJECT_CODES,
] as const;

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** HTTP status of each error code. */
export const API_ERROR_STATUS: Readonly<Record<ApiErrorCode, number>> = {
  malformed: 400,
  clock_skew: 400,
  invalid_json: 400,
  bad_request: 400,
  bad_range: 400,
  bad_tile_path: 400,
  too_deep: 400,
  cursor_malformed: 400,
  cursor_tampered: 400,
  cursor_mismatch: 400,
  unknown_client: 401,
  unauthenticated: 401,
  bad_signature: 403,
  forbidden: 403,
  not_found: 404,
  entry_not_found: 404,
  not_final: 404,
  no_checkpoint: 404,
  tile_not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  too_large: 413,
  body_too_large: 413,
  too_many_entries: 413,
  too_many_values: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  too_many_waiters: 429,
  rate_limited: 429,
  too_many_connections: 429,
  too_many_bodies: 429,
  busy: 503,
  overloaded: 503,
  unavailable: 503,
  unhealthy: 503,
  index_incomplete: 503,
  internal: 500,
  client_revoked: 403,
  gov_type_unsupported: 422,
  ...(Object.fromEntries(GOV_PARSE_CODES.map((c) => [c, 400])) as Record<GovParseCode, 400>),
  ...(Object.fromEntries(GOV_REJECT_CODES.map((c) => [c, 422])) as Record<GovRejectCode, 422>),
};

export interface ApiErrorBody {
  code: string;
  message: string;
  field?: string;
}

/** The result of submitting one entry. */
export type SubmitItem =
  | { status: 'accepted' | 'known-pending' | 'known-final'; leafHash: string }
  | { error: ApiErrorBody };

/** Body of an array submission. `error` is present when every entry failed with the same code. */
export interface SubmitBatchResponse {
  results: SubmitItem[];
  error?: ApiErrorBody;
}

/** GET /v1/entries/{hash} and /v1/entries/by-id/{client}/{id}. */
export interface EntryResponse {
  leafHash: string;
  status: 'pending' | 'logged' | 'final';
  entry: AuditEntry;
  /** base64 of the leaf bytes (the entry's JCS). */
  leaf: string;
  index?: number;
  treeSize?: number;
  /** base64 hashes: RFC 9162 inclusion proof of `index` in the tree of `treeSize`. */
  proof?: string[];
  /** The quorum-signed C2SP checkpoint note the proof is relative to. */
  checkpoint?: string;
}

/** GET /v1/proofs/consistency. */
export interface ConsistencyResponse {
  from: number;
  to: number;
  proof: string[];
}

/** GET /healthz when healthy. */
export interface HealthResponse {
  ok: true;
  height: number;
  treeSize: number;
  finalSize: number;
}

/** GET /v1/status (node/peer/peer.ts PeerStatus, as JSON). */
export interface StatusResponse {
  origin: string;
  genesisHash: string;
  peerId: string;
  validator: { index: number; name: string } | null;
  height: number;
  treeSize: number;
  root: string;
  finalSize: number;
  latestFinalCheckpoint: string | null;
  mempool: { entries: number; bytes: number };
  /** The admitted peers: `member` of the validator set in force at the next height, or `scheduled` in a decided next set. */
  peers: { name: string; peerId: string; connected: boolean; height: number | null; treeSize: number | null; role?: 'member' | 'scheduled' }[];
  quorum: { needed: number; reachable: number; ok: boolean };
  /** Governance state after the head (docs/governance.md): peers at the same head show the same govStateHash. */
  governance?: { govStateHash: string; epoch: number; records: number; pending: { type: string; effectiveHeight: number } | null };
  problem: string | null;
  /** The consensus engine (node/peer/consensus-runner.ts RunnerStatus). */
  consensus: { height: number; round: number; step: string; running: boolean; queueDepth: number; decided: number; evidence: number; rejected: Record<string, number> };
  /** Catch-up sync (node/peer/sync.ts SyncStats). */
  sync: { running: boolean; blocksFetched: number; entriesFetched: number; lastRateEntriesPerSec: number; lastDurationMs: number; failures: number };
  /** Stored equivocation evidence records. */
  evidence: number;
}

/** Longest array accepted by POST /v1/entries (bounds one request's validation work). */
export const SUBMIT_ARRAY_MAX = 1000;
/** Header of a long-poll response: milliseconds spent waiting. */
export const WAITED_HEADER = 'cairn-waited-ms';

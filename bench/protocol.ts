// Messages between bench/run.ts and its load-generator child processes (Node IPC, JSON).
import type { BenchAuthConfig } from './auth.js';

export interface LoadgenInit {
  /** Position of this load generator (makes entry ids unique across generators). */
  index: number;
  /** Genesis client seeds (hex) this generator signs with. */
  clientSeedsHex: string[];
  /** The light verifier's trust file (JSON text). */
  trustJson: string;
  /** Canonical (JCS) size of each entry, in bytes. */
  entryBytes: number;
  /** Credentials for reads when the peers have an access policy (bench --auth); null: none. */
  auth: BenchAuthConfig | null;
}

export interface LoadgenPhase {
  id: string;
  /** Entries per second offered by THIS generator. */
  rate: number;
  durationMs: number;
  /** Peer API base URLs (127.0.0.1) to spread the load over. */
  urls: string[];
  /** Interval between two submit ticks (one batch per peer per tick). */
  tickMs: number;
  /** Interval between two checkpoint polls. */
  pollMs: number;
  /** Longest wait after the last submit for the phase's entries to become final. */
  drainMs: number;
  /** The drain also ends after this long without any new final entry. */
  stallMs: number;
  /** Inclusion proofs to fetch and verify after the phase. */
  proofSample: number;
}

export interface LoadgenResult {
  id: string;
  offered: number;
  sent: number;
  dropped: number;
  accepted: number;
  final: number;
  finalAccepted: number;
  codes: Record<string, number>;
  /** Submissions' HTTP statuses. */
  httpStatus: Record<string, number>;
  /** Reads (checkpoint polls, entry bundles, receipts) answered other than 200, by "what status". */
  readStatus: Record<string, number>;
  requests: number;
  requestErrors: number;
  sendMs: number;
  drainMs: number;
  /** Time from the phase start to the last entry seen final. */
  lastFinalMs: number;
  /** Per final entry: submit -> first verified checkpoint covering it. */
  latencyMs: number[];
  /** Per final entry (same order): submit time relative to the phase start. */
  submitMs: number[];
  proofsOk: number;
  proofsFailed: number;
  proofProblems: string[];
  checkpointsVerified: number;
  verifiedSize: number;
  signMs: number;
  /** Requests this phase signed (RFC 9421), peer tokens fetched, requests sent with a bearer token. */
  auth: { signed: number; tokenRequests: number; bearer: number };
}

export type ParentMessage =
  | { type: 'init'; init: LoadgenInit }
  | { type: 'prepare'; phase: LoadgenPhase }
  | { type: 'go'; startAtMs: number }
  | { type: 'exit' };

export type LoadgenReply =
  | { type: 'ready' }
  | { type: 'prepared'; id: string; count: number; signMs: number; leafBytes: number }
  | { type: 'result'; result: LoadgenResult }
  | { type: 'error'; message: string };

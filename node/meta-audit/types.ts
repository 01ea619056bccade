// The meta-audit interface: what the HTTP access gate records about every restricted read and
// every denial, and the limits of the durable queue that holds those events until they are final
// entries of the log.

export interface MetaAuditEvent {
  /** Principal.id, e.g. "https://idp.example#alice", "key:auditor" or "anonymous". */
  actor: string;
  /** 'cairn.read.entry' | 'cairn.read.bundle' | 'cairn.read.receipt' | 'cairn.read.search' | ... | 'cairn.auth.denied' */
  action: string;
  /** What was read (entry, range, query) or asked for. */
  resource: { type: string; id: string };
  /** The client's address (IP text form when it is one). */
  address: string;
  outcome: 'success' | 'denied';
  /** Auth reason code for denials. */
  reason?: string;
  /** Wall-clock time of the request, ms since the epoch. */
  atMs: number;
}

export interface MetaAuditStats {
  /** Records waiting in the queue (including those submitted but not final yet). */
  queued: number;
  /** Submissions the mempool accepted (or already knew), cumulative. */
  submitted: number;
  /** Records that became final entries and left the queue, cumulative (since open). */
  final: number;
  /** Events merged into an existing record instead of starting a new one, cumulative. */
  coalesced: number;
  /** Events recorded, cumulative. */
  events: number;
  /** Events counted in an overflow counter record because the queue was full, cumulative. */
  overflow: number;
  /** record() calls answered 'full', cumulative. */
  full: number;
  /** Submissions refused for a reason other than "already logged" (retried later), cumulative. */
  submitErrors: number;
}

export interface MetaAudit {
  /**
   * Durable (synced) before it resolves. 'full' when the queue is at its bound: the event is then
   * counted in a per-actor overflow counter record (synced too) unless it is a successful read and
   * the meta-audit was opened with failClosed (the gate answers 503 and serves nothing, so there
   * is no read to record).
   */
  record(ev: MetaAuditEvent): Promise<'queued' | 'full'>;
  stats(): MetaAuditStats;
  close(): Promise<void>;
}

export interface MetaAuditLimits {
  /** Most records (entries to be) waiting; overflow counters are bounded separately. */
  maxRecords: number;
  /** Most bytes (JSON) of waiting records. */
  maxBytes: number;
  /** Events of one actor+action+outcome+reason+address within this window share one record. */
  coalesceWindowMs: number;
  /** Most distinct resources listed in one record; the next distinct resource starts a new record. */
  coalesceResourcesMax: number;
  /** Most overflow counter records (one per actor+action+outcome); past it, one catch-all counter. */
  overflowRecordsMax: number;
  /** Most entries in one peer.submit call. */
  submitBatchMax: number;
  /** Most records submitted and waiting to become final at once. */
  inflightMax: number;
  /** How often the pump looks for closed records and checks submitted ones (also on every final checkpoint). */
  pollMs: number;
  /** Wait before submitting again a record the mempool refused (busy, clock skew). */
  retryMs: number;
}

export const DEFAULT_META_AUDIT_LIMITS: MetaAuditLimits = {
  maxRecords: 100_000,
  maxBytes: 64 * 1024 * 1024,
  coalesceWindowMs: 1_000,
  coalesceResourcesMax: 32,
  overflowRecordsMax: 10_000,
  submitBatchMax: 256,
  inflightMax: 2_048,
  pollMs: 500,
  retryMs: 2_000,
};

/** Longest actor, action, address, reason, resource type or id kept in a record (characters). */
export const FIELD_CHARS_MAX = 1_024;

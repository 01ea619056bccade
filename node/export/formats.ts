// Export record formats for final entries: native, OCSF (API Activity 6003 / Account Change 3001)
// and CloudEvents 1.0 (JSON). Pure functions: no clock, no I/O. Every record carries the entry's
// log index, its leaf hash and the checkpoint that covers it, and (OCSF, CloudEvents) the exact
// leaf text, so a copy kept in a SIEM can still be verified against the log: recompute the leaf
// hash from the text, check the entry's signature, and check inclusion under the checkpoint.
// The mapping is documented in docs/monitoring.md ("Export formats").
import type { AuditEntry, Outcome } from '../../src/entry/types.js';

/** The final checkpoint that covers an exported entry. */
export interface CoveringCheckpoint {
  origin: string;
  treeSize: number;
  /** Root hash, base64 (as in the checkpoint note). */
  rootHash: string;
  /** The signed note text, when the exporter includes it. */
  note?: string;
}

export interface ExportInput {
  index: number;
  /** Lowercase hex leaf hash. */
  leafHash: string;
  /** The leaf bytes as text: the entry's canonical JSON, exactly as logged. */
  leaf: string;
  entry: AuditEntry;
  checkpoint: CoveringCheckpoint;
}

export const EXPORT_FORMATS = ['native', 'ocsf', 'cloudevents'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** OCSF schema version the records follow. */
export const OCSF_VERSION = '1.3.0';

export function nativeRecord(x: ExportInput): Record<string, unknown> {
  return { index: x.index, leafHash: x.leafHash, checkpoint: x.checkpoint, entry: x.entry };
}

const ACCOUNT_TYPES = new Set(['user', 'account', 'role', 'service_account', 'group']);

// OCSF Account Change activity ids, by the entry action's last segment.
const ACCOUNT_ACTIVITY: Record<string, number> = {
  create: 1,
  enable: 2,
  password_change: 3,
  change_password: 3,
  password_reset: 4,
  reset_password: 4,
  disable: 5,
  delete: 6,
  attach_policy: 7,
  grant: 7,
  detach_policy: 8,
  revoke: 8,
  lock: 9,
  mfa_enable: 10,
  mfa_disable: 11,
};

// OCSF API Activity activity ids, by the entry action's last segment.
const API_ACTIVITY: Record<string, number> = {
  create: 1, add: 1, insert: 1, submit: 1, upload: 1,
  read: 2, get: 2, list: 2, query: 2, view: 2, search: 2, export: 2, download: 2,
  update: 3, modify: 3, edit: 3, patch: 3, set: 3, write: 3,
  delete: 4, remove: 4, purge: 4,
};

const STATUS_ID: Record<Outcome, number> = { success: 1, failure: 2, denied: 2, unknown: 0 };
const STATUS_NAME: Record<number, string> = { 0: 'Unknown', 1: 'Success', 2: 'Failure', 99: 'Other' };

/** Which OCSF class and activity an entry maps to (see the table in docs/monitoring.md). */
export function ocsfClassOf(entry: AuditEntry): { classUid: 3001 | 6003; categoryUid: 3 | 6; activityId: number } {
  const verb = entry.action.slice(entry.action.lastIndexOf('.') + 1);
  const account = ACCOUNT_TYPES.has(entry.resource.type) || entry.action.startsWith('iam.');
  if (account && ACCOUNT_ACTIVITY[verb] !== undefined) return { classUid: 3001, categoryUid: 3, activityId: ACCOUNT_ACTIVITY[verb]! };
  return { classUid: 6003, categoryUid: 6, activityId: API_ACTIVITY[verb] ?? 99 };
}

export function ocsfRecord(x: ExportInput): Record<string, unknown> {
  const e = x.entry;
  const { classUid, categoryUid, activityId } = ocsfClassOf(e);
  const statusId = STATUS_ID[e.outcome];
  const actorUser: Record<string, unknown> = { uid: e.actor.id };
  if (e.actor.name !== undefined) actorUser.name = e.actor.name;
  if (e.actor.type !== undefined) actorUser.type = e.actor.type;
  const srcEndpoint: Record<string, unknown> = {};
  if (e.source?.ip !== undefined) srcEndpoint.ip = e.source.ip;
  const resource: Record<string, unknown> = { type: e.resource.type, uid: e.resource.id };
  if (e.resource.name !== undefined) resource.name = e.resource.name;
  const rec: Record<string, unknown> = {
    class_uid: classUid,
    category_uid: categoryUid,
    activity_id: activityId,
    type_uid: classUid * 100 + activityId,
    severity_id: 1,
    time: Date.parse(e.time),
    status_id: statusId,
    status: STATUS_NAME[statusId],
    ...(e.outcome === 'denied' ? { status_detail: 'denied' } : {}),
    ...(e.reason !== undefined ? { message: e.reason } : {}),
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'Cairn', vendor_name: 'Cairn' },
      uid: e.id,
      log_name: x.checkpoint.origin,
      ...(e.tenant !== undefined ? { tenant_uid: e.tenant } : {}),
      ...(e.requestId !== undefined ? { correlation_uid: e.requestId } : {}),
    },
    actor: { user: actorUser },
    src_endpoint: srcEndpoint,
    ...(e.source?.userAgent !== undefined ? { http_request: { user_agent: e.source.userAgent } } : {}),
    // The exact logged entry: a SIEM copy stays verifiable (leaf hash = SHA-256(0x00 ‖ raw_data)).
    raw_data: x.leaf,
    unmapped: {
      cairn: { index: x.index, leaf_hash: x.leafHash, checkpoint: x.checkpoint, client: e.client, action: e.action, ...(e.data !== undefined ? { data: e.data } : {}) },
    },
  };
  if (classUid === 3001) {
    rec.user = { uid: e.resource.id, ...(e.resource.name !== undefined ? { name: e.resource.name } : {}), type: e.resource.type };
    rec.api = { operation: e.action, ...(e.requestId !== undefined ? { request: { uid: e.requestId } } : {}) };
  } else {
    rec.api = { operation: e.action, ...(e.requestId !== undefined ? { request: { uid: e.requestId } } : {}) };
    rec.resources = [resource];
  }
  return rec;
}

/** CloudEvents 1.0, JSON event format. */
export function cloudEventRecord(x: ExportInput): Record<string, unknown> {
  return {
    specversion: '1.0',
    // Unique per source: a log index names one entry forever.
    id: String(x.index),
    source: `cairn:${x.checkpoint.origin}`,
    type: 'org.cairn.entry.v1',
    time: x.entry.time,
    subject: `${x.entry.resource.type}/${x.entry.resource.id}`,
    datacontenttype: 'application/json',
    cairnindex: x.index,
    cairnleafhash: x.leafHash,
    data: nativeRecord(x),
  };
}

export function formatRecord(format: ExportFormat, x: ExportInput): Record<string, unknown> {
  switch (format) {
    case 'native':
      return nativeRecord(x);
    case 'ocsf':
      return ocsfRecord(x);
    case 'cloudevents':
      return cloudEventRecord(x);
  }
}

// The fields search indexes and filters on, extracted the same way by the peer (when it writes
// index records and re-checks candidates) and by the auditor's verifier (when it checks that each
// result matches the stated filter), so both sides agree on what "matches" means.
//
// Extraction is lenient on purpose: a leaf that is not an entry object yields no fields (it is
// never indexed and matches no field filter), and a field of the wrong type is treated as absent.
// Entries in the log were validated on admission; leniency only matters for foreign leaves.
import { fromUtf8 } from '../encoding/bytes.js';

export interface SearchFields {
  actor?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  tenant?: string;
  outcome?: string;
  client?: string;
  /** Entry time in Unix milliseconds (Date.parse of `time`; sub-millisecond digits are truncated). */
  timeMs?: number;
}

/** Equality and range filters of a search (all given ones must hold). */
export interface SearchFilter {
  actor?: string;
  action?: string;
  /** Normalized action prefix ending in '.', e.g. 'db.' (matches 'db.query', not 'db'). */
  actionPrefix?: string;
  resourceType?: string;
  resourceId?: string;
  tenant?: string;
  outcome?: string;
  client?: string;
  /** Entry time ≥ fromMs (inclusive). */
  fromMs?: number;
  /** Entry time < toMs (exclusive). */
  toMs?: number;
}

export const FILTER_STRING_FIELDS = ['actor', 'action', 'actionPrefix', 'resourceType', 'resourceId', 'tenant', 'outcome', 'client'] as const;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Fields of a parsed entry object; null when `e` is not an object. */
export function fieldsOf(e: unknown): SearchFields | null {
  const o = obj(e);
  if (o === undefined) return null;
  const f: SearchFields = {};
  const actor = obj(o.actor);
  const resource = obj(o.resource);
  const set = <K extends keyof SearchFields>(k: K, v: SearchFields[K] | undefined): void => {
    if (v !== undefined) f[k] = v;
  };
  set('actor', str(actor?.id));
  set('action', str(o.action));
  set('resourceType', str(resource?.type));
  set('resourceId', str(resource?.id));
  set('tenant', str(o.tenant));
  set('outcome', str(o.outcome));
  set('client', str(o.client));
  const t = str(o.time);
  if (t !== undefined) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) f.timeMs = ms;
  }
  return f;
}

/** Parses leaf bytes as JSON (no validation); null when they are not UTF-8 JSON. */
export function parseLeafJson(leaf: Uint8Array): unknown {
  try {
    return JSON.parse(fromUtf8(leaf));
  } catch {
    return null;
  }
}

/** The action prefixes an action is found under: 'a.b.c' → ['a.', 'a.b.']. */
export function actionPrefixes(action: string): string[] {
  const out: string[] = [];
  for (let i = action.indexOf('.'); i !== -1 && i < action.length - 1; i = action.indexOf('.', i + 1)) out.push(action.slice(0, i + 1));
  return out;
}

/**
 * Normalizes what a user writes for an action prefix: 'db', 'db.' and 'db.*' all mean "actions
 * whose first segment is db" and become 'db.'. Returns null for an empty prefix.
 */
export function normalizeActionPrefix(p: string): string | null {
  let s = p.endsWith('*') ? p.slice(0, -1) : p;
  if (!s.endsWith('.')) s += '.';
  return s.length > 1 ? s : null;
}

/** True iff the fields satisfy every filter that is set. */
export function matchesFilter(f: SearchFields | null, q: SearchFilter): boolean {
  if (f === null) return false;
  if (q.actor !== undefined && f.actor !== q.actor) return false;
  if (q.action !== undefined && f.action !== q.action) return false;
  if (q.actionPrefix !== undefined && (f.action === undefined || !f.action.startsWith(q.actionPrefix) || f.action.length === q.actionPrefix.length)) return false;
  if (q.resourceType !== undefined && f.resourceType !== q.resourceType) return false;
  if (q.resourceId !== undefined && f.resourceId !== q.resourceId) return false;
  if (q.tenant !== undefined && f.tenant !== q.tenant) return false;
  if (q.outcome !== undefined && f.outcome !== q.outcome) return false;
  if (q.client !== undefined && f.client !== q.client) return false;
  if (q.fromMs !== undefined && (f.timeMs === undefined || f.timeMs < q.fromMs)) return false;
  if (q.toMs !== undefined && (f.timeMs === undefined || f.timeMs >= q.toMs)) return false;
  return true;
}

/** A stable text of the filter (sorted keys), for hashing into cursors and for display. */
export function canonicalFilter(q: SearchFilter): string {
  const keys = Object.keys(q).sort() as (keyof SearchFilter)[];
  const o: Record<string, unknown> = {};
  for (const k of keys) if (q[k] !== undefined) o[k] = q[k];
  return JSON.stringify(o);
}

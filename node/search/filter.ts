// Search filters from callers: checked and normalized (the engine's input), or read from HTTP/CLI
// parameters. See docs/search.md (Queries).
import { normalizeActionPrefix, type SearchFilter } from '../../src/search/fields.js';
import { SearchError } from './errors.js';

function checkString(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw new SearchError('BAD_ARGUMENT', `${name} must be a non-empty string of at most 256 characters`);
  return v;
}

/** Checks and normalizes a filter (action prefix spelled 'db', 'db.' or 'db.*'). */
export function normalizeFilter(f: SearchFilter): SearchFilter {
  if (f === null || typeof f !== 'object') throw new SearchError('BAD_ARGUMENT', 'filter must be an object');
  const out: SearchFilter = {};
  for (const k of ['actor', 'action', 'resourceType', 'resourceId', 'tenant', 'outcome', 'client'] as const) {
    const v = checkString(k, f[k]);
    if (v !== undefined) out[k] = v;
  }
  const p = checkString('actionPrefix', f.actionPrefix);
  if (p !== undefined) {
    const n = normalizeActionPrefix(p);
    if (n === null) throw new SearchError('BAD_ARGUMENT', 'actionPrefix must name at least one segment');
    out.actionPrefix = n;
  }
  for (const k of ['fromMs', 'toMs'] as const) {
    const v = f[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new SearchError('BAD_ARGUMENT', `${k} must be an integer number of milliseconds`);
    out[k] = v;
  }
  if (out.fromMs !== undefined && out.toMs !== undefined && out.fromMs > out.toMs) throw new SearchError('BAD_ARGUMENT', 'from must not be after to');
  return out;
}

/**
 * Filter from HTTP/CLI parameters: actor, action (a trailing '*' makes it a prefix: 'db.*'),
 * resource.type, resource.id, tenant, outcome, client, from/to (RFC 3339 or Unix ms).
 */
export function filterFromParams(p: Readonly<Record<string, string | undefined>>): SearchFilter {
  const f: SearchFilter = {};
  const time = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const ms = /^-?\d{1,15}$/.test(v) ? Number(v) : Date.parse(v);
    if (!Number.isSafeInteger(ms)) throw new SearchError('BAD_ARGUMENT', `${name} must be an RFC 3339 time or Unix milliseconds`);
    return ms;
  };
  if (p.actor !== undefined) f.actor = p.actor;
  if (p.action !== undefined) {
    if (p.action.endsWith('*')) f.actionPrefix = p.action;
    else f.action = p.action;
  }
  if (p['resource.type'] !== undefined) f.resourceType = p['resource.type'];
  if (p['resource.id'] !== undefined) f.resourceId = p['resource.id'];
  if (p.tenant !== undefined) f.tenant = p.tenant;
  if (p.outcome !== undefined) f.outcome = p.outcome;
  if (p.client !== undefined) f.client = p.client;
  const from = time('from', p.from);
  const to = time('to', p.to);
  if (from !== undefined) f.fromMs = from;
  if (to !== undefined) f.toMs = to;
  return normalizeFilter(f);
}

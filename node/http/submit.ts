// POST /v1/entries: the request shape check and the mapping from per-entry mempool results to an
// HTTP status and body (docs/api.md, "Submitting"). Pure functions, unit-testable without a peer.
import type { SubmitItem } from '../../src/client/types.js';
import type { SubmitResult } from '../peer/mempool.js';
import { errorBody, statusOf } from './errors.js';

export type SubmitRequest =
  | { ok: true; entries: unknown[]; isArray: boolean }
  | { ok: false; code: 'bad_request' | 'too_many_entries'; message: string };

export function parseSubmitBody(body: unknown, entriesPerRequestMax: number): SubmitRequest {
  if (Array.isArray(body)) {
    if (body.length === 0) return { ok: false, code: 'bad_request', message: 'the entry array is empty' };
    if (body.length > entriesPerRequestMax) {
      return { ok: false, code: 'too_many_entries', message: `${body.length} entries in one request; at most ${entriesPerRequestMax} (entriesPerRequestMax)` };
    }
    return { ok: true, entries: body, isArray: true };
  }
  if (body !== null && typeof body === 'object') return { ok: true, entries: [body], isArray: false };
  return { ok: false, code: 'bad_request', message: 'the body must be one signed entry (a JSON object) or an array of them' };
}

function prefixField(i: number, field: string | undefined): string {
  if (field === undefined || field === '') return `[${i}]`;
  return field.startsWith('[') ? `[${i}]${field}` : `[${i}].${field}`;
}

/** Per-entry results -> HTTP status and JSON body. */
export function submitResponse(results: SubmitResult[], isArray: boolean): { status: number; body: unknown } {
  if (!isArray) {
    const r = results[0];
    if (r === undefined) return { status: 500, body: errorBody('internal', 'no submit result') };
    if ('error' in r) return { status: statusOf(r.error.code), body: { error: r.error } };
    return { status: r.status === 'accepted' ? 202 : 200, body: r };
  }
  const items: SubmitItem[] = results.map((r, i) =>
    'error' in r ? { error: { ...r.error, field: prefixField(i, r.error.field) } } : r,
  );
  if (items.some((r) => 'status' in r && r.status === 'accepted')) return { status: 202, body: { results: items } };
  const errors = items.flatMap((r) => ('error' in r ? [r.error] : []));
  const first = errors[0];
  if (first !== undefined && errors.length === items.length && errors.every((e) => e.code === first.code)) {
    const error = { code: first.code, message: `all ${items.length} entries rejected: ${first.message}`, ...(first.field !== undefined ? { field: first.field } : {}) };
    return { status: statusOf(first.code), body: { results: items, error } };
  }
  return { status: 200, body: { results: items } };
}

// Field-level changes of a resource between versions (portable).
//
// Convention: an entry that changes a resource MAY carry the resource's state in `data.before`
// (the state just before the change) and `data.after` (the state just after). Both are JSON values
// chosen by the submitting application; Cairn does not interpret them beyond diffing. Changes are
// listed as JSON Pointer paths (RFC 6901) with the old and the new value.
import type { AuditEntry, JsonValue } from '../entry/types.js';

export interface FieldChange {
  /** RFC 6901 JSON Pointer of the changed value ('' is the whole state). */
  path: string;
  op: 'add' | 'remove' | 'replace';
  old?: JsonValue;
  new?: JsonValue;
}

/** Most changes one diff reports (the rest is summarized by `truncated`). */
export const DIFF_CHANGES_MAX = 1000;

function escape(key: string): string {
  return key.includes('~') || key.includes('/') ? key.replace(/~/g, '~0').replace(/\//g, '~1') : key;
}

function isObject(v: JsonValue | undefined): v is { [k: string]: JsonValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** The value of own key k (a key named like an Object.prototype member is an ordinary key). */
function own(o: { [k: string]: JsonValue }, k: string): JsonValue | undefined {
  return hasOwn(o, k) ? o[k] : undefined;
}

interface DiffOut {
  changes: FieldChange[];
  truncated: boolean;
}

function push(out: DiffOut, c: FieldChange): void {
  if (out.changes.length < DIFF_CHANGES_MAX) out.changes.push(c);
  else out.truncated = true;
}

// A module-level recursion (no closures per call): history pages diff twice per entry.
function walk(out: DiffOut, x: JsonValue | undefined, y: JsonValue | undefined, path: string): void {
  if (x === undefined && y === undefined) return;
  if (x === undefined) return push(out, { path, op: 'add', new: y! });
  if (y === undefined) return push(out, { path, op: 'remove', old: x });
  const xo = x !== null && typeof x === 'object';
  const yo = y !== null && typeof y === 'object';
  if (!xo && !yo) {
    // Two JSON primitives: equal JSON text iff ===  (no NaN in JSON; 0 and -0 are both "0").
    if (x !== y) push(out, { path, op: 'replace', old: x, new: y });
    return;
  }
  if (isObject(x) && isObject(y)) {
    const keys = Object.keys(x);
    for (const k of Object.keys(y)) if (!hasOwn(x, k)) keys.push(k);
    keys.sort();
    for (const k of keys) walk(out, own(x, k), own(y, k), `${path}/${escape(k)}`);
    return;
  }
  if (Array.isArray(x) && Array.isArray(y)) {
    for (let i = 0; i < Math.max(x.length, y.length); i++) walk(out, x[i], y[i], `${path}/${i}`);
    return;
  }
  // An object, an array and a primitive are never the same JSON text.
  push(out, { path, op: 'replace', old: x, new: y });
}

/**
 * The changes turning `a` into `b` (undefined means "absent"), at most DIFF_CHANGES_MAX: own keys
 * in sorted order, arrays index by index, leaves that differ as JSON text.
 */
export function diffJson(a: JsonValue | undefined, b: JsonValue | undefined): { changes: FieldChange[]; truncated: boolean } {
  const out: DiffOut = { changes: [], truncated: false };
  walk(out, a, b, '');
  return out;
}

function stateOf(e: AuditEntry, key: 'before' | 'after'): JsonValue | undefined {
  const d = e.data;
  return d !== undefined && Object.prototype.hasOwnProperty.call(d, key) ? d[key] : undefined;
}

export interface HistoryStep {
  /** Changes this entry states (data.before → data.after); null when it carries neither. */
  changes: FieldChange[] | null;
  truncated: boolean;
  /**
   * False when this entry's data.before differs from the previous version's data.after: the state
   * changed in between without a logged entry (or the applications disagree). Null when unknown.
   */
  continuous: boolean | null;
}

/** One step per entry of a resource history (entries in log order). */
export function historySteps(entries: readonly AuditEntry[], previousAfter?: JsonValue): HistoryStep[] {
  let prevAfter = previousAfter;
  return entries.map((e) => {
    const before = stateOf(e, 'before');
    const after = stateOf(e, 'after');
    const has = before !== undefined || after !== undefined;
    const d = has ? diffJson(before, after) : { changes: null, truncated: false };
    const continuous = prevAfter === undefined || before === undefined ? null : diffJson(prevAfter, before).changes.length === 0;
    if (after !== undefined) prevAfter = after;
    return { changes: d.changes, truncated: d.truncated, continuous };
  });
}

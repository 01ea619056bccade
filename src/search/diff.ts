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
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(v: JsonValue | undefined): v is { [k: string]: JsonValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The changes turning `a` into `b` (undefined means "absent"), at most DIFF_CHANGES_MAX. */
export function diffJson(a: JsonValue | undefined, b: JsonValue | undefined): { changes: FieldChange[]; truncated: boolean } {
  const changes: FieldChange[] = [];
  let truncated = false;
  const push = (c: FieldChange): void => {
    if (changes.length < DIFF_CHANGES_MAX) changes.push(c);
    else truncated = true;
  };
  const walk = (x: JsonValue | undefined, y: JsonValue | undefined, path: string): void => {
    if (x === undefined && y === undefined) return;
    if (x === undefined) return push({ path, op: 'add', new: y! });
    if (y === undefined) return push({ path, op: 'remove', old: x });
    if (isObject(x) && isObject(y)) {
      const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
      for (const k of [...keys].sort()) walk(x[k], y[k], `${path}/${escape(k)}`);
      return;
    }
    if (Array.isArray(x) && Array.isArray(y)) {
      for (let i = 0; i < Math.max(x.length, y.length); i++) walk(x[i], y[i], `${path}/${i}`);
      return;
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) push({ path, op: 'replace', old: x, new: y });
  };
  walk(a, b, '');
  return { changes, truncated };
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

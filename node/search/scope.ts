// From an access-control scope to the engine's SearchScope. The predicate decides which entries the
// caller sees; an index restriction (the tenants, clients, actors, resource types or outcomes the
// scope allows) lets the engine walk only in-scope postings, so that neither page boundaries, nor
// cursors, nor the work a page does depend on entries outside the scope.
//
// The restriction is read off each role's scope expression when the expression is a conjunction
// one of whose terms is `entry.<field> == "<value>"` (or `entry.<field> in ["a", "b"]`): such a
// term is implied by the whole expression. Anything else (a disjunction at the top, escapes,
// unusual spacing inside strings) yields no restriction for that role, and a field is restricted
// only when every reading role restricts it. The predicate handed to the engine also checks the
// restriction itself, so even a wrong reading of an expression can only hide entries, never show
// one outside the scope.
import type { AuditEntry } from '../../src/entry/types.js';
import type { RestrictField, SearchScope } from './query.js';
import { SCOPE_RESTRICT_VALUES_MAX } from './query.js';

/** Expression paths that have an index, by restriction field. */
const FIELD_PATHS: Record<string, RestrictField> = {
  'entry.tenant': 'tenant',
  'entry.client': 'client',
  'entry.actor.id': 'actor',
  'entry.resource.type': 'resourceType',
  'entry.outcome': 'outcome',
};

const STRING = '"([^"\\\\]{0,256})"';
const EQ_RE = new RegExp(`^(entry(?:\\.[a-z]+){1,2})\\s*==\\s*${STRING}$`);
const EQ_REV_RE = new RegExp(`^${STRING}\\s*==\\s*(entry(?:\\.[a-z]+){1,2})$`);
const IN_RE = new RegExp(`^(entry(?:\\.[a-z]+){1,2})\\s+in\\s+\\[\\s*(${STRING}(?:\\s*,\\s*${STRING})*)\\s*\\]$`);

/** Splits `s` at top-level occurrences of `op` (outside parentheses, brackets and "strings"); null when unsure. */
function splitTop(s: string, op: string): string[] | null {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' || c === "'") return null; // escapes and single-quoted strings: do not guess
    if (c === '"') {
      const end = s.indexOf('"', i + 1);
      if (end === -1) return null;
      i = end;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0 && s.startsWith(op, i)) {
      out.push(s.slice(start, i).trim());
      start = i + op.length;
      i += op.length - 1;
    }
    if (depth < 0) return null;
  }
  if (depth !== 0) return null;
  out.push(s.slice(start).trim());
  return out;
}

/** Removes parentheses enclosing the whole expression. */
function unwrap(s: string): string {
  let t = s.trim();
  while (t.startsWith('(') && t.endsWith(')')) {
    // The first '(' must close at the last character, else "(a) && (b)" would lose its meaning.
    let depth = 0;
    let closesAt = -1;
    for (let i = 0; i < t.length; i++) {
      const c = t[i]!;
      if (c === '"') {
        const end = t.indexOf('"', i + 1);
        if (end === -1) return t;
        i = end;
        continue;
      }
      if (c === '(') depth++;
      else if (c === ')' && --depth === 0) {
        closesAt = i;
        break;
      }
    }
    if (closesAt !== t.length - 1) break;
    t = t.slice(1, -1).trim();
  }
  return t;
}

/** The restriction one scope expression implies (possibly empty). */
export function restrictionOfExpression(source: string): Partial<Record<RestrictField, string[]>> {
  const out: Partial<Record<RestrictField, string[]>> = {};
  const body = unwrap(source);
  if (splitTop(body, '||') === null || splitTop(body, '||')!.length !== 1 || body.includes('?')) return out;
  const terms = splitTop(body, '&&');
  if (terms === null) return out;
  for (const raw of terms) {
    const term = unwrap(raw);
    let path: string | undefined;
    let values: string[] | undefined;
    let m = EQ_RE.exec(term);
    if (m !== null) [path, values] = [m[1]!, [m[2]!]];
    else if ((m = EQ_REV_RE.exec(term)) !== null) [path, values] = [m[2]!, [m[1]!]];
    else if ((m = IN_RE.exec(term)) !== null) [path, values] = [m[1]!, [...m[2]!.matchAll(/"([^"\\]*)"/g)].map((x) => x[1]!)];
    const field = path === undefined ? undefined : FIELD_PATHS[path];
    if (field === undefined || values === undefined) continue;
    // Two terms on one field: the entry must satisfy both, so the intersection.
    const prev = out[field];
    out[field] = prev === undefined ? values : prev.filter((v) => values!.includes(v));
  }
  return out;
}

/** Field value of an entry for a restriction field. */
function fieldValue(e: AuditEntry, f: RestrictField): unknown {
  switch (f) {
    case 'tenant':
      return e.tenant;
    case 'client':
      return e.client;
    case 'actor':
      return e.actor?.id;
    case 'resourceType':
      return e.resource?.type;
    case 'outcome':
      return e.outcome;
  }
}

/**
 * The engine scope for a non-full access scope: `matches` decides; `sources` are the scope
 * expressions of the caller's reading roles (any of them may allow an entry); `key` identifies the
 * caller and scope (bound into cursors).
 */
export function searchScopeOf(key: string, matches: (e: AuditEntry) => boolean, sources: readonly string[]): SearchScope {
  let restrict: Partial<Record<RestrictField, string[]>> | undefined;
  if (sources.length > 0) {
    const per = sources.map(restrictionOfExpression);
    restrict = {};
    for (const f of Object.keys(per[0]!) as RestrictField[]) {
      if (!per.every((r) => r[f] !== undefined)) continue;
      const union = [...new Set(per.flatMap((r) => r[f]!))].sort();
      if (union.length <= SCOPE_RESTRICT_VALUES_MAX) restrict[f] = union;
    }
    if (Object.keys(restrict).length === 0) restrict = undefined;
  }
  const r = restrict;
  const predicate =
    r === undefined
      ? matches
      : (e: AuditEntry): boolean => {
          for (const [f, vs] of Object.entries(r) as [RestrictField, string[]][]) {
            const v = fieldValue(e, f);
            if (typeof v !== 'string' || !vs.includes(v)) return false;
          }
          return matches(e);
        };
  return r === undefined ? { key, predicate } : { key, predicate, restrict: r };
}

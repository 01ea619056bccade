// Validation of a parsed rules document (the YAML or JSON already parsed into plain values).
// Cheap facts first (shape, sizes, names), then the filter expressions are compiled. Every problem
// is reported with the rule it is in and a path to the offending value, so the loader can point at
// the line and column in the file.
import { compileFilter } from '../filter/index.js';
import { SEVERITIES, type Correlation, type Rule, type Severity } from './types.js';
import { parseDuration, WINDOW_MS_MAX } from './duration.js';

export const RULES_MAX = 512;
export const RULE_ID_MAX = 128;
export const TITLE_MAX = 512;
export const LABELS_MAX = 32;
export const LABEL_LENGTH_MAX = 256;
export const GROUP_BY_MAX = 4;
/** Largest threshold: an event_count group keeps up to this many entries. */
export const COUNT_MAX = 10_000;
export const DESTINATIONS_PER_RULE_MAX = 16;

export interface RuleProblem {
  code: 'rules_shape' | 'rule_field' | 'rule_duplicate' | 'rule_filter' | 'rule_destination' | 'rules_too_many';
  /** The rule's id when known, else its position `#<n>` (0-based). */
  rule?: string;
  /** Path of the offending value in the document, as keys and list indexes. */
  path: (string | number)[];
  message: string;
  /** For rule_filter: line and column inside the expression. */
  exprLine?: number;
  exprColumn?: number;
}

export type RulesResult = { ok: true; rules: Rule[] } | { ok: false; problems: RuleProblem[] };

const RULE_ID = /^[a-z0-9][a-z0-9._-]*$/;
const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,7}$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RULE_KEYS = new Set(['id', 'version', 'title', 'severity', 'labels', 'destinations', 'condition', 'correlation', 'description']);
const CORR_KEYS = new Set(['type', 'groupBy', 'window', 'count', 'field', 'then']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates `doc` ({ rules: [...], destinations?: {...} }). `destinationNames`, when given, are the
 * destinations a rule may name; otherwise the keys of doc.destinations.
 */
export function validateRules(doc: unknown, destinationNames?: ReadonlySet<string>): RulesResult {
  const problems: RuleProblem[] = [];
  if (!isObject(doc)) return { ok: false, problems: [{ code: 'rules_shape', path: [], message: 'the rules file must be a mapping with a `rules` list' }] };
  for (const k of Object.keys(doc)) {
    if (k !== 'rules' && k !== 'destinations' && k !== 'version') problems.push({ code: 'rules_shape', path: [k], message: `unknown top-level key "${k}" (expected version, destinations, rules)` });
  }
  if (doc.version !== undefined && doc.version !== 1) problems.push({ code: 'rules_shape', path: ['version'], message: 'file format version must be 1' });
  const list = doc.rules;
  if (!Array.isArray(list)) return { ok: false, problems: [...problems, { code: 'rules_shape', path: ['rules'], message: '`rules` must be a list' }] };
  if (list.length > RULES_MAX) return { ok: false, problems: [{ code: 'rules_too_many', path: ['rules'], message: `more than ${RULES_MAX} rules (RULES_MAX)` }] };
  const dests = destinationNames ?? new Set(isObject(doc.destinations) ? Object.keys(doc.destinations) : []);
  const rules: Rule[] = [];
  const seen = new Set<string>();
  list.forEach((raw, i) => {
    const r = validateRule(raw, i, dests, problems);
    if (r === undefined) return;
    if (seen.has(r.id)) {
      problems.push({ code: 'rule_duplicate', rule: r.id, path: ['rules', i, 'id'], message: `rule id "${r.id}" is used twice` });
      return;
    }
    seen.add(r.id);
    rules.push(r);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, rules };
}

function validateRule(raw: unknown, i: number, dests: ReadonlySet<string>, problems: RuleProblem[]): Rule | undefined {
  const base = ['rules', i];
  const before = problems.length;
  if (!isObject(raw)) {
    problems.push({ code: 'rules_shape', rule: `#${i}`, path: base, message: 'a rule must be a mapping' });
    return undefined;
  }
  const name = typeof raw.id === 'string' && raw.id.length <= RULE_ID_MAX ? raw.id : `#${i}`;
  const bad = (key: (string | number)[], message: string, code: RuleProblem['code'] = 'rule_field'): void => {
    problems.push({ code, rule: name, path: [...base, ...key], message });
  };
  for (const k of Object.keys(raw)) if (!RULE_KEYS.has(k)) bad([k], `unknown key "${k}"`);
  if (typeof raw.id !== 'string' || raw.id.length > RULE_ID_MAX || !RULE_ID.test(raw.id)) {
    bad(['id'], `id must be a string of lowercase letters, digits, '.', '_' or '-' (at most ${RULE_ID_MAX})`);
  }
  if (typeof raw.version !== 'number' || !Number.isSafeInteger(raw.version) || raw.version < 1) bad(['version'], 'version must be an integer ≥ 1 (raise it whenever the rule changes: it is part of every alert id)');
  if (typeof raw.title !== 'string' || raw.title.length === 0 || raw.title.length > TITLE_MAX) bad(['title'], `title must be a non-empty string of at most ${TITLE_MAX} characters`);
  if (raw.description !== undefined && typeof raw.description !== 'string') bad(['description'], 'description must be a string');
  if (typeof raw.severity !== 'string' || !(SEVERITIES as readonly string[]).includes(raw.severity)) bad(['severity'], `severity must be one of ${SEVERITIES.join(', ')}`);
  const labels: Record<string, string> = {};
  if (raw.labels !== undefined) {
    if (!isObject(raw.labels) || Object.keys(raw.labels).length > LABELS_MAX) bad(['labels'], `labels must be a mapping of at most ${LABELS_MAX} names to strings`);
    else {
      for (const [k, v] of Object.entries(raw.labels)) {
        if (!LABEL_NAME.test(k) || k.length > LABEL_LENGTH_MAX) bad(['labels', k], `label name "${k}" must match [a-zA-Z_][a-zA-Z0-9_]*`);
        else if (typeof v !== 'string' || v.length > LABEL_LENGTH_MAX) bad(['labels', k], `label value must be a string of at most ${LABEL_LENGTH_MAX} characters`);
        else labels[k] = v;
      }
    }
  }
  const destinations: string[] = [];
  if (!Array.isArray(raw.destinations) || raw.destinations.length > DESTINATIONS_PER_RULE_MAX) {
    bad(['destinations'], `destinations must be a list of at most ${DESTINATIONS_PER_RULE_MAX} destination names (may be empty)`);
  } else {
    raw.destinations.forEach((d, j) => {
      if (typeof d !== 'string' || !dests.has(d)) bad(['destinations', j], `unknown destination ${JSON.stringify(d)} (declared: ${[...dests].join(', ') || 'none'})`, 'rule_destination');
      else if (!destinations.includes(d)) destinations.push(d);
    });
  }
  const condition = compileAt(raw.condition, [...base, 'condition'], name, problems);
  let correlation: Correlation | undefined;
  if (raw.correlation !== undefined) correlation = validateCorrelation(raw.correlation, [...base, 'correlation'], name, problems);
  if (problems.length > before || condition === undefined) return undefined;
  return {
    id: raw.id as string,
    version: raw.version as number,
    title: raw.title as string,
    severity: raw.severity as Severity,
    labels,
    destinations,
    condition,
    ...(correlation !== undefined ? { correlation } : {}),
  };
}

function compileAt(src: unknown, path: (string | number)[], rule: string, problems: RuleProblem[]) {
  if (typeof src !== 'string') {
    problems.push({ code: 'rule_field', rule, path, message: 'must be a filter expression (a string)' });
    return undefined;
  }
  const c = compileFilter(src);
  if (c.ok) return c.filter;
  problems.push({
    code: 'rule_filter',
    rule,
    path,
    message: `${c.error.message} [${c.error.code}]`,
    ...(c.error.position ? { exprLine: c.error.position.line, exprColumn: c.error.position.column } : {}),
  });
  return undefined;
}

function validateCorrelation(raw: unknown, path: (string | number)[], rule: string, problems: RuleProblem[]): Correlation | undefined {
  const before = problems.length;
  const bad = (key: (string | number)[], message: string): void => {
    problems.push({ code: 'rule_field', rule, path: [...path, ...key], message });
  };
  if (!isObject(raw)) {
    bad([], 'correlation must be a mapping');
    return undefined;
  }
  for (const k of Object.keys(raw)) if (!CORR_KEYS.has(k)) bad([k], `unknown key "${k}"`);
  const type = raw.type;
  if (type !== 'event_count' && type !== 'value_count' && type !== 'temporal') {
    bad(['type'], 'type must be event_count, value_count or temporal');
    return undefined;
  }
  const groupBy: string[] = [];
  if (raw.groupBy !== undefined) {
    if (!Array.isArray(raw.groupBy) || raw.groupBy.length > GROUP_BY_MAX) bad(['groupBy'], `groupBy must be a list of at most ${GROUP_BY_MAX} field paths`);
    else raw.groupBy.forEach((g, j) => {
      if (typeof g !== 'string' || !FIELD_PATH.test(g)) bad(['groupBy', j], 'a field path like actor.id or data.patient');
      else groupBy.push(g);
    });
  }
  let windowMs = 0;
  const w = typeof raw.window === 'string' ? parseDuration(raw.window) : undefined;
  if (w === undefined || w <= 0 || w > WINDOW_MS_MAX) bad(['window'], 'window must be a duration like 90s, 10m, 1h or 1d, at most 7d');
  else windowMs = w;
  if (type === 'temporal') {
    for (const k of ['count', 'field']) if (raw[k] !== undefined) bad([k], `${k} is not used by a temporal correlation`);
    const then = compileAt(raw.then, [...path, 'then'], rule, problems);
    if (problems.length > before || then === undefined) return undefined;
    return { type, groupBy, windowMs, then };
  }
  if (raw.then !== undefined) bad(['then'], 'then is used only by a temporal correlation');
  const count = raw.count;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1 || count > COUNT_MAX) bad(['count'], `count must be an integer in 1..${COUNT_MAX}`);
  if (type === 'value_count') {
    if (typeof raw.field !== 'string' || !FIELD_PATH.test(raw.field)) bad(['field'], 'field must be a field path like resource.id');
  } else if (raw.field !== undefined) bad(['field'], 'field is used only by a value_count correlation');
  if (problems.length > before) return undefined;
  return type === 'value_count'
    ? { type, groupBy, windowMs, count: count as number, field: raw.field as string }
    : { type, groupBy, windowMs, count: count as number };
}

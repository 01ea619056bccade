// The filter language: CEL (Common Expression Language) over one variable, `entry`, an audit entry
// as in docs/entry-format.md. Shared by read scopes, search queries, alert rules and export
// filters. Why CEL and its limits: docs/access-control.md.
//
// compile() checks cheap facts first (length), then parses, then walks the tree once to bound its
// size and cost and to reject unknown names, so that a filter that compiles can only fail at
// evaluation on data (a missing field, a type mismatch), and such a failure is "no match": a scope
// never grants access because an expression erred.
import { celEnv, celMap, CelScalar, isCelError, parse, plan, type CelInput } from '@bufbuild/cel';
import type { AuditEntry } from '../entry/types.js';
import { timeFuncs } from './time.js';

/** Longest expression source, in UTF-16 code units. */
export const FILTER_SOURCE_MAX = 4096;
/** Most syntax-tree nodes (after macro expansion) in one expression. */
export const FILTER_NODES_MAX = 512;
/** Deepest nesting of the syntax tree. */
export const FILTER_DEPTH_MAX = 48;
/** Comprehensions (exists, all, map, filter, ...) in one expression. */
export const FILTER_COMPREHENSIONS_MAX = 8;
/** Compiled expressions kept (least recently used evicted). */
export const FILTER_CACHE_MAX = 512;

export type FilterErrorCode = 'filter_empty' | 'filter_too_long' | 'filter_syntax' | 'filter_too_complex' | 'filter_unknown_name' | 'filter_unsupported';

export interface FilterPosition {
  /** 0-based offset in the source (UTF-16 code units). */
  offset: number;
  /** 1-based line and column. */
  line: number;
  column: number;
}

export interface FilterError {
  code: FilterErrorCode;
  message: string;
  position?: FilterPosition;
}

export interface Filter {
  readonly source: string;
  /** True only for the expression `true`: it matches every entry (a full scope). */
  readonly full: boolean;
  /** Does the entry match? An evaluation error or a non-boolean result is `false`. */
  matches(entry: AuditEntry): boolean;
  /** Same, with the evaluation error when there is one (for rule authors' diagnostics). */
  explain(entry: AuditEntry): { match: boolean; error?: string };
  /** explain() on an entry prepared once for several filters (same answers). */
  explainPrepared(entry: PreparedEntry): { match: boolean; error?: string };
}

/**
 * A JSON value as the expression library's value, plain objects (at any depth) converted to its
 * maps once. The library itself converts a plain object anew on every access (a new Map for
 * `entry`, another for `entry.actor`, ... in every filter), which dominated the cost of
 * evaluating several alert rules on one entry. The maps hold what the library would make (the
 * object's own entries); lists and other values are left for it to convert as it does.
 */
function converted(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || (v as object).constructor !== Object) return v;
  const m = new Map<string, CelInput>();
  for (const [k, x] of Object.entries(v)) m.set(k, converted(x) as CelInput);
  return celMap(m);
}

/** An entry converted once for evaluation by several filters (alert rules evaluate up to dozens per entry). */
export interface PreparedEntry {
  readonly entry: AuditEntry;
  /** The entry as the expression library's value (opaque). */
  readonly value: unknown;
}

/** Prepares an entry for explainPrepared(). Do not change the entry while it is in use. */
export function prepareEntry(entry: AuditEntry): PreparedEntry {
  return { entry, value: converted(entry) };
}

export type CompileResult = { ok: true; filter: Filter } | { ok: false; error: FilterError };

const env = celEnv({ variables: { entry: CelScalar.DYN }, funcs: timeFuncs });

// Type names usable as identifiers, e.g. `type(entry.data.n) == double`.
const TYPE_IDENTS = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type']);

function positionAt(source: string, offset: number): FilterPosition {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else col++;
  }
  return { offset, line, column: col };
}

// Minimal structural view of the parsed tree (the library's protobuf Expr messages).
interface Node {
  id: bigint;
  exprKind: { case: string | undefined; value?: any };
}

class Reject extends Error {
  constructor(readonly code: FilterErrorCode, message: string, readonly nodeId?: bigint) {
    super(message);
  }
}

/** Walks the tree once: size, depth, comprehension count and nesting, names. */
function vet(root: Node): void {
  let nodes = 0;
  let comprehensions = 0;
  const walk = (n: Node | undefined, depth: number, bound: ReadonlySet<string>, inLoop: boolean): void => {
    if (n === undefined) return;
    if (++nodes > FILTER_NODES_MAX) throw new Reject('filter_too_complex', `expression has more than ${FILTER_NODES_MAX} nodes`, n.id);
    if (depth > FILTER_DEPTH_MAX) throw new Reject('filter_too_complex', `expression nests deeper than ${FILTER_DEPTH_MAX}`, n.id);
    const v = n.exprKind.value;
    switch (n.exprKind.case) {
      case 'constExpr':
        return;
      case 'identExpr':
        if (v.name === 'entry' || bound.has(v.name) || TYPE_IDENTS.has(v.name)) return;
        throw new Reject('filter_unknown_name', `unknown name "${v.name}" (the entry is "entry")`, n.id);
      case 'selectExpr':
        return walk(v.operand, depth + 1, bound, inLoop);
      case 'callExpr': {
        const fn: string = v.function;
        // Operators are spelled _op_ / @name by the parser; every other name must be a known function.
        if (!/^[_@!-]/.test(fn) && env.funcs.find(fn) === undefined) {
          throw new Reject('filter_unknown_name', `unknown function "${fn}"`, n.id);
        }
        walk(v.target, depth + 1, bound, inLoop);
        for (const a of v.args) walk(a, depth + 1, bound, inLoop);
        return;
      }
      case 'listExpr':
        for (const e of v.elements) walk(e, depth + 1, bound, inLoop);
        return;
      case 'structExpr':
        if (v.messageName !== '') throw new Reject('filter_unsupported', 'message construction is not supported', n.id);
        for (const e of v.entries) {
          if (e.keyKind.case === 'mapKey') walk(e.keyKind.value, depth + 1, bound, inLoop);
          walk(e.value, depth + 1, bound, inLoop);
        }
        return;
      case 'comprehensionExpr': {
        // One level of iteration only: a list in an entry holds at most 1,024 elements, so nested
        // loops could cost 1,024^k steps per entry.
        if (inLoop) throw new Reject('filter_too_complex', 'a comprehension (exists, all, map, filter) inside another is not allowed', n.id);
        if (++comprehensions > FILTER_COMPREHENSIONS_MAX) {
          throw new Reject('filter_too_complex', `more than ${FILTER_COMPREHENSIONS_MAX} comprehensions`, n.id);
        }
        walk(v.iterRange, depth + 1, bound, false);
        const inner = new Set(bound);
        for (const name of [v.iterVar, v.iterVar2, v.accuVar]) if (name) inner.add(name);
        walk(v.accuInit, depth + 1, bound, false);
        walk(v.loopCondition, depth + 1, inner, true);
        walk(v.loopStep, depth + 1, inner, true);
        walk(v.result, depth + 1, inner, false);
        return;
      }
      default:
        throw new Reject('filter_unsupported', `unsupported expression kind ${String(n.exprKind.case)}`, n.id);
    }
  };
  walk(root, 0, new Set(), false);
}

function isConstTrue(n: Node): boolean {
  return n.exprKind.case === 'constExpr' && n.exprKind.value.constantKind.case === 'boolValue' && n.exprKind.value.constantKind.value === true;
}

function compileUncached(source: string): CompileResult {
  if (source.length > FILTER_SOURCE_MAX) {
    return { ok: false, error: { code: 'filter_too_long', message: `expression longer than ${FILTER_SOURCE_MAX} characters` } };
  }
  if (source.trim() === '') return { ok: false, error: { code: 'filter_empty', message: 'expression is empty' } };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (e) {
    if (e instanceof RangeError) {
      return { ok: false, error: { code: 'filter_too_complex', message: 'expression nests too deeply' } };
    }
    const loc = (e as { location?: { start?: { offset: number } } }).location?.start;
    const message = e instanceof Error ? e.message.replace(/^<input>:\d+:\d+: /, '') : 'syntax error';
    return { ok: false, error: { code: 'filter_syntax', message, ...(loc ? { position: positionAt(source, loc.offset) } : {}) } };
  }
  const root = parsed.expr as unknown as Node;
  try {
    vet(root);
  } catch (e) {
    if (!(e instanceof Reject)) throw e;
    const off = e.nodeId === undefined ? undefined : parsed.sourceInfo?.positions[String(e.nodeId)];
    return { ok: false, error: { code: e.code, message: e.message, ...(off !== undefined ? { position: positionAt(source, off) } : {}) } };
  }
  const run = plan(env, parsed);
  const full = isConstTrue(root);
  const evaluate = (entry: unknown): { match: boolean; error?: string } => {
    try {
      const r = run({ entry: entry as never });
      if (isCelError(r)) return { match: false, error: r.message };
      if (typeof r !== 'boolean') return { match: false, error: 'expression did not yield a boolean' };
      return { match: r };
    } catch (e) {
      return { match: false, error: e instanceof Error ? e.message : String(e) };
    }
  };
  const filter: Filter = {
    source,
    full,
    matches: (entry) => evaluate(entry).match,
    explain: evaluate,
    explainPrepared: (p) => evaluate(p.value),
  };
  return { ok: true, filter };
}

// Least-recently-used cache: scopes and rules are compiled once, queries are often repeated.
const cache = new Map<string, CompileResult>();

/** Compiles a filter expression (cached). Never throws for any input string. */
export function compileFilter(source: string): CompileResult {
  const hit = cache.get(source);
  if (hit !== undefined) {
    cache.delete(source);
    cache.set(source, hit);
    return hit;
  }
  const result = compileUncached(source);
  // Over-long sources are not cached: they would let one caller hold the cache's memory.
  if (source.length <= FILTER_SOURCE_MAX) {
    if (cache.size >= FILTER_CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(source, result);
  }
  return result;
}

/** The filter that matches every entry (a full scope). */
export const FULL_FILTER: Filter = (() => {
  const r = compileFilter('true');
  if (!r.ok) throw new Error('unreachable: `true` must compile');
  return r.filter;
})();

// Loading a peer's rules file (YAML, or JSON which is YAML too) with errors that name the file,
// the rule and the line:column, and reloading it without a restart: a file that fails to load
// leaves the rules in force unchanged and says why.
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { validateRules, type RuleProblem } from '../../src/alerts/rules.js';
import type { Rule } from '../../src/alerts/types.js';
import { loadDestinations, type Destination } from './destinations-config.js';

export const RULES_FILE_BYTES_MAX = 1024 * 1024;

export interface LoadedRules {
  file: string;
  rules: Rule[];
  destinations: Map<string, Destination>;
  /** The built-in integrity alarms (node/monitor/integrity.ts), when the file has an `alarms` section. */
  alarms?: AlarmsSection;
}

/** `alarms:` — where the built-in integrity alarms go and their thresholds (defaults in node/monitor/integrity.ts). */
export interface AlarmsSection {
  destinations: string[];
  silentCheckpoints?: number;
  noQuorumMs?: number;
  lagHeights?: number;
  lagMs?: number;
  diskFreeBytesMin?: number;
  scrubLeavesPerSecond?: number;
  scrubPauseMs?: number;
  badSignaturesPerKey?: number;
  clockSkewRejections?: number;
  rejectionWindowMs?: number;
  peerCheckpointMs?: number;
  scrubIndexesMs?: number;
}

const ALARM_KEYS: Record<string, [keyof AlarmsSection, number, number, number]> = {
  // file key: [field, multiplier, min, max] (values in the file are integers)
  validatorSilentCheckpoints: ['silentCheckpoints', 1, 1, 100_000],
  noQuorumSeconds: ['noQuorumMs', 1000, 1, 86_400],
  lagHeights: ['lagHeights', 1, 1, 1_000_000],
  lagSeconds: ['lagMs', 1000, 1, 86_400],
  diskFreeMinBytes: ['diskFreeBytesMin', 1, 0, Number.MAX_SAFE_INTEGER],
  scrubLeavesPerSecond: ['scrubLeavesPerSecond', 1, 0, 10_000_000],
  scrubPauseSeconds: ['scrubPauseMs', 1000, 0, 7 * 86_400],
  badSignaturesPerKey: ['badSignaturesPerKey', 1, 1, 1_000_000],
  clockSkewRejections: ['clockSkewRejections', 1, 1, 1_000_000],
  rejectionWindowSeconds: ['rejectionWindowMs', 1000, 1, 86_400],
  peerCheckpointSeconds: ['peerCheckpointMs', 1000, 0, 86_400],
  scrubIndexesSeconds: ['scrubIndexesMs', 1000, 0, 30 * 86_400],
};

function parseAlarms(raw: unknown, names: ReadonlySet<string>, problem: (path: (string | number)[], message: string) => void): AlarmsSection | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problem(['alarms'], 'alarms must be a mapping with `destinations` and optional thresholds');
    return undefined;
  }
  const o = raw as Record<string, unknown>;
  const out: AlarmsSection = { destinations: [] };
  for (const [k, v] of Object.entries(o)) {
    if (k === 'destinations') {
      if (!Array.isArray(v) || v.length > 32) problem(['alarms', k], 'destinations must be a list of at most 32 destination names');
      else v.forEach((d, j) => (typeof d === 'string' && names.has(d) ? out.destinations.push(d) : problem(['alarms', k, j], `unknown destination ${JSON.stringify(d)} (declared: ${[...names].join(', ') || 'none'})`)));
      continue;
    }
    const spec = ALARM_KEYS[k];
    if (spec === undefined) {
      problem(['alarms', k], `unknown key "${k}" (destinations, ${Object.keys(ALARM_KEYS).join(', ')})`);
      continue;
    }
    const [field, mul, min, max] = spec;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) problem(['alarms', k], `${k} must be an integer in ${min}..${max}`);
    else (out as unknown as Record<string, number>)[field] = v * mul;
  }
  return out;
}

export interface RulesFileProblem {
  file: string;
  rule?: string;
  /** Dotted path of the offending value, e.g. rules[2].correlation.window. */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

export class RulesFileError extends Error {
  constructor(readonly problems: RulesFileProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'RulesFileError';
  }
}

export function formatProblem(p: RulesFileProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.column}` : p.file;
  return `${where}: ${p.rule !== undefined ? `rule ${p.rule}: ` : ''}${p.path !== '' ? `${p.path}: ` : ''}${p.message}`;
}

function pathText(path: readonly (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s;
}

/** Line and column of the value at `path`, or of its nearest existing ancestor. */
function positionOf(doc: Document, lc: LineCounter, path: readonly (string | number)[]): { line: number; column: number } | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const p = lc.linePos(node.range[0]);
      return { line: p.line, column: p.col };
    }
  }
  return undefined;
}

export interface ParseRulesOptions {
  /** Directory that secret file names are relative to. */
  baseDir: string;
  /** false: check destination names only, read no secret files (for `cairn alerts replay` and tests). */
  destinations?: boolean;
}

/** Parses and validates rules text; throws RulesFileError listing every problem. */
export async function parseRulesText(text: string, file: string, opts: ParseRulesOptions): Promise<LoadedRules> {
  const fail = (problems: RulesFileProblem[]): never => {
    throw new RulesFileError(problems);
  };
  if (text.length > RULES_FILE_BYTES_MAX) fail([{ file, path: '', message: `larger than ${RULES_FILE_BYTES_MAX} bytes (RULES_FILE_BYTES_MAX)` }]);
  const lc = new LineCounter();
  // YAML 1.2 core schema ("no" stays a string), duplicate keys rejected, aliases bounded.
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    fail(doc.errors.slice(0, 20).map((e) => {
      const p = lc.linePos(e.pos[0]);
      return { file, path: '', line: p.line, column: p.col, message: e.message.split('\n')[0]! };
    }));
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 64 });
  } catch (e) {
    fail([{ file, path: '', message: (e as Error).message }]);
  }
  const located = (path: (string | number)[], message: string, rule?: string): RulesFileProblem => ({
    file,
    path: pathText(path),
    ...(rule !== undefined ? { rule } : {}),
    ...(positionOf(doc, lc, path) ?? {}),
    message,
  });
  const rawDest = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).destinations : undefined;
  let destinations = new Map<string, Destination>();
  const problems: RulesFileProblem[] = [];
  let names: Set<string>;
  if (opts.destinations === false) {
    names = new Set(typeof rawDest === 'object' && rawDest !== null ? Object.keys(rawDest) : []);
  } else {
    const d = await loadDestinations(rawDest, opts.baseDir);
    destinations = d.destinations;
    for (const p of d.problems) problems.push(located(p.path, p.message));
    names = new Set(typeof rawDest === 'object' && rawDest !== null ? Object.keys(rawDest) : []);
  }
  // The alarms section is the peer's, not the rule engine's: validated here, then set aside.
  let alarms: AlarmsSection | undefined;
  if (typeof raw === 'object' && raw !== null && 'alarms' in raw) {
    const { alarms: rawAlarms, ...rest } = raw as Record<string, unknown>;
    alarms = parseAlarms(rawAlarms, names, (path, message) => problems.push(located(path, message)));
    raw = rest;
  }
  const v = validateRules(raw, names);
  if (!v.ok) {
    for (const p of v.problems) problems.push(ruleProblem(p, located));
  }
  if (problems.length > 0 || !v.ok) fail(problems);
  return { file, rules: (v as { rules: Rule[] }).rules, destinations, ...(alarms !== undefined ? { alarms } : {}) };
}

function ruleProblem(p: RuleProblem, located: (path: (string | number)[], message: string, rule?: string) => RulesFileProblem): RulesFileProblem {
  const extra = p.exprLine !== undefined ? ` (in the expression at line ${p.exprLine}, column ${p.exprColumn})` : '';
  return located(p.path, p.message + extra, p.rule);
}

/** Reads and validates a rules file. */
export async function loadRulesFile(file: string, opts: Partial<ParseRulesOptions> = {}): Promise<LoadedRules> {
  let text: string;
  try {
    const st = await stat(file);
    if (st.size > RULES_FILE_BYTES_MAX) throw new RulesFileError([{ file, path: '', message: `larger than ${RULES_FILE_BYTES_MAX} bytes (RULES_FILE_BYTES_MAX)` }]);
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof RulesFileError) throw e;
    throw new RulesFileError([{ file, path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseRulesText(text, file, { baseDir: opts.baseDir ?? dirname(file), ...(opts.destinations !== undefined ? { destinations: opts.destinations } : {}) });
}

export type ReloadResult = { ok: true; rules: LoadedRules } | { ok: false; error: RulesFileError; kept: LoadedRules | undefined };

/**
 * The rules in force, reloadable without a restart (the peer calls reload() on SIGHUP or an admin
 * request). A failed reload keeps the previous rules and returns why.
 */
export class RulesHolder {
  private current: LoadedRules | undefined;
  constructor(private readonly file: string, private readonly opts: Partial<ParseRulesOptions> = {}) {}

  get rules(): LoadedRules | undefined {
    return this.current;
  }

  async reload(): Promise<ReloadResult> {
    try {
      const r = await loadRulesFile(this.file, this.opts);
      this.current = r;
      return { ok: true, rules: r };
    } catch (e) {
      const error = e instanceof RulesFileError ? e : new RulesFileError([{ file: this.file, path: '', message: (e as Error).message }]);
      return { ok: false, error, kept: this.current };
    }
  }
}

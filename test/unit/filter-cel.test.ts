// The shared filter language (CEL over `entry`): matching, time zones, compile errors with
// positions, bounds on size and cost, the "full scope" test, speed, and browser portability.
import { build } from 'esbuild';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/entry/types.js';
import { compileFilter, FILTER_SOURCE_MAX, FULL_FILTER } from '../../src/filter/index.js';
import type { Filter } from '../../src/filter/index.js';

const here = dirname(fileURLToPath(import.meta.url));

const entry: AuditEntry = {
  v: 1,
  id: 'e-1',
  time: '2024-05-01T12:00:00.123Z', // a Wednesday; 14:00 in Paris, 08:00 in New York
  actor: { id: 'alice@acme.example', type: 'user' },
  action: 'db.query',
  resource: { type: 'db.table', id: 'payments' },
  outcome: 'success',
  tenant: 'acme',
  data: { rows: 3, tags: ['pci', 'eu'] },
  client: 'ab'.repeat(32),
  sig: 'cd'.repeat(64),
};

function must(src: string): Filter {
  const r = compileFilter(src);
  if (!r.ok) throw new Error(`${src}: ${r.error.code} ${r.error.message}`);
  return r.filter;
}

describe('filter: matching', () => {
  it('matches on entry fields, nested fields, lists and data', () => {
    expect(must('entry.tenant == "acme"').matches(entry)).toBe(true);
    expect(must('entry.tenant == "globex"').matches(entry)).toBe(false);
    expect(must('entry.tenant in ["acme", "initech"] && entry.resource.type.startsWith("db.")').matches(entry)).toBe(true);
    expect(must('entry.data.rows == 3 && entry.data.rows > 2').matches(entry)).toBe(true);
    expect(must('entry.data.tags.exists(t, t == "pci")').matches(entry)).toBe(true);
    expect(must('entry.actor.id.endsWith("@acme.example")').matches(entry)).toBe(true);
    expect(must('entry.action.matches("^db\\\\.")').matches(entry)).toBe(true);
  });

  it('a missing field is no match, never an error that grants; has() tests presence', () => {
    const f = must('entry.requestId == "r1"');
    expect(f.matches(entry)).toBe(false);
    expect(f.explain(entry).error).toMatch(/not found/);
    expect(must('!has(entry.requestId)').matches(entry)).toBe(true);
    // `||` with an erroring side: CEL's commutative logic lets the true side win, and only that.
    expect(must('entry.requestId == "r1" || entry.tenant == "acme"').matches(entry)).toBe(true);
    expect(must('entry.requestId == "r1" || entry.tenant == "x"').matches(entry)).toBe(false);
  });

  it('regular expressions run in linear time (RE2): a backtracking trap returns at once', () => {
    const f = must('entry.actor.id.matches("^(a+)+$")');
    const t0 = performance.now();
    expect(f.matches({ ...entry, actor: { id: `${'a'.repeat(200)}!` } })).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a non-boolean result is no match', () => {
    const f = must('entry.tenant');
    expect(f.matches(entry)).toBe(false);
    expect(f.explain(entry).error).toMatch(/boolean/);
  });

  it('time-zone-aware accessors: IANA zones, fixed offsets, UTC default, DST', () => {
    expect(must('timestamp(entry.time).getHours("Europe/Paris") == 14').matches(entry)).toBe(true);
    expect(must('timestamp(entry.time).getHours("America/New_York") == 8').matches(entry)).toBe(true);
    expect(must('timestamp(entry.time).getHours() == 12').matches(entry)).toBe(true);
    expect(must('timestamp(entry.time).getHours("+05:30") == 17 && timestamp(entry.time).getMinutes("+05:30") == 30').matches(entry)).toBe(true);
    expect(must('timestamp(entry.time).getDayOfWeek("Europe/Paris") == 3').matches(entry)).toBe(true);
    // 23:30 UTC on Wednesday is already Thursday in Tokyo
    const late = { ...entry, time: '2024-05-01T23:30:00Z' };
    expect(must('timestamp(entry.time).getDayOfWeek("Asia/Tokyo") == 4').matches(late)).toBe(true);
    expect(must('timestamp(entry.time).getDayOfWeek() == 3').matches(late)).toBe(true);
    // Paris switched to summer time at 01:00 UTC on 2024-03-31: 00:30 UTC is 01:30, 01:30 UTC is 03:30
    expect(must('timestamp(entry.time).getHours("Europe/Paris") == 1').matches({ ...entry, time: '2024-03-31T00:30:00Z' })).toBe(true);
    expect(must('timestamp(entry.time).getHours("Europe/Paris") == 3').matches({ ...entry, time: '2024-03-31T01:30:00Z' })).toBe(true);
    expect(must('timestamp(entry.time).getDayOfYear("UTC") == 121 && timestamp(entry.time).getMonth() == 4 && timestamp(entry.time).getDate() == 1').matches(entry)).toBe(true);
    expect(must('timestamp(entry.time).getMilliseconds("Europe/Paris") == 123').matches(entry)).toBe(true);
    // An unknown zone is an evaluation error: no match
    expect(must('timestamp(entry.time).getHours("Mars/Olympus") >= 0').matches(entry)).toBe(false);
  });
});

describe('filter: compile errors name the problem and where it is', () => {
  it('syntax error with line and column', () => {
    const r = compileFilter('entry.tenant ==\n  "acme" &&');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('filter_syntax');
    expect(r.error.position?.line).toBe(2);
  });

  it('unknown variable and unknown function, with their position', () => {
    const a = compileFilter('entry.tenant == "acme" && tenant == "x"');
    expect(a.ok ? null : a.error.code).toBe('filter_unknown_name');
    expect(a.ok ? null : a.error.position?.offset).toBe(26);
    const b = compileFilter('launch(entry)');
    expect(b.ok ? null : b.error.code).toBe('filter_unknown_name');
    expect(b.ok ? null : b.error.message).toMatch(/launch/);
  });

  it('empty, too long, too many nodes, nested comprehensions, deep nesting', () => {
    expect(compileFilter('  ').ok ? null : (compileFilter('  ') as { error: { code: string } }).error.code).toBe('filter_empty');
    const long = compileFilter('true || '.repeat(FILTER_SOURCE_MAX / 8) + 'true');
    expect(long.ok ? null : long.error.code).toBe('filter_too_long');
    const wide = compileFilter(Array.from({ length: 300 }, (_, i) => `entry.tenant == "t${i}"`).join(' || ').slice(0, 4000).replace(/ \|\| [^|]*$/, ''));
    expect(wide.ok ? null : wide.error.code).toBe('filter_too_complex');
    const nested = compileFilter('entry.data.tags.exists(a, entry.data.tags.exists(b, a == b))');
    expect(nested.ok ? null : nested.error.code).toBe('filter_too_complex');
    const deep = compileFilter('('.repeat(1500) + 'true' + ')'.repeat(1500));
    expect(deep.ok ? null : deep.error.code).toBe('filter_too_complex');
    const lists = compileFilter('['.repeat(60) + ']'.repeat(60) + ' == []');
    expect(lists.ok ? null : lists.error.code).toBe('filter_too_complex');
  });

  it('never throws on arbitrary input', () => {
    for (const s of ['"', "'''", '{', '[1,', 'entry.', '1 ? 2', '\u0000', 'a.b.c()', 'entry[0', 'google.protobuf.Timestamp{seconds: 1}']) {
      const r = compileFilter(s);
      expect(r.ok).toBe(false);
    }
  });
});

describe('filter: full scope and cache', () => {
  it('only the literal `true` is full', () => {
    expect(FULL_FILTER.full).toBe(true);
    expect(must(' true ').full).toBe(true);
    expect(must('entry.tenant == "acme"').full).toBe(false);
    expect(must('true || false').full).toBe(false); // not proved: treated as a restricted scope
  });

  it('the same source compiles to the same cached filter', () => {
    const a = compileFilter('entry.outcome == "denied"');
    const b = compileFilter('entry.outcome == "denied"');
    expect(a.ok && b.ok && a.filter === b.filter).toBe(true);
  });
});

describe('filter: browser portability', () => {
  it('bundles for the browser platform and evaluates in a bare V8 context', async () => {
    const out = await build({
      stdin: {
        contents: "export { compileFilter } from '../../src/filter/index.ts';",
        resolveDir: here,
        loader: 'ts',
      },
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'F',
      write: false,
      logLevel: 'silent',
    });
    expect(out.errors).toEqual([]);
    const code = out.outputFiles[0]!.text;
    expect(code).not.toMatch(/require\(["']node:/);
    // Only what a page has: TextEncoder/TextDecoder (copied into the sandbox's realm).
    const sandbox = vm.createContext({
      hostEncode: (s: string) => Array.from(new TextEncoder().encode(s)),
      hostDecode: (b: number[]) => new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(b)),
    });
    vm.runInContext(
      `globalThis.TextEncoder = class { encode(s) { return new Uint8Array(hostEncode(String(s))); } };
       globalThis.TextDecoder = class { decode(b) { return hostDecode(Array.from(b)); } };`,
      sandbox,
    );
    vm.runInContext(code, sandbox);
    expect(vm.runInContext('typeof process + typeof require + typeof Buffer', sandbox)).toBe('undefinedundefinedundefined');
    const r = vm.runInContext(
      `(() => { const c = F.compileFilter('entry.tenant == "acme" && timestamp(entry.time).getHours("Europe/Paris") == 14');
         return c.ok && c.filter.matches(${JSON.stringify(entry)}); })()`,
      sandbox,
    );
    expect(r).toBe(true);
  });
});

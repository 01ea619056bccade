// Field-level diffs of resource history (src/search/diff.ts), which the peer computes per page and
// the client recomputes over verified entries. A key named like an Object.prototype member
// ("constructor", "toString", "__proto__" as JSON.parse makes it) is an ordinary key: present on
// one side only it is an add or a remove, never a "replace" of an inherited function. And the
// diff equals a plain reference (JSON text comparison of leaves, own keys only) on random states.
import { describe, expect, it } from 'vitest';
import { diffJson, DIFF_CHANGES_MAX, type FieldChange } from '../../src/search/diff.js';
import type { JsonValue } from '../../src/entry/types.js';
import { SeededRandom } from './support/seeded-random.js';

/** The diff by definition: own keys in sorted order, arrays by index, leaves compared as JSON text. */
function reference(a: JsonValue | undefined, b: JsonValue | undefined): FieldChange[] {
  const out: FieldChange[] = [];
  const own = (o: { [k: string]: JsonValue }, k: string): JsonValue | undefined => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);
  const isObj = (v: JsonValue | undefined): v is { [k: string]: JsonValue } => v !== null && typeof v === 'object' && !Array.isArray(v);
  const esc = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');
  const walk = (x: JsonValue | undefined, y: JsonValue | undefined, path: string): void => {
    if (x === undefined && y === undefined) return;
    if (x === undefined) return void out.push({ path, op: 'add', new: y! });
    if (y === undefined) return void out.push({ path, op: 'remove', old: x });
    if (isObj(x) && isObj(y)) {
      for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) walk(own(x, k), own(y, k), `${path}/${esc(k)}`);
      return;
    }
    if (Array.isArray(x) && Array.isArray(y)) {
      for (let i = 0; i < Math.max(x.length, y.length); i++) walk(x[i], y[i], `${path}/${i}`);
      return;
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ path, op: 'replace', old: x, new: y });
  };
  walk(a, b, '');
  return out;
}

function randomValue(rng: SeededRandom, depth: number): JsonValue {
  const k = rng.int(depth > 2 ? 6 : 9);
  switch (k) {
    case 0: return null;
    case 1: return rng.int(2) === 0;
    case 2: return rng.int(4);
    case 3: return rng.pick(['a', 'b', '1', '']);
    case 4: return rng.pick([0, -0, 1.5, 1]);
    case 5: return rng.pick(['x', 'y']);
    case 6:
    case 7: {
      const o: { [k: string]: JsonValue } = {};
      for (let i = rng.int(4); i > 0; i--) o[rng.pick(['a', 'b', 'a/b', 'm~n', 'constructor', 'toString', 'valueOf'])] = randomValue(rng, depth + 1);
      return o;
    }
    default: return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
  }
}

describe('history diffs', () => {
  it('a key named like an Object.prototype member is added or removed, never replaced by a function', () => {
    expect(diffJson({}, { constructor: 1 }).changes).toEqual([{ path: '/constructor', op: 'add', new: 1 }]);
    expect(diffJson({ toString: 'x' }, {}).changes).toEqual([{ path: '/toString', op: 'remove', old: 'x' }]);
    const before = JSON.parse('{"__proto__": {"admin": false}}') as JsonValue;
    expect(diffJson(before, {}).changes).toEqual([{ path: '/__proto__', op: 'remove', old: { admin: false } }]);
    expect(diffJson({}, JSON.parse('{"__proto__": 1}') as JsonValue).changes).toEqual([{ path: '/__proto__', op: 'add', new: 1 }]);
  });

  it('mixed types and numbers compare as their JSON text', () => {
    expect(diffJson(1, '1').changes).toEqual([{ path: '', op: 'replace', old: 1, new: '1' }]);
    expect(diffJson({}, []).changes).toEqual([{ path: '', op: 'replace', old: {}, new: [] }]);
    expect(diffJson(null, {}).changes).toEqual([{ path: '', op: 'replace', old: null, new: {} }]);
    expect(diffJson({ a: 0 }, { a: -0 }).changes).toEqual([]);
    expect(diffJson([null], [{}]).changes).toEqual([{ path: '/0', op: 'replace', old: null, new: {} }]);
  });

  it('equals the reference on random states', () => {
    const rng = new SeededRandom('history-diff');
    for (let n = 0; n < 3000; n++) {
      const a = randomValue(rng, 0);
      const b = rng.int(4) === 0 ? a : randomValue(rng, 0);
      const got = diffJson(a, b);
      expect(got.truncated).toBe(false);
      expect(got.changes, JSON.stringify([a, b])).toEqual(reference(a, b));
    }
    const wide = Object.fromEntries(Array.from({ length: DIFF_CHANGES_MAX + 5 }, (_, i) => [`k${i}`, i]));
    expect(diffJson({}, wide)).toMatchObject({ truncated: true });
    expect(diffJson({}, wide).changes.length).toBe(DIFF_CHANGES_MAX);
  });
});

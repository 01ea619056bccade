// The pre-parse shape scan of request bodies (node/http/json-scan.ts): nesting depth, top-level
// array elements and JSON values are counted over the raw bytes, in chunks, before JSON.parse runs,
// so a hostile body is refused in linear time without building millions of objects.
import { describe, expect, it } from 'vitest';
import { JsonShapeScanner, type JsonScanLimits } from '../../node/http/json-scan.js';

const LIMITS: JsonScanLimits = { depthMax: 4, topLevelMax: 3, valuesMax: 50, elementValuesMax: 20 };

function scan(text: string, limits: JsonScanLimits = LIMITS, chunk = 0): ReturnType<JsonShapeScanner['push']> {
  const s = new JsonShapeScanner(limits);
  const bytes = Buffer.from(text);
  if (chunk <= 0) return s.push(bytes);
  for (let i = 0; i < bytes.length; i += chunk) {
    const v = s.push(bytes.subarray(i, i + chunk));
    if (v !== null) return v;
  }
  return null;
}

describe('JsonShapeScanner', () => {
  it('passes bodies within the limits, whatever the chunking', () => {
    const ok = ['{"a":1,"b":[true,null,"x"]}', '[{"a":"[[[[[["},{"b":"\\"]]]]"},{}]', '  [ 1 , -2.5e3 , "q" ]  ', '"just a string"', '{"k\\"{[":{"x":{"y":[]}}}'];
    for (const t of ok) for (const chunk of [0, 1, 2, 7]) expect(scan(t, LIMITS, chunk), `${t} /${chunk}`).toBeNull();
  });

  it('refuses nesting deeper than depthMax (brackets inside strings do not count)', () => {
    expect(scan('[[[[1]]]]')).toBeNull();
    expect(scan('[[[[[1]]]]]')).toMatchObject({ code: 'too_deep', message: expect.stringContaining('jsonDepthMax') });
    expect(scan('{"a":{"b":{"c":{"d":{}}}}}', LIMITS, 3)).toMatchObject({ code: 'too_deep' });
    // A 4-million-deep body is refused at depth 5, after reading 5 bytes of it.
    const s = new JsonShapeScanner(LIMITS);
    expect(s.push(Buffer.from('['.repeat(4_000_000)))).toMatchObject({ code: 'too_deep' });
  });

  it('refuses more top-level array elements than topLevelMax', () => {
    expect(scan('[{},{},{}]')).toBeNull();
    expect(scan('[{},{},{},{}]', LIMITS, 1)).toMatchObject({ code: 'too_many_entries', message: expect.stringContaining('entriesPerRequestMax') });
    expect(scan('[1,2,3,4]')).toMatchObject({ code: 'too_many_entries' });
    // Keys are not values, and an object body is one element however many keys it has.
    expect(scan('{"a":1,"b":2,"c":3,"d":4}')).toBeNull();
  });

  it('refuses more values than valuesMax in the body or elementValuesMax in one element', () => {
    expect(scan(`[[${new Array(19).fill('0').join(',')}]]`)).toBeNull(); // 1 + 19 values in the element
    expect(scan(`[[${new Array(20).fill('0').join(',')}]]`)).toMatchObject({ code: 'too_many_values', message: expect.stringContaining('one entry') });
    expect(scan(`{"a":[${new Array(25).fill('{}').join(',')}]}`)).toMatchObject({ code: 'too_many_values' });
    const wide: JsonScanLimits = { ...LIMITS, elementValuesMax: 1000 };
    expect(scan(`[[${new Array(60).fill('"s"').join(',')}]]`, wide, 5)).toMatchObject({ code: 'too_many_values', message: expect.stringContaining('jsonValuesMax') });
  });

  it('is linear: 8 MiB of [{},{},...] is refused within a few milliseconds', () => {
    const body = Buffer.from(`[${new Array(2_800_000).fill('{}').join(',')}]`);
    const s = new JsonShapeScanner({ depthMax: 18, topLevelMax: 1000, valuesMax: 128_000, elementValuesMax: 4128 });
    const t0 = performance.now();
    expect(s.push(body)).toMatchObject({ code: 'too_many_entries' });
    expect(performance.now() - t0).toBeLessThan(50);
    // A body of only strings (the scan's worst case: every byte inspected) within the limits.
    const strings = Buffer.from(JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ s: 'x'.repeat(2000), i }))));
    const s2 = new JsonShapeScanner({ depthMax: 18, topLevelMax: 1000, valuesMax: 128_000, elementValuesMax: 4128 });
    const t1 = performance.now();
    expect(s2.push(strings)).toBeNull();
    expect(performance.now() - t1).toBeLessThan(200);
  });

  it('agrees with JSON.parse on depth, entries and values of random documents, however chunked', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const strs = ['', 'a', '"', '\\', '\\"', '{[', ']}', 'x\u0022y', ',:', 'é€😀', '\n\t'];
    const gen = (d: number): unknown => {
      const k = d > 5 ? rnd(4) : rnd(7);
      if (k === 0) return strs[rnd(strs.length)];
      if (k === 1) return rnd(2000) - 1000;
      if (k === 2) return [true, false, null][rnd(3)];
      if (k === 3) return -1.5e-7;
      if (k === 4 || k === 5) return Array.from({ length: rnd(4) }, () => gen(d + 1));
      return Object.fromEntries(Array.from({ length: rnd(4) }, (_, i) => [strs[rnd(strs.length)]! + i, gen(d + 1)]));
    };
    const measure = (v: unknown, d: number): { depth: number; values: number } => {
      if (v === null || typeof v !== 'object') return { depth: d, values: 1 };
      const kids = Array.isArray(v) ? v : Object.values(v);
      let depth = d + 1;
      let values = 1;
      for (const k of kids) {
        const m = measure(k, d + 1);
        depth = Math.max(depth, m.depth);
        values += m.values;
      }
      return { depth, values };
    };
    for (let t = 0; t < 300; t++) {
      const doc = Array.from({ length: 1 + rnd(5) }, () => gen(1));
      const text = t % 2 === 0 ? JSON.stringify(doc) : JSON.stringify(doc, null, 1);
      const { depth, values } = measure(doc, 0);
      const chunk = 1 + rnd(9);
      const exact: JsonScanLimits = { depthMax: depth, topLevelMax: doc.length, valuesMax: values, elementValuesMax: values };
      expect(scan(text, exact, chunk), text).toBeNull();
      expect(scan(text, { ...exact, depthMax: depth - 1 }, chunk)?.code, text).toBe('too_deep');
      expect(scan(text, { ...exact, valuesMax: values - 1 }, chunk)?.code, text).toBe('too_many_values');
      expect(scan(text, { ...exact, topLevelMax: doc.length - 1 }, chunk)?.code ?? (doc.length === 1 ? 'too_many_entries' : null), text).toBe('too_many_entries');
    }
  });
});

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
});

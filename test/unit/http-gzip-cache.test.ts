// BundleGzipCache (node/http/gzip-cache.ts): a full entry bundle is immutable, so its gzip is made
// once and served from memory; concurrent requests share one compression; the cache is bounded in
// bytes (least recently used evicted first).
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BundleGzipCache } from '../../node/http/gzip-cache.js';

const bundle = (seed: number, n = 4096) => Buffer.from(Array.from({ length: n }, (_, i) => (i * seed) % 7 === 0 ? 65 : 66));

describe('BundleGzipCache', () => {
  it('compresses a bundle once, including for concurrent requests', async () => {
    const c = new BundleGzipCache(1 << 20);
    const raw = bundle(3);
    const [a, b] = await Promise.all([c.get(0, raw), c.get(0, raw)]);
    const d = await c.get(0, raw);
    expect(c.stats()).toMatchObject({ compressions: 1, hits: 2 });
    expect(a).toBe(b);
    expect(d).toBe(a);
    expect(gunzipSync(a)).toEqual(raw);
  });

  it('stays within its byte bound, evicting the least recently used', async () => {
    const one = (await new BundleGzipCache(1 << 20).get(0, bundle(5))).length;
    const c = new BundleGzipCache(one * 2 + one / 2);
    await c.get(1, bundle(5));
    await c.get(2, bundle(5));
    await c.get(1, bundle(5)); // 1 is now the most recently used
    await c.get(3, bundle(5)); // evicts 2
    expect(c.stats().bytes).toBeLessThanOrEqual(one * 2 + one / 2);
    expect(c.stats().entries).toBe(2);
    const before = c.stats().compressions;
    await c.get(1, bundle(5));
    expect(c.stats().compressions).toBe(before);
    await c.get(2, bundle(5));
    expect(c.stats().compressions).toBe(before + 1);
  });

  it('a bundle larger than the whole cache is compressed but not kept', async () => {
    const c = new BundleGzipCache(16);
    const z = await c.get(7, bundle(11));
    expect(gunzipSync(z)).toEqual(bundle(11));
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });
});

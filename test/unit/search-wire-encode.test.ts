// The peer encodes search pages with Node's base64 (node/http/search-routes.ts); clients decode with
// the portable decoder. Both encoders must give the same text for every byte length.
import { describe, expect, it } from 'vitest';
import { encodePage, decodePage } from '../../src/search/wire.js';

const nodeBase64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

describe('encodePage with a native base64 encoder', () => {
  it('gives the same page as the portable encoder, and it decodes to the same bytes', () => {
    const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17) & 0xff);
    const results = Array.from({ length: 40 }, (_, i) => ({
      index: i,
      // Every length modulo 3, and views into a larger buffer (non-zero byteOffset).
      entry: bytes(300 + i, i).subarray(i % 3),
      proof: Array.from({ length: i % 5 }, (_, k) => bytes(64, i + k).subarray(16, 48)),
    }));
    const page = { checkpoint: new TextEncoder().encode('note\n'), treeSize: 40, order: 'oldest' as const, filter: {}, results, covered: { from: 0, to: 40 }, stop: 'end' as const, plan: { streams: [], scan: true } };
    const native = encodePage(page, nodeBase64);
    expect(native).toEqual(encodePage(page));
    const d = decodePage(JSON.parse(JSON.stringify(native)));
    expect(d.ok).toBe(true);
    if (d.ok) d.page.results.forEach((r, i) => expect(r.entry).toEqual(results[i]!.entry));
  });
});

// The SDK's per-route response caps (src/client/response-caps.ts) against a real HTTP server on
// 127.0.0.1: a body exactly at its route's cap is read, one byte more is refused with
// response_too_large, whether the length is declared (content-length) or not (chunked).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnClient } from '../../src/client/client.js';
import { CHECKPOINT_MAX_BYTES, CONSISTENCY_MAX_BYTES, entryBundleMaxBytes, SMALL_JSON_MAX_BYTES, tileMaxBytes } from '../../src/client/response-caps.js';
import { toBase64 } from '../../src/encoding/bytes.js';

/** A body of `n` bytes each route's client method accepts when it is not too large. */
function body(path: string, n: number): Buffer {
  if (path.startsWith('/v1/proofs/consistency')) {
    // Valid JSON padded with trailing whitespace (JSON.parse allows it) to exactly n bytes.
    const json = JSON.stringify({ from: 1, to: 2, proof: [toBase64(new Uint8Array(32))] });
    return Buffer.from(json + ' '.repeat(n - json.length));
  }
  return Buffer.alloc(n, 0x78);
}

let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const n = Number(req.headers['x-len']);
    if (req.headers['x-status'] !== undefined) {
      // An error answer of n bytes: the route's JSON error padded with whitespace.
      const json = JSON.stringify({ error: { code: 'entries_refused', message: 'every entry refused' } });
      res.writeHead(Number(req.headers['x-status']), { 'content-type': 'application/json', 'content-length': String(n) });
      res.end(json + ' '.repeat(n - json.length));
      return;
    }
    const b = body(req.url ?? '', n);
    if (req.headers['x-chunked'] === '1') {
      // No content-length: the client finds out only by reading.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(b.subarray(0, n >> 1));
      res.end(b.subarray(n >> 1));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) });
    res.end(b);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const client = (len: number, chunked = false) => new CairnClient({ url, requestTimeoutMs: 20_000, headers: { 'x-len': String(len), 'x-chunked': chunked ? '1' : '0' } });

const routes: { name: string; cap: number; call: (c: CairnClient) => Promise<unknown>; size: (v: unknown) => number }[] = [
  { name: 'full hash tile', cap: tileMaxBytes(), call: (c) => c.tile(0, 0), size: (v) => (v as Uint8Array).length },
  { name: 'partial hash tile (width 3)', cap: tileMaxBytes(3), call: (c) => c.tile(0, 0, 3), size: (v) => (v as Uint8Array).length },
  { name: 'full entry bundle', cap: entryBundleMaxBytes(), call: (c) => c.entryBundle(0), size: (v) => (v as Uint8Array).length },
  { name: 'consistency proof', cap: CONSISTENCY_MAX_BYTES, call: (c) => c.consistency(1, 2), size: () => CONSISTENCY_MAX_BYTES },
  { name: 'checkpoint', cap: CHECKPOINT_MAX_BYTES, call: (c) => c.checkpoint(), size: (v) => (v as string).length },
];

describe('client response caps per route', () => {
  it('an error answer larger than small JSON but within its route cap is read (its code reaches the caller)', async () => {
    const n = SMALL_JSON_MAX_BYTES + 4096; // e.g. an array submit refused entry by entry
    expect(n).toBeLessThan(entryBundleMaxBytes());
    const c = new CairnClient({ url, requestTimeoutMs: 20_000, headers: { 'x-len': String(n), 'x-status': '422' } });
    await expect(c.entryBundle(0)).rejects.toMatchObject({ code: 'entries_refused' });
  });

  it('derives the caps from the protocol bounds', () => {
    expect(tileMaxBytes()).toBe(256 * 32);
    expect(tileMaxBytes(3)).toBe(3 * 32);
    expect(entryBundleMaxBytes()).toBe(256 * (2 + 65_535));
    // 64 hashes of 44 base64 characters at most, plus the small fields.
    expect(CONSISTENCY_MAX_BYTES).toBeGreaterThan(64 * 44);
    expect(CONSISTENCY_MAX_BYTES).toBeLessThan(8 * 1024);
  });

  for (const r of routes) {
    it(`${r.name}: exactly the cap is read, one byte more is response_too_large`, async () => {
      for (const chunked of [false, true]) {
        expect(r.size(await r.call(client(r.cap, chunked)))).toBe(r.cap);
        await expect(r.call(client(r.cap + 1, chunked))).rejects.toMatchObject({ code: 'response_too_large' });
      }
    });
  }
});

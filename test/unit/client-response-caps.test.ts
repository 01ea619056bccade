// The SDK's per-route response caps (src/client/response-caps.ts) against a real HTTP server on
// 127.0.0.1: a body exactly at its route's cap is read, one byte more is refused with
// response_too_large, whether the length is declared (content-length) or not (chunked).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnClient } from '../../src/client/client.js';
import {
  CHECKPOINT_MAX_BYTES,
  CONSISTENCY_MAX_BYTES,
  ENTRY_RESPONSE_MAX_BYTES,
  entryBundleMaxBytes,
  RECEIPT_MAX_BYTES,
  searchPageMaxBytes,
  SMALL_JSON_MAX_BYTES,
  SUBMIT_RESPONSE_MAX_BYTES,
  tileMaxBytes,
} from '../../src/client/response-caps.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { toBase64 } from '../../src/encoding/bytes.js';
import { MAX_PROOF_HASHES } from '../../src/merkle/verify.js';

/** The longest consistency proof, each hash different, so the test sees that the whole list arrived. */
const PROOF = Array.from({ length: MAX_PROOF_HASHES }, (_, i) => toBase64(new Uint8Array(32).fill(i)));

/**
 * JSON answers each client method accepts, given `k` bytes of padding. The padding sits where the
 * client hands it back (a string field, or the page's checkpoint text), so a test can tell from the
 * result that every byte was read; the consistency answer cannot carry it, so there it is
 * whitespace before the closing brace (a body read short does not parse).
 */
const page = (order: string) => (k: number) => JSON.stringify({ checkpoint: 'x'.repeat(k), treeSize: 0, order, filter: {}, results: [], covered: { from: 0, to: 0 }, stop: 'end' });
const shapes: { prefix: string; method: string; make: (k: number) => string }[] = [
  {
    prefix: '/v1/proofs/consistency',
    method: 'GET',
    make: (k) => JSON.stringify({ from: Number.MAX_SAFE_INTEGER - 1, to: Number.MAX_SAFE_INTEGER, proof: PROOF }).slice(0, -1) + ' '.repeat(k) + '}',
  },
  { prefix: '/v1/entries/', method: 'GET', make: (k) => JSON.stringify({ leafHash: 'ab'.repeat(32), status: 'pending', leaf: '', entry: {}, pad: 'x'.repeat(k) }) },
  { prefix: '/v1/entries', method: 'POST', make: (k) => JSON.stringify({ status: 'accepted', leafHash: 'ab'.repeat(32), pad: 'x'.repeat(k) }) },
  { prefix: '/v1/search', method: 'GET', make: page('newest') },
  { prefix: '/v1/resources/', method: 'GET', make: page('oldest') },
];
const shapeOf = (prefix: string) => shapes.find((s) => s.prefix === prefix)!;

/** A body of `n` bytes each route's client method accepts when it is not too large (text and binary routes: n bytes of 'x'). */
function body(req: IncomingMessage, n: number): Buffer {
  const json = (req.headers.accept ?? '') === 'application/json';
  const s = json ? shapes.find((x) => (req.url ?? '').startsWith(x.prefix) && x.method === req.method) : undefined;
  return s === undefined ? Buffer.alloc(n, 0x78) : Buffer.from(s.make(n - s.make(0).length));
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
    const b = body(req, n);
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

const hash = 'ab'.repeat(32);
const firstPage = async (g: AsyncGenerator<{ checkpoint: string }>) => (await g.next()).value as { checkpoint: string };
const jsonLength = (v: unknown) => JSON.stringify(v).length;
const routes: { name: string; cap: number; call: (c: CairnClient) => Promise<unknown>; size: (v: unknown) => number }[] = [
  { name: 'full hash tile', cap: tileMaxBytes(), call: (c) => c.tile(0, 0), size: (v) => (v as Uint8Array).length },
  { name: 'partial hash tile (width 3)', cap: tileMaxBytes(3), call: (c) => c.tile(0, 0, 3), size: (v) => (v as Uint8Array).length },
  { name: 'full entry bundle', cap: entryBundleMaxBytes(), call: (c) => c.entryBundle(0), size: (v) => (v as Uint8Array).length },
  {
    name: 'consistency proof',
    cap: CONSISTENCY_MAX_BYTES,
    call: (c) => c.consistency(1, 2),
    // The whole longest proof came back, and the closing brace is the body's last byte.
    size: (v) => ((v as { proof: Uint8Array[] }).proof.map((h) => toBase64(h)).join() === PROOF.join() ? CONSISTENCY_MAX_BYTES : -1),
  },
  { name: 'checkpoint', cap: CHECKPOINT_MAX_BYTES, call: (c) => c.checkpoint(), size: (v) => (v as string).length },
  { name: 'entry', cap: ENTRY_RESPONSE_MAX_BYTES, call: (c) => c.getEntry(hash), size: jsonLength },
  { name: 'receipt', cap: RECEIPT_MAX_BYTES, call: (c) => c.getReceipt(hash), size: (v) => (v as string).length },
  { name: 'submit (one entry)', cap: SUBMIT_RESPONSE_MAX_BYTES, call: (c) => c.submit({} as AuditEntry), size: jsonLength },
  {
    name: 'search page (limit 1)',
    cap: searchPageMaxBytes(1, false),
    call: (c) => firstPage(c.search({}, { limit: 1, maxPages: 1 })),
    size: (v) => shapeOf('/v1/search').make((v as { checkpoint: string }).checkpoint.length).length,
  },
  {
    name: 'history page (limit 1)',
    cap: searchPageMaxBytes(1, true),
    call: (c) => firstPage(c.history('record', 'r1', { limit: 1, maxPages: 1 })),
    size: (v) => shapeOf('/v1/resources/').make((v as { checkpoint: string }).checkpoint.length).length,
  },
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
    // The longest proof at the largest tree sizes fits (the row below pads it up to the cap).
    expect(shapeOf('/v1/proofs/consistency').make(0).length).toBeLessThanOrEqual(CONSISTENCY_MAX_BYTES);
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

// The entry fetch protocol's codec and client: strict requests, bounded responses, every leaf
// checked against the hash asked for, a lying or dead source skipped, the deadline kept.
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { decodeFetchRequest, decodeFetchResponse, encodeFetchRequest, fetchMissing, FETCH_HASHES_MAX, FETCH_RESPONSE_BYTES_MAX, serveFetch } from '../../node/peer/block-fetch.js';
import { fastLeafHash } from '../../node/peer/entries.js';
import { toHex } from '../../src/encoding/bytes.js';

const leaves = Array.from({ length: 50 }, (_, i) => new Uint8Array(randomBytes(100 + i)));
const hashes = leaves.map(fastLeafHash);
const held = new Map(leaves.map((l, i) => [toHex(hashes[i]!), l]));

describe('entry fetch', () => {
  it('requests are strict: count 1..FETCH_HASHES_MAX and an exact size', () => {
    const req = encodeFetchRequest(hashes);
    expect(decodeFetchRequest(req)).toMatchObject({ ok: true });
    expect(decodeFetchRequest(req.subarray(0, req.length - 1))).toMatchObject({ ok: false, code: 'fetch_bad_request' });
    expect(() => encodeFetchRequest([])).toThrow();
    expect(() => encodeFetchRequest(new Array(FETCH_HASHES_MAX + 1).fill(hashes[0]))).toThrow();
    const tooMany = new Uint8Array(3 + (FETCH_HASHES_MAX + 1) * 32);
    tooMany[0] = 1;
    expect(decodeFetchRequest(tooMany).ok).toBe(false);
  });

  it('the server answers what it holds, in order, and never more than FETCH_RESPONSE_BYTES_MAX', () => {
    const missing = new Uint8Array(randomBytes(32));
    const r = serveFetch(encodeFetchRequest([hashes[0]!, missing, hashes[1]!]), (h) => held.get(h));
    expect(r.ok && r.served).toBe(2);
    if (!r.ok) return;
    const d = decodeFetchResponse(r.response, [hashes[0]!, missing, hashes[1]!], fastLeafHash);
    expect(d.ok && [...d.leaves.keys()]).toEqual([toHex(hashes[0]!), toHex(hashes[1]!)]);
    // 64 leaves of 60,000 bytes cannot all fit: the response stays within the bound.
    const big = Array.from({ length: 64 }, (_, i) => new Uint8Array(60_000).fill(i));
    const bigHashes = big.map(fastLeafHash);
    const bigHeld = new Map(big.map((l, i) => [toHex(bigHashes[i]!), l]));
    const rb = serveFetch(encodeFetchRequest(bigHashes), (h) => bigHeld.get(h));
    expect(rb.ok && rb.response.length).toBeLessThanOrEqual(FETCH_RESPONSE_BYTES_MAX);
    expect(rb.ok && rb.served).toBeLessThan(64);
  });

  it('a response carrying another leaf than the one asked for fails as a whole', () => {
    const r = serveFetch(encodeFetchRequest([hashes[0]!]), () => leaves[1]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(decodeFetchResponse(r.response, [hashes[0]!], fastLeafHash)).toMatchObject({ ok: false, code: 'fetch_bad_response' });
    expect(decodeFetchResponse(r.response, [hashes[0]!, hashes[1]!], fastLeafHash)).toMatchObject({ ok: false, code: 'fetch_bad_response' });
  });

  it('the client skips a lying and a dead source, gets the rest from the next, and keeps the byte bound', async () => {
    const asked: string[] = [];
    const request = async (peer: string, req: Uint8Array) => {
      asked.push(peer);
      if (peer === 'dead') throw new Error('connection refused');
      const r = serveFetch(req, peer === 'liar' ? () => leaves[0] : (h) => held.get(h));
      if (!r.ok) throw new Error(r.message);
      return r.response;
    };
    const got = await fetchMissing({ missing: hashes, sources: ['dead', 'liar', 'honest'], request, leafHash: fastLeafHash, deadlineMs: Date.now() + 5_000, now: Date.now, maxBytes: 1 << 20 });
    expect(asked).toEqual(['dead', 'liar', 'honest']);
    expect(got.badSources).toBe(1);
    expect(got.leaves.size).toBe(50);
    for (const [k, v] of got.leaves) expect(held.get(k)).toEqual(v);
    // A block declared smaller than its leaves: the client stops at the declared bytes.
    const capped = await fetchMissing({ missing: hashes, sources: ['honest'], request, leafHash: fastLeafHash, deadlineMs: Date.now() + 5_000, now: Date.now, maxBytes: 1_000 });
    expect(capped.leaves.size).toBeLessThan(10);
  });

  it('nothing is asked after the deadline', async () => {
    let calls = 0;
    const got = await fetchMissing({
      missing: hashes,
      sources: ['a', 'b'],
      request: async () => {
        calls++;
        throw new Error('unreachable');
      },
      leafHash: fastLeafHash,
      deadlineMs: Date.now() - 1,
      now: Date.now,
      maxBytes: 1 << 20,
    });
    expect(calls).toBe(0);
    expect(got.leaves.size).toBe(0);
  });
});

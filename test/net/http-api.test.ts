// The HTTP API and the client SDK against 4 real peers (libp2p on 127.0.0.1, LevelDB in temp dirs):
// SDK submit -> waitFinal -> receipt -> offline verification; long-poll wake-up on finality;
// C2SP tlog-tiles tiles and entry bundles (paths, partial widths, content types, cache headers,
// byte-identical across peers, recomputed root); consistency proofs; /metrics moving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnApiError, CairnClient, verifyEntryResponse } from '../../src/client/index.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { bytesEqual, fromBase64, toHex } from '../../src/encoding/bytes.js';
import { entryLeaf, leafHashOfEntry } from '../../src/entry/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { decodeEntryBundle, leafHash } from '../../src/merkle/index.js';
import { verifyConsistencyResult } from '../../src/merkle/verify.js';
import { verifyCheckpoint, verifyReceipt, type TrustRoot } from '../../src/verifier/index.js';
import { clusterProgress, makeEntries, waitConnected, waitFor } from '../peer-support/cluster.js';
import { NaiveTree } from '../unit/support/merkle-naive.js';
import { call, makeHttpCluster, postJson, type HttpCluster } from './helpers/http-cluster.js';

let c: HttpCluster;
let urls: string[];
let trust: TrustRoot;

beforeAll(async () => {
  c = await makeHttpCluster(4, { label: 'httpapi' });
  await Promise.all([0, 1, 2, 3].map((i) => c.startWithHttp(i)));
  urls = c.http.map((s) => s!.url);
  await waitConnected(c, [0, 1, 2, 3], 3);
  trust = { origin: c.genesis.origin, keys: c.genesis.validators.map((v) => v.key), quorum: c.genesis.quorum };
});
afterAll(async () => {
  await c?.close();
});

function metricValue(text: string, name: string, labels = ''): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}${labels} `)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** Strict check of the Prometheus text exposition format (each sample line, HELP/TYPE lines). */
function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = sample.exec(line);
    if (m === null) throw new Error(`not a Prometheus sample line: ${line}`);
    out.set(line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

describe('SDK: submit -> waitFinal -> receipt -> verify', () => {
  it('signAndSubmit, waitFinal, receipt from another peer verifies offline with the light verifier', async () => {
    const client = new CairnClient({ url: urls[0]! });
    const { entry, leafHash: lh, status } = await client.signAndSubmit(
      { v: 1, id: `sdk-${Date.now()}`, time: new Date().toISOString(), actor: { id: 'alice' }, action: 'user.login', resource: { type: 'app', id: 'web' }, outcome: 'success' },
      c.clients[1]!.signer,
    );
    expect(status).toBe('accepted');
    expect(lh).toBe(toHex(leafHashOfEntry(entryLeaf(entry))));
    const fin = await client.waitFinal(lh, { timeoutMs: 30_000 });
    expect(fin.status).toBe('final');
    expect(fin.entry).toEqual(entry);
    expect(bytesEqual(fromBase64(fin.leaf)!, entryLeaf(entry))).toBe(true);
    expect(verifyCheckpoint(trust, fin.checkpoint!).ok).toBe(true);
    // The JSON answer verifies offline too; any tampering with it is caught.
    const ve = verifyEntryResponse(trust, fin);
    expect(ve.ok, JSON.stringify(ve)).toBe(true);
    expect(verifyEntryResponse(trust, { ...fin, entry: { ...fin.entry, outcome: 'failure' } }).ok).toBe(false);
    expect(verifyEntryResponse(trust, { ...fin, index: fin.index! + 1 }).ok).toBe(false);
    expect(verifyEntryResponse(trust, { ...fin, leafHash: '00'.repeat(32) }).ok).toBe(false);
    expect(verifyEntryResponse(trust, { ...fin, status: 'pending' }).ok).toBe(false);
    expect(verifyEntryResponse({ ...trust, quorum: 4 }, fin).ok).toBe(fin.checkpoint!.split('\u2014').length - 1 >= 4);

    // The receipt, fetched from a different peer (waiting until that peer has the final checkpoint too).
    const other = new CairnClient({ url: urls[2]! });
    const receipt = await other.getReceipt({ client: entry.client, id: entry.id }, { wait: true, timeoutMs: 30_000 });
    expect(receipt.startsWith('c2sp.org/tlog-proof@v1\nindex ')).toBe(true);
    const v = other.verifyReceipt(trust, receipt, entryLeaf(entry));
    expect(v.ok, JSON.stringify(v)).toBe(true);
    if (v.ok) {
      expect(v.index).toBe(fin.index);
      expect(v.signers.length).toBeGreaterThanOrEqual(c.genesis.quorum);
    }
    // Offline verification with node:crypto gives the same verdict; a different leaf fails.
    expect(verifyReceipt(trust, receipt, entryLeaf(entry), { verifier: nodeVerifier }).ok).toBe(true);
    const wrong = verifyReceipt(trust, receipt, entryLeaf({ ...entry, action: 'user.logout' }));
    expect(wrong.ok).toBe(false);

    // Re-submitting a final entry: 200 known-final.
    const again = await postJson(`${urls[3]}/v1/entries`, entry);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ status: 'known-final', leafHash: lh });
    expect((await other.submit(entry)).status).toBe('known-final');
  }, 60_000);

  it('typed SDK errors carry the API code, status and field', async () => {
    const client = new CairnClient({ url: urls[1]! });
    const [e] = makeEntries(c.clients, 1, 'sdkerr');
    const err = await client.submit({ ...e!, action: 'db.tampered' }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(CairnApiError);
    expect(err).toMatchObject({ code: 'bad_signature', status: 403, field: 'sig' });
    const nf = await client.getEntry('00'.repeat(32)).catch((x: unknown) => x);
    expect(nf).toMatchObject({ code: 'entry_not_found', status: 404 });
    const bad = await client.signAndSubmit({ v: 1, id: 'x' } as any, c.clients[0]!.signer).catch((x: unknown) => x);
    expect(bad).toMatchObject({ code: 'invalid_entry', status: 0 });
    const { client: _cl, sig: _sg, ...unsigned } = e!;
    const mismatch = await client.signAndSubmit({ ...unsigned, client: c.clients[3]!.publicKeyHex }, c.clients[0]!.signer).catch((x: unknown) => x);
    expect(mismatch).toMatchObject({ code: 'invalid_entry', field: 'client' });
    const down = await new CairnClient({ url: 'http://127.0.0.1:1' }).status().catch((x: unknown) => x);
    expect(down).toMatchObject({ code: 'network_error', status: 0 });
    const t = await client.waitFinal('11'.repeat(32), { timeoutMs: 600 }).catch((x: unknown) => x);
    expect(t).toMatchObject({ code: 'entry_not_found' });
    // Batch results keep per-entry errors instead of throwing.
    const res = await client.submit([{ ...e!, action: 'db.tampered' }, e!]);
    expect(res[0]).toMatchObject({ error: { code: 'bad_signature', field: '[0].sig' } });
    expect(res[1]).toMatchObject({ status: 'accepted' });
  });
});

describe('long-poll', () => {
  it('?wait=final returns as soon as the entry is final (well before the timeout), JSON and receipt', async () => {
    const [e, e2] = makeEntries(c.clients, 2, 'poll');
    const a = await postJson(`${urls[1]}/v1/entries`, [e, e2]);
    expect(a.status).toBe(202);
    const t0 = Date.now();
    const [j, r] = await Promise.all([
      call(`${urls[1]}/v1/entries/${a.json.results[0].leafHash}?wait=final&timeout=30s`),
      call(`${urls[1]}/v1/entries/by-id/${e2!.client}/${e2!.id}?wait=final&timeout=30000ms`, { headers: { accept: 'text/plain' } }),
    ]);
    const ms = Date.now() - t0;
    expect(j.status).toBe(200);
    expect(j.json.status).toBe('final');
    expect(ms).toBeLessThan(20_000);
    expect(Number(j.headers.get('cairn-waited-ms'))).toBeLessThan(20_000);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(verifyReceipt(trust, r.text, entryLeaf(e2!)).ok).toBe(true);
    // The proof in the JSON verifies too.
    expect(verifyCheckpoint(trust, j.json.checkpoint).ok).toBe(true);
  });
});

describe('tlog-tiles, proofs and metrics', () => {
  const N = 300;
  let entries: AuditEntry[];
  let size = 0;
  let tree: NaiveTree;

  it(`${N} entries through all 4 peers in arrays; all final`, async () => {
    const before = await call(`${urls[0]}/metrics`);
    expect(before.status).toBe(200);
    expect(before.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const m0 = parsePrometheus(before.text);

    entries = makeEntries(c.clients, N, 'tiles');
    const clients = urls.map((u) => new CairnClient({ url: u }));
    await Promise.all(
      clients.map(async (cl, p) => {
        const mine = entries.filter((_, i) => i % 4 === p);
        const res = await cl.submit(mine);
        for (const r of res) expect(r).toMatchObject({ status: 'accepted' });
      }),
    );
    await clients[0]!.submit({ ...entries[0]!, outcome: 'failure' }).catch(() => undefined); // one rejection (bad_signature)
    // Every entry final, asked of the peer each was submitted to (bounded concurrent long-polls).
    await Promise.all(
      clients.map(async (cl, p) => {
        const mine = entries.filter((_, i) => i % 4 === p);
        const fin = await cl.waitFinalMany(mine.map((e) => ({ client: e.client, id: e.id })), { timeoutMs: 60_000, concurrency: 16 });
        fin.forEach((f, k) => {
          expect(f.status).toBe('final');
          expect(f.entry).toEqual(mine[k]);
        });
      }),
    );
    await waitFor(
      c,
      'all peers final past the tiles entries',
      async () => {
        for (const u of urls) {
          const cp = await call(`${u}/checkpoint`);
          if (cp.status !== 200) return false;
          const v = verifyCheckpoint(trust, cp.text);
          if (!v.ok || v.size < N) return false;
        }
        const sizes = await Promise.all(urls.map(async (u) => (verifyCheckpoint(trust, (await call(`${u}/checkpoint`)).text) as any).size));
        return sizes.every((s) => s === sizes[0]);
      },
      () => clusterProgress(c),
      { stallMs: 20_000, maxMs: 90_000 },
    );
    const cp = await call(`${urls[0]}/checkpoint`);
    expect(cp.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(cp.headers.get('cache-control')).toBe('public, max-age=1');
    const v = verifyCheckpoint(trust, cp.text);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    size = v.size;

    // Rebuild the whole tree from entry bundles; its root must be the checkpoint's.
    const leaves: Uint8Array[] = [];
    const full = Math.floor(size / 256);
    for (let n = 0; n < full; n++) leaves.push(...decodeEntryBundle((await new CairnClient({ url: urls[n % 4]! }).entryBundle(n)), 256));
    if (size % 256 > 0) leaves.push(...decodeEntryBundle(await clients[1]!.entryBundle(full, size % 256), size % 256));
    expect(leaves.length).toBe(size);
    tree = new NaiveTree(leaves.map((l) => leafHash(l)));
    expect(toHex(tree.root(size))).toBe(toHex(v.root));

    const after = await call(`${urls[0]}/metrics`);
    const m1 = parsePrometheus(after.text);
    const acc = 'cairn_entries_accepted_total{result="accepted"}';
    expect((m1.get(acc) ?? 0) - (m0.get(acc) ?? 0)).toBe(N / 4);
    expect(m1.get('cairn_entries_rejected_total{code="bad_signature"}') ?? 0).toBeGreaterThan(m0.get('cairn_entries_rejected_total{code="bad_signature"}') ?? 0);
    expect(m1.get('cairn_blocks_total')!).toBeGreaterThan(m0.get('cairn_blocks_total') ?? 0);
    expect(m1.get('cairn_finality_latency_seconds_count')!).toBeGreaterThan(m0.get('cairn_finality_latency_seconds_count') ?? 0);
    expect(m1.get('cairn_block_rounds_count')!).toBeGreaterThan(0);
    expect(m1.get('cairn_final_tree_size')!).toBeGreaterThanOrEqual(N);
    expect(m1.get('cairn_peers_connected')).toBe(3);
    // Bytes on the wire: one row per connected peer, and they grew with the traffic.
    const wire = (m: Map<string, number>) => [...m].filter(([k]) => k.startsWith('cairn_net_bytes_received_total{peer="') && !k.includes('"other"'));
    expect(wire(m1).length).toBe(3);
    expect(wire(m1).reduce((s, [, v]) => s + v, 0)).toBeGreaterThan(wire(m0).reduce((s, [, v]) => s + v, 0));
    expect(metricValue(after.text, 'cairn_http_requests_total', '{route="/v1/entries",status="202"}')).toBeGreaterThanOrEqual(1);
    expect(m1.has('cairn_mempool_entries')).toBe(true);
  }, 120_000);

  it('hash tiles: full and partial widths, content types, cache headers, 404 beyond the tree, identical on every peer', async () => {
    expect(size).toBeGreaterThanOrEqual(N);
    const full = Math.floor(size / 256);
    const w0 = size % 256;
    const checkTile = async (path: string, hashes: Uint8Array[], immutable: boolean) => {
      const bodies: Uint8Array[] = [];
      for (const u of urls) {
        const r = await fetch(`${u}/${path}`);
        expect(r.status, path).toBe(200);
        expect(r.headers.get('content-type')).toBe('application/octet-stream');
        expect(r.headers.get('cache-control')).toBe(immutable ? 'public, max-age=31536000, immutable' : 'public, max-age=10');
        bodies.push(new Uint8Array(await r.arrayBuffer()));
      }
      for (const b of bodies) expect(toHex(b)).toBe(toHex(bodies[0]!));
      expect(bodies[0]!.length).toBe(hashes.length * 32);
      for (let i = 0; i < hashes.length; i++) expect(toHex(bodies[0]!.subarray(i * 32, i * 32 + 32))).toBe(toHex(hashes[i]!));
    };
    // Level 0, tile 0 (full): the first 256 leaf hashes.
    await checkTile('tile/0/000', tree.leafHashes.slice(0, 256), true);
    // Level 0, the partial tile: ⌊s/256^0⌋ mod 256 hashes.
    if (w0 > 0) await checkTile(`tile/0/${String(full).padStart(3, '0')}.p/${w0}`, tree.leafHashes.slice(full * 256, size), false);
    // A narrower partial tile (an older tree) is a prefix of it.
    await checkTile('tile/0/000.p/7', tree.leafHashes.slice(0, 7), false);
    // Level 1: ⌊s/256⌋ mod 256 hashes, each the MTH of 256 leaves.
    await checkTile(`tile/1/000.p/${full}`, Array.from({ length: full }, (_, i) => tree.mth(i * 256, i * 256 + 256)), false);
    // Beyond the tree.
    for (const p of [`tile/0/${String(full + 1).padStart(3, '0')}`, `tile/0/${String(full).padStart(3, '0')}`, `tile/1/000`, `tile/2/000.p/1`, `tile/0/${String(full).padStart(3, '0')}.p/${Math.min(255, w0 + 1)}`]) {
      const r = await call(`${urls[2]}/${p}`);
      expect(r.status, p).toBe(404);
      expect(r.json.error.code).toBe('tile_not_found');
    }
  });

  it('entry bundles: full and partial, uint16 length-prefixed leaves, identical on every peer', async () => {
    const full = Math.floor(size / 256);
    const w0 = size % 256;
    const paths: [string, number, number][] = [['tile/entries/000', 0, 256], ['tile/entries/000.p/5', 0, 5]];
    if (w0 > 0) paths.push([`tile/entries/${String(full).padStart(3, '0')}.p/${w0}`, full * 256, w0]);
    for (const [p, start, count] of paths) {
      const bodies: Uint8Array[] = [];
      for (const u of urls) {
        const r = await fetch(`${u}/${p}`);
        expect(r.status, p).toBe(200);
        expect(r.headers.get('content-type')).toBe('application/octet-stream');
        expect(r.headers.get('cache-control')).toBe(count === 256 ? 'public, max-age=31536000, immutable' : 'public, max-age=10');
        bodies.push(new Uint8Array(await r.arrayBuffer()));
      }
      for (const b of bodies) expect(toHex(b)).toBe(toHex(bodies[0]!));
      const leaves = decodeEntryBundle(bodies[0]!, count);
      // Each entry: big-endian uint16 length, then the bytes.
      expect((bodies[0]![0]! << 8) | bodies[0]![1]!).toBe(leaves[0]!.length);
      leaves.forEach((l, i) => expect(toHex(leafHash(l))).toBe(toHex(tree.leafHashes[start + i]!)));
    }
    // Compressed at the HTTP layer when asked (tlog-tiles "Entry bundles SHOULD be compressed").
    const { request } = await import('node:http');
    const raw = (enc: string) =>
      new Promise<{ headers: Record<string, unknown>; body: Buffer }>((res, rej) => {
        const q = request(`${urls[1]}/tile/entries/000`, { headers: { 'accept-encoding': enc } }, (r) => {
          const parts: Buffer[] = [];
          r.on('data', (d: Buffer) => parts.push(d));
          r.on('end', () => res({ headers: r.headers, body: Buffer.concat(parts) }));
        });
        q.on('error', rej);
        q.end();
      });
    const { gunzipSync } = await import('node:zlib');
    const plain = await raw('identity');
    expect(plain.headers['content-encoding']).toBeUndefined();
    const gz = await raw('gzip, identity');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['vary']).toBe('accept-encoding');
    expect(gz.body.length).toBeLessThan(plain.body.length);
    expect(toHex(new Uint8Array(gunzipSync(gz.body)))).toBe(toHex(new Uint8Array(plain.body)));
    expect((await raw('gzip;q=0, identity')).headers['content-encoding']).toBeUndefined();
    const r = await call(`${urls[0]}/tile/entries/${String(full + 1).padStart(3, '0')}`);
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('tile_not_found');
  });

  it('consistency proofs verify (RFC 9162 §2.1.4.2) from several older sizes', async () => {
    const client = new CairnClient({ url: urls[3]! });
    for (const from of [1, 2, 100, 256, size - 1, size]) {
      const r = await client.consistency(from, size);
      const ok = verifyConsistencyResult(from, size, r.proof, tree.root(from), tree.root(size));
      expect(ok.ok, `from ${from}: ${JSON.stringify(ok)}`).toBe(true);
    }
    const e = await client.consistency(0, size);
    expect(e.proof).toEqual([]);
    const bad = await client.consistency(size, size + 1_000_000).catch((x: unknown) => x);
    expect(bad).toMatchObject({ code: 'bad_range', status: 400 });
  });

  it('status and healthz', async () => {
    const client = new CairnClient({ url: urls[0]! });
    const s = await client.status();
    expect(s.origin).toBe(c.genesis.origin);
    expect(s.finalSize).toBeGreaterThanOrEqual(size);
    expect(s.peers.filter((p) => p.connected)).toHaveLength(3);
    expect(s.problem).toBeNull();
    const h = await client.health();
    expect(h.ok).toBe(true);
    expect(verifyCheckpoint(trust, await client.checkpoint()).ok).toBe(true);
  });
});

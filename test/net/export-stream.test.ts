// GET /v1/stream on a real peer (libp2p and LevelDB on 127.0.0.1): NDJSON and server-sent events of
// final entries from a cursor, live entries as they become final, the filter and the reader's
// scope applied to every entry, the meta-audit record before any content, bounds on streams per
// address, and a consumer that stops reading being disconnected with a final error line.
import { createHash } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { signEntry } from '../../src/entry/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import type { AccessGate } from '../../node/http/access-gate.js';
import { allowAllGate } from '../../node/http/access-gate.js';
import type { HttpLimits } from '../../node/http/limits.js';
import { parseStreamLine, type StreamLine } from '../../node/export/stream-wire.js';
import { call, makeHttpCluster, type HttpCluster } from './helpers/http-cluster.js';
import { makeEntries, waitFor, clusterProgress } from '../peer-support/cluster.js';

let cluster: HttpCluster | null = null;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await cluster?.close();
  cluster = null;
});

interface Reader {
  res: IncomingMessage;
  lines: StreamLine[];
  raw: string;
  ended: Promise<void>;
  close(): void;
}

function open(url: string, headers: Record<string, string> = {}): Promise<Reader | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
        return;
      }
      const r: Reader = {
        res,
        lines: [],
        raw: '',
        ended: new Promise((e) => res.once('close', () => e())),
        close: () => req.destroy(),
      };
      let buf = '';
      res.on('data', (c: Buffer) => {
        r.raw += c.toString();
        buf += c.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const l = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (l !== '' && !l.startsWith('id:')) r.lines.push(parseStreamLine(l.startsWith('data: ') ? l.slice(6) : l));
        }
      });
      closers.push(() => req.destroy());
      resolve(r);
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const entriesOf = (r: Reader) => r.lines.filter((l): l is Extract<StreamLine, { type: 'entry' }> => l.type === 'entry');

async function setup(n: number, opts: { gate?: AccessGate; limits?: Partial<HttpLimits> & Record<string, number> } = {}) {
  const c = (cluster = await makeHttpCluster(1, { label: 'stream' }));
  const http = await c.startWithHttp(0, { ...(opts.gate ? { gate: opts.gate } : {}), ...(opts.limits ? { limits: opts.limits as Partial<HttpLimits> } : {}) });
  const peer = c.peers[0]!;
  if (n > 0) {
    await peer.submit(makeEntries(c.clients, n, 's'));
    await waitFor(c, `${n} final`, () => peer.status().finalSize >= n, () => clusterProgress(c));
  }
  return { c, http, peer };
}

describe('GET /v1/stream', () => {
  it('streams final entries from a cursor with their covering checkpoint, then live ones, filtered', async () => {
    const { c, http, peer } = await setup(20);
    const all = (await open(`${http.url}/v1/stream?from=0`)) as Reader;
    expect(all.res.headers['content-type']).toMatch(/application\/x-ndjson/);
    await until('20 entries', () => entriesOf(all).length >= 20);
    const es = entriesOf(all);
    expect(es.map((e) => e.index)).toEqual([...Array(20).keys()]);
    for (const e of es) {
      expect(e.leafHash).toBe(createHash('sha256').update(Buffer.concat([Buffer.of(0), Buffer.from(e.leaf, 'utf8')])).digest('hex'));
      expect(e.checkpoint.treeSize).toBeGreaterThan(e.index);
    }
    // The signed note comes before the first entry it covers.
    expect(all.lines[0]!.type).toBe('checkpoint');
    // after is exclusive (the documented parameter); from (inclusive) stays as an alias.
    const after0 = (await open(`${http.url}/v1/stream?after=0`)) as Reader;
    await until('after=0: 19 entries', () => entriesOf(after0).length >= 19);
    expect(entriesOf(after0).map((e) => e.index)).toEqual([...Array(19).keys()].map((i) => i + 1));
    after0.res.destroy();
    const from12 = (await open(`${http.url}/v1/stream?after=11&filter=${encodeURIComponent('entry.actor.id == "user-3" || entry.actor.id == "user-13"')}`)) as Reader;
    const sse = (await open(`${http.url}/v1/stream?from=5`, { accept: 'text/event-stream' })) as Reader;
    // Live: entries made final after the streams opened arrive on them.
    await peer.submit(makeEntries(c.clients, 20, 't'));
    await waitFor(c, '40 final', () => peer.status().finalSize >= 40, () => clusterProgress(c));
    await until('40 entries live', () => entriesOf(all).length >= 40);
    expect(entriesOf(all).map((e) => e.index)).toEqual([...Array(40).keys()]);
    await until('sse 35 entries', () => entriesOf(sse).length >= 35);
    expect(sse.raw).toMatch(/^id: 6\ndata: \{"type":"entry","index":5,/m);
    await until('filtered entries', () => entriesOf(from12).length >= 2);
    const want = entriesOf(all).filter((e) => e.index >= 12 && ['user-3', 'user-13'].includes((JSON.parse(e.leaf) as AuditEntry).actor.id)).map((e) => e.index);
    await new Promise((r) => setTimeout(r, 200));
    expect(entriesOf(from12).map((e) => e.index)).toEqual(want);
  }, 120_000);

  it('refuses bad parameters, applies the gate (403, scope, meta-audit first, 503 when it cannot record) and bounds streams per address', async () => {
    const recorded: string[] = [];
    let deny = false;
    let full = false;
    const base = allowAllGate();
    const gate: AccessGate = {
      require: async (req, reply, action) => {
        if (deny) {
          await reply.code(403).send({ code: 'forbidden', message: `no ${action}` });
          return null;
        }
        return base.require(req, reply, action);
      },
      scope: async () => ({ full: false, matches: (e) => e.actor.id === 'user-1' }),
      recordRead: async (_req, _p, what) => {
        recorded.push(`${what.action} ${what.resource.type} ${what.resource.id}`);
        return !full;
      },
    };
    const { http } = await setup(40, { gate, limits: { streamsPerAddressMax: 1 } });
    expect(((await open(`${http.url}/v1/stream?from=x`)) as { status: number }).status).toBe(400);
    expect(((await open(`${http.url}/v1/stream?filter=${encodeURIComponent('entry.actor ==')}`)) as { status: number }).status).toBe(400);
    expect(((await open(`${http.url}/v1/stream?nope=1`)) as { status: number }).status).toBe(400);
    expect(((await open(`${http.url}/v1/stream?after=-1`)) as { status: number }).status).toBe(400);
    const both = (await open(`${http.url}/v1/stream?after=1&from=2`)) as { status: number; body: string };
    expect(both.status).toBe(400);
    expect(both.body).toMatch(/not both/);
    // A wrong method names the one allowed (405 with Allow), not an unknown path (404).
    const post = await call(`${http.url}/v1/stream`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    deny = true;
    expect(((await open(`${http.url}/v1/stream`)) as { status: number }).status).toBe(403);
    deny = false;
    full = true;
    const refused = (await open(`${http.url}/v1/stream?from=1`)) as { status: number; body: string };
    expect(refused.status).toBe(503);
    expect(refused.body).toMatch(/unavailable/);
    full = false;
    const s = (await open(`${http.url}/v1/stream?from=0`)) as Reader;
    await until('scoped entries', () => s.lines.some((l) => l.type === 'entry' && l.index > 20));
    await new Promise((r) => setTimeout(r, 200));
    // Only the reader's scope, whatever the filter asks.
    expect(entriesOf(s).length).toBeGreaterThan(0);
    for (const e of entriesOf(s)) expect((JSON.parse(e.leaf) as AuditEntry).actor.id).toBe('user-1');
    expect(recorded.filter((r) => r === 'cairn.read.stream stream from=0')).toHaveLength(1);
    // One stream per address: the second waits for the first to end.
    expect(((await open(`${http.url}/v1/stream`)) as { status: number }).status).toBe(429);
    s.close();
    await s.ended;
    let second: Reader | { status: number } = { status: 0 };
    const end = Date.now() + 5000;
    while (Date.now() < end) {
      second = await open(`${http.url}/v1/stream`);
      if ('res' in second) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect('res' in second).toBe(true);
  }, 120_000);

  it('stays open past the server request timeout with heartbeats, then delivers a new entry', async () => {
    const { c, http, peer } = await setup(3, { limits: { streamHeartbeatMs: 1000, requestTimeoutMs: 5000, keepAliveTimeoutMs: 2000 } });
    const r = (await open(`${http.url}/v1/stream?from=0`)) as Reader;
    await until('3 entries', () => entriesOf(r).length >= 3);
    await new Promise((res) => setTimeout(res, 12_000));
    expect(r.res.destroyed).toBe(false);
    const beats = r.lines.filter((l) => l.type === 'heartbeat');
    expect(beats.length).toBeGreaterThanOrEqual(8);
    expect(beats[beats.length - 1]).toMatchObject({ type: 'heartbeat', next: 3 });
    await peer.submit(makeEntries(c.clients, 1, 'late'));
    await until('the late entry', () => entriesOf(r).length >= 4);
  }, 120_000);

  it('disconnects a consumer that stops reading, with a final error line, instead of buffering for it', async () => {
    const { c, http, peer } = await setup(0, { limits: { streamBufferBytesMax: 64 * 1024, streamStallMs: 500 } });
    // ~32 KiB per entry, 200 entries: far more than the socket buffers hold.
    const big = 'x'.repeat(16_000);
    const entries: AuditEntry[] = Array.from({ length: 200 }, (_, i) =>
      signEntry({ v: 1, id: `big-${Date.now()}-${i}`, time: new Date().toISOString(), actor: { id: 'u', type: 'user' }, action: 'db.query', resource: { type: 't', id: String(i) }, outcome: 'success', data: { a: big, b: big } }, c.clients[0]!.signer),
    );
    for (let i = 0; i < entries.length; i += 20) await peer.submit(entries.slice(i, i + 20));
    await waitFor(c, '200 final', () => peer.status().finalSize >= 200, () => clusterProgress(c));
    const r = (await open(`${http.url}/v1/stream?from=0`)) as Reader;
    r.res.pause();
    const ended = async (): Promise<number> => {
      const m = await http.metrics.registry.getSingleMetric('cairn_stream_ended_total')!.get();
      return m.values.filter((v) => v.labels.reason === 'slow_consumer').reduce((n, v) => n + v.value, 0);
    };
    const end = Date.now() + 20_000;
    while ((await ended()) < 1) {
      if (Date.now() > end) throw new Error('the slow consumer was not disconnected');
      await new Promise((res) => setTimeout(res, 50));
    }
    r.res.resume();
    await r.ended;
    const last = r.lines[r.lines.length - 1]!;
    expect(last).toMatchObject({ type: 'error', code: 'slow_consumer' });
    // It got far less than the whole log, and `next` says where to resume.
    const got = entriesOf(r);
    expect(got.length).toBeLessThan(200);
    expect((last as { next: number }).next).toBe(got.length);
  }, 180_000);
});

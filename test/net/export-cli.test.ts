// `cairn export` against a real peer (libp2p, LevelDB, HTTP on 127.0.0.1) and real receivers:
// a JSON-lines file, a real rsyslog over TLS, a Splunk HEC stand-in that checks the HEC shape, the
// token header and the channel and acknowledges indexing only on a later poll, and a kill -9 of the
// exporter process while a batch is in flight. The cursor moves only after the destination
// acknowledged: runs resume without losing an entry, and repeat at most the batch in flight.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, verify as edVerify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exportCommand } from '../../node/cli/export.js';
import type { CliIo } from '../../node/cli/io.js';
import { readCursor } from '../../node/export/cursor.js';
import { makeHttpCluster, type HttpCluster } from './helpers/http-cluster.js';
import { rsyslog, rsyslogCleanups, rsyslogLines } from './helpers/rsyslog.js';
import { makeEntries, waitFor, clusterProgress } from '../peer-support/cluster.js';
import { REPO_ROOT } from '../peer-support/child.js';

let cluster: HttpCluster | null = null;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const c of rsyslogCleanups.splice(0).reverse()) await c();
  await cluster?.close();
  cluster = null;
});

function memIo(cwd: string): CliIo & { out: string; err: string } {
  const io = { out: '', err: '', cwd, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

async function setup(n: number) {
  const c = (cluster = await makeHttpCluster(1, { label: 'export' }));
  const http = await c.startWithHttp(0);
  const peer = c.peers[0]!;
  const add = async (k: number, prefix: string) => {
    const want = peer.status().finalSize + k;
    await peer.submit(makeEntries(c.clients, k, prefix));
    await waitFor(c, `${want} final`, () => peer.status().finalSize >= want, () => clusterProgress(c));
  };
  if (n > 0) await add(n, 'x');
  const dir = await mkdtemp(join(tmpdir(), 'cairn-export-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return { c, http, peer, add, dir };
}

interface HecState {
  url: string;
  token: string;
  events: { index: number; event: Record<string, unknown> }[];
  bad: string[];
  requests: number;
  /** Answer the next n event posts with 503. */
  failNext: number;
  /** Called when an event post arrives (before it is answered). */
  onPost?: () => Promise<void>;
}

/** A Splunk HEC stand-in: checks the token, the channel and the event shape; acks on the second poll. */
async function hecReceiver(): Promise<HecState> {
  const st: HecState = { url: '', token: 'a1b2c3d4-0000-4000-8000-123456789abc', events: [], bad: [], requests: 0, failNext: 0 };
  const acks = new Map<number, number>();
  let nextAck = 0;
  const body = (req: IncomingMessage) =>
    new Promise<string>((r) => {
      const ch: Buffer[] = [];
      req.on('data', (c: Buffer) => ch.push(c));
      req.on('end', () => r(Buffer.concat(ch).toString('utf8')));
    });
  const server: Server = createServer(async (req, res) => {
    const text = await body(req);
    const reply = (status: number, o: unknown) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(o));
    };
    if (req.headers.authorization !== `Splunk ${st.token}`) return reply(401, { text: 'Invalid authorization', code: 3 });
    const channel = req.headers['x-splunk-request-channel'];
    if (typeof channel !== 'string' || !/^[0-9a-f-]{36}$/.test(channel)) return reply(400, { text: 'Data channel is missing', code: 10 });
    if (req.url?.startsWith('/services/collector/ack')) {
      const ids = (JSON.parse(text) as { acks: number[] }).acks;
      const out: Record<string, boolean> = {};
      for (const id of ids) {
        const polls = (acks.get(id) ?? 0) + 1;
        acks.set(id, polls);
        out[String(id)] = polls >= 2;
      }
      return reply(200, { acks: out });
    }
    if (req.url !== '/services/collector/event') return reply(404, { text: 'not found', code: 404 });
    st.requests++;
    if (st.onPost) await st.onPost();
    if (st.failNext > 0) {
      st.failNext--;
      return reply(503, { text: 'Server is busy', code: 9 });
    }
    // HEC's JSON event endpoint: concatenated event objects.
    for (const line of text.split('\n')) {
      const e = JSON.parse(line) as Record<string, any>;
      if (typeof e.time !== 'number' || typeof e.host !== 'string' || e.source !== 'cairn' || typeof e.sourcetype !== 'string' || typeof e.event !== 'object' || typeof e.fields?.cairn_index !== 'string') {
        st.bad.push(line.slice(0, 200));
        continue;
      }
      st.events.push({ index: Number(e.fields.cairn_index), event: e.event });
    }
    const id = nextAck++;
    return reply(200, { text: 'Success', code: 0, ackId: id });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
  st.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return st;
}

const range = (n: number) => [...Array(n).keys()];

describe('cairn export', () => {
  it('jsonl: a second run resumes from the cursor, every entry exactly once, OCSF records', async () => {
    const { add, http, dir } = await setup(25);
    const io = memIo(dir);
    const opts = { peer: http.url, to: 'jsonl:out.jsonl', cursorFile: 'cursor.json', format: 'ocsf', once: true, batch: '7' };
    await exportCommand(io, opts);
    expect((await readCursor(join(dir, 'cursor.json')))?.next).toBe(25);
    await add(15, 'y');
    await exportCommand(io, opts);
    const recs = (await readFile(join(dir, 'out.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    expect(recs.map((r) => r.unmapped.cairn.index)).toEqual(range(40));
    expect(recs[0]!.class_uid).toBe(6003);
    expect((await readCursor(join(dir, 'cursor.json')))?.next).toBe(40);
    expect(io.out).toMatch(/exported 15 entries/);
  }, 120_000);

  it('splunk-hec with indexer acknowledgement: retried through failures, each entry once, cursor only after the ack', async () => {
    const { http, dir } = await setup(30);
    const hec = await hecReceiver();
    await writeFile(join(dir, 'hec.token'), hec.token);
    hec.failNext = 2;
    const io = memIo(dir);
    await exportCommand(io, { peer: http.url, to: `splunk-hec:${hec.url}`, hecTokenFile: 'hec.token', hecAck: true, cursorFile: 'c.json', format: 'cloudevents', once: true, batch: '10' });
    expect(hec.bad).toEqual([]);
    expect(hec.events.map((e) => e.index)).toEqual(range(30));
    expect(hec.events[3]!.event).toMatchObject({ specversion: '1.0', id: '3', type: 'org.cairn.entry.v1' });
    expect(io.err).toMatch(/retrying/);
    expect((await readCursor(join(dir, 'c.json')))?.next).toBe(30);
    // A wrong token is refused: the run fails and the cursor does not move.
    await writeFile(join(dir, 'bad.token'), 'ffffffff-0000-4000-8000-000000000000');
    await expect(exportCommand(memIo(dir), { peer: http.url, to: `splunk-hec:${hec.url}`, hecTokenFile: 'bad.token', cursorFile: 'c2.json', once: true, maxAttempts: '2' })).rejects.toThrow(/HTTP 401/);
    expect(await readCursor(join(dir, 'c2.json'))).toBeNull();
  }, 120_000);

  it('syslog over TLS to a real rsyslog: one RFC 5424 message per entry, naming index and leaf hash', async () => {
    const { http, dir } = await setup(12);
    const rs = await rsyslog();
    await rs.start();
    await writeFile(join(dir, 'ca.pem'), rs.ca);
    await exportCommand(memIo(dir), { peer: http.url, to: `syslog://127.0.0.1:${rs.port}`, caFile: 'ca.pem', serverName: 'localhost', cursorFile: 'c.json', once: true, batch: '5' });
    const end = Date.now() + 10_000;
    while ((await rsyslogLines(rs.out)).length < 12 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    const lines = await rsyslogLines(rs.out);
    expect(lines).toHaveLength(12);
    const idx = lines.map((l) => {
      const [version, facility, severity, app, msgid, sd] = l.split('|');
      expect([version, facility, severity, app, msgid]).toEqual(['1', '13', '6', 'cairn', 'entry']);
      return Number(/^\[entry@32473 index="(\d+)" leafHash="[0-9a-f]{64}" treeSize="\d+"\]$/.exec(sd!)![1]);
    });
    expect(idx).toEqual(range(12));
  }, 120_000);

  it('webhook: batches signed per Standard Webhooks (Ed25519 v1a), verified by the receiver with the public key', async () => {
    const { http, dir } = await setup(12);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    await writeFile(join(dir, 'ed.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const got: { id: string; indexes: number[]; ok: boolean }[] = [];
    const server: Server = createServer((req, res) => {
      const ch: Buffer[] = [];
      req.on('data', (c: Buffer) => ch.push(c));
      req.on('end', () => {
        const body = Buffer.concat(ch).toString('utf8');
        const id = String(req.headers['webhook-id']);
        const signed = Buffer.from(`${id}.${String(req.headers['webhook-timestamp'])}.${body}`);
        const ok = String(req.headers['webhook-signature'])
          .split(' ')
          .some((s) => s.startsWith('v1a,') && edVerify(null, signed, publicKey, Buffer.from(s.slice(4), 'base64')));
        const b = JSON.parse(body) as { type: string; data: { index: number }[] };
        got.push({ id, indexes: b.data.map((r) => r.index), ok: ok && b.type === 'cairn.entries' });
        res.statusCode = ok ? 204 : 401;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/in`;
    await exportCommand(memIo(dir), { peer: http.url, to: `webhook:${url}`, ed25519KeyFile: 'ed.pem', cursorFile: 'c.json', once: true, batch: '5' });
    expect(got.every((g) => g.ok)).toBe(true);
    expect(got.flatMap((g) => g.indexes)).toEqual(range(12));
    expect(got[0]!.id).toMatch(/^cairn-.+-0-4$/);
    // Without a signing key the destination is refused before anything is sent.
    await expect(exportCommand(memIo(dir), { peer: http.url, to: `webhook:${url}`, cursorFile: 'c3.json', once: true })).rejects.toThrow(/--secret-file/);
  }, 120_000);

  it('kill -9 of the exporter while a batch is in flight: the rerun loses nothing and repeats only that batch', async () => {
    const { http, dir } = await setup(40);
    const hec = await hecReceiver();
    await writeFile(join(dir, 'hec.token'), hec.token);
    let release: () => void = () => undefined;
    let held = false;
    // The third batch is held (received, not answered) until the exporter is killed.
    hec.onPost = () =>
      hec.requests === 3
        ? new Promise<void>((r) => {
            held = true;
            release = r;
          })
        : Promise.resolve();
    const args = ['--import', 'tsx', 'node/cli/main.ts', 'export', '--peer', http.url, '--to', `splunk-hec:${hec.url}`, '--hec-token-file', join(dir, 'hec.token'), '--cursor-file', join(dir, 'c.json'), '--batch', '5', '--once'];
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const end = Date.now() + 60_000;
    while (!held) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`batch 3 never arrived: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    // The held batch's events were received (the indexer may have them) but never acknowledged.
    release();
    expect((await readCursor(join(dir, 'c.json')))?.next).toBe(10);
    hec.onPost = undefined;
    await exportCommand(memIo(dir), { peer: http.url, to: `splunk-hec:${hec.url}`, hecTokenFile: 'hec.token', cursorFile: 'c.json', once: true, batch: '5' });
    const got = hec.events.map((e) => e.index);
    expect([...new Set(got)].sort((a, b) => a - b)).toEqual(range(40));
    const repeats = got.filter((x, i) => got.indexOf(x) !== i).sort((a, b) => a - b);
    expect(repeats).toEqual([10, 11, 12, 13, 14]);
    expect((await readCursor(join(dir, 'c.json')))?.next).toBe(40);
  }, 120_000);
});

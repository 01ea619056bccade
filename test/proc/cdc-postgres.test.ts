// PostgreSQL change capture end to end: a real PostgreSQL server (Debian's package, started here
// with wal_level=logical), a real Cairn peer with its HTTP API, and `cairn cdc run` as a separate
// process that is killed with SIGKILL twice:
//   - once while a transaction's entries are already final in the log but the capture has not
//     been told so (a proxy in front of the peer holds the "is it final?" answers): the position
//     must not have moved, and after the restart the entries must not be logged twice;
//   - once while it works through the changes made while it was down.
// Inserts, updates and deletes (several in one transaction, one under another role) must end up
// in the log exactly once, in commit order, with each row's last `data.after` equal to the row in
// the database, and `cairn history` must show a row's versions with field-level diffs.
// What it proves about crashes: the capture's own state and the slot position, not fsync (the
// kernel keeps the page cache of a killed process). It takes 40-60 s on a shared 2-core machine:
// three capture processes start through tsx, and the peer finalizes each batch before the next.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnClient } from '../../src/client/client.js';
import type { AuditEntry, JsonObject } from '../../src/entry/types.js';
import { toHex } from '../../src/encoding/bytes.js';
import { formatTrustFile } from '../../src/verifier/index.js';
import { run } from '../../node/cli/run.js';
import { startHttpServer, type HttpServer } from '../../node/http/server.js';
import { formatLsn, parseLsn } from '../../node/cdc/pgoutput.js';
import { makeCluster, type Cluster } from '../peer-support/cluster.js';
import { freePort } from '../peer-support/fixtures.js';
import { trustOf } from '../net/search-support.js';
import { startPostgres, type TestPostgres } from './support/cdc-postgres.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
let pgs: TestPostgres;
let c: Cluster;
let http: HttpServer;
let proxy: Server;
let proxyUrl: string;
let db: pg.Client;
let dir: string;
let holdFinal = false;
const released: (() => void)[] = [];
const children: ChildProcess[] = [];

/** Forwards to the peer; while `holdFinal`, answers to entry reads (the capture's finality checks) wait. */
function startProxy(target: string): Promise<Server> {
  const s = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', async () => {
      try {
        if (holdFinal && req.url?.startsWith('/v1/entries/')) await new Promise<void>((r) => released.push(r));
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
        const up = await fetch(target + req.url, { method: req.method!, headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) });
        const body = Buffer.from(await up.arrayBuffer());
        res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' });
        res.end(body);
      } catch {
        res.destroy();
      }
    });
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}

interface Proc {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

function capture(): Proc {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(REPO, 'node/cli/main.ts'), 'cdc', 'run', '--config', 'cdc.json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, exit };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number, p?: Proc): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${p ? `\ncapture output:\n${p.out().slice(-4000)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function kill9(p: Proc): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exit;
}

/** Every captured entry in log order (index, entry), read straight from the peer. */
async function logged(): Promise<{ index: number; entry: AuditEntry }[]> {
  const client = new CairnClient({ url: http.url });
  const out: { index: number; entry: AuditEntry }[] = [];
  try {
    for await (const p of client.search({ resourceType: 'public.items' }, { order: 'oldest', limit: 1000 })) {
      p.entries.forEach((e, i) => out.push({ index: p.results[i]!.index, entry: e }));
    }
  } catch (e) {
    if ((e as { code?: string }).code === 'no_checkpoint') return [];
    throw e;
  }
  return out;
}

async function stateLsn(): Promise<bigint | null> {
  try {
    return parseLsn((JSON.parse(await readFile(join(dir, 'cdc.state'), 'utf8')) as { lsn: string }).lsn);
  } catch {
    return null;
  }
}

async function slotLsn(): Promise<bigint> {
  const r = await db.query("SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = 'cairn_test'");
  return parseLsn(r.rows[0].l as string);
}

beforeAll(async () => {
  pgs = await startPostgres('cdc');
  dir = pgs.dir;
  c = await makeCluster(1, { label: 'cdc' });
  http = await startHttpServer(await c.start(0), { host: '127.0.0.1', port: 0 });
  proxy = await startProxy(http.url);
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  db = await pgs.connect();
  await db.query('CREATE DATABASE app');
  await db.end();
  db = await pgs.connect('app');
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL, tags jsonb, price numeric(8,2))`);
  await db.query(`CREATE ROLE app_writer LOGIN; GRANT SELECT, INSERT, UPDATE, DELETE ON items TO app_writer`);
  await writeFile(join(dir, 'client.key'), toHex(c.clients[0]!.seed));
  await writeFile(join(dir, 'trust.json'), formatTrustFile(trustOf(c.genesis)));
  await writeFile(
    join(dir, 'cdc.json'),
    JSON.stringify({
      postgres: { host: pgs.host, port: pgs.port, database: 'app', user: pgs.user },
      slot: 'cairn_test',
      publication: 'cairn_test',
      tables: [{ name: 'public.items' }],
      // The first peer is down (nothing listens there): every start moves on to the second.
      peer: [`http://127.0.0.1:${await freePort()}`, proxyUrl],
      key: 'client.key',
      stateFile: 'cdc.state',
      batchEntries: 8,
      bufferEntries: 16,
      finalTimeoutMs: 60_000,
      statusIntervalMs: 500,
    }),
  );
}, 120_000);

afterAll(async () => {
  holdFinal = false;
  for (const r of released.splice(0)) r();
  for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
  await db?.end().catch(() => undefined);
  await new Promise((r) => (proxy ? proxy.close(r) : r(null)));
  await http?.close();
  await c?.close();
  await pgs?.stop();
});

describe('cairn cdc (PostgreSQL logical replication → Cairn)', () => {
  it('logs every insert, update and delete exactly once, in commit order, across two SIGKILLs; cairn history shows the diffs', async () => {
    const out: string[] = [];
    const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void out.push(s), cwd: dir };
    expect(await run(['cdc', 'setup', '--config', 'cdc.json'], io)).toBe(0);
    expect(out.join('')).toContain('created replication slot cairn_test');

    // Phase 1: capture running. One transaction with three inserts, an update, and a transaction
    // under another role with an update and a delete.
    let cap = capture();
    await until('the capture to stream', () => cap.out().includes('"msg":"streaming"'), 60_000, cap);
    await db.query(`INSERT INTO items VALUES (1, 'apple', 5, '{"color":"red"}', 1.50), (2, 'pear', 3, NULL, 2.00), (3, 'plum', 9, '[1,2]', 0.75)`);
    await db.query('UPDATE items SET qty = 7 WHERE id = 1');
    await db.query(`BEGIN; SET LOCAL ROLE app_writer; UPDATE items SET name = 'green pear' WHERE id = 2; DELETE FROM items WHERE id = 3; COMMIT`);
    await until('6 entries final', async () => (await logged()).length >= 6, 60_000, cap);

    // Phase 2: finality answers held. A transaction's entries become final in the log, but the
    // capture cannot learn it: its position must stay where it was. Then SIGKILL.
    const phase1 = parseLsn((await logged())[5]!.entry.data!.lsn as string);
    await until('the position to pass phase 1', async () => ((await stateLsn()) ?? 0n) > phase1 && (await slotLsn()) > phase1, 30_000, cap);
    holdFinal = true;
    await db.query(`BEGIN; UPDATE items SET qty = qty + 1 WHERE id IN (1, 2); INSERT INTO items VALUES (4, 'fig', 1, NULL, 3.10); COMMIT`);
    await until('9 entries final in the log', async () => (await logged()).length >= 9, 60_000, cap);
    const held = parseLsn((await logged())[8]!.entry.data!.lsn as string);
    await new Promise((r) => setTimeout(r, 1000));
    // Final in the log, but not confirmed to the capture: neither its state file nor the slot
    // may have moved past that transaction's commit.
    expect(await stateLsn()).toBeLessThanOrEqual(held);
    expect(await slotLsn()).toBeLessThanOrEqual(held);
    await kill9(cap);

    // Changes while no capture runs.
    await db.query('UPDATE items SET qty = 2 WHERE id = 4');
    await db.query('DELETE FROM items WHERE id = 2');
    for (let i = 0; i < 20; i++) await db.query('UPDATE items SET qty = $1 WHERE id = 1', [100 + i]);
    holdFinal = false;
    for (const r of released.splice(0)) r();

    // Phase 3: restart, SIGKILL again once it has made some progress through the backlog, restart.
    cap = capture();
    await until('a first final batch after the restart', () => cap.out().includes('"msg":"final"'), 60_000, cap);
    await kill9(cap);
    await db.query(`INSERT INTO items VALUES (5, 'kiwi', 12, '{"origin":"nz"}', 0.40)`);
    const second = cap.out();
    cap = capture();
    const expected = 6 + 3 + 1 + 1 + 20 + 1;
    await until(`${expected} entries`, async () => (await logged()).length >= expected, 60_000, cap);
    const all = await logged();
    const last = all[all.length - 1]!.entry;
    expect(last.resource.id).toBe('5');
    // The position moves past the last transaction (state file first, then the slot).
    const lastCommit = parseLsn(last.data!.lsn as string);
    await until('the position to pass the last commit', async () => ((await stateLsn()) ?? 0n) > lastCommit && (await slotLsn()) > lastCommit, 30_000, cap);
    cap.child.kill('SIGTERM');
    expect(await cap.exit).toBe(0);
    expect(cap.out()).toContain('"msg":"stopped"');
    // The backlog (25 entries) is more than bufferEntries (16): reading from the slot paused and resumed.
    const restarts = second + cap.out();
    const paused = restarts.indexOf('backpressure: stopped reading from the slot');
    expect(paused).toBeGreaterThanOrEqual(0);
    // Reading went on after the pause: in the same process, or (when the SIGKILL came while it was
    // paused) in the restarted one, which resumes streaming from the persisted position.
    const again = restarts.indexOf('backpressure: reading from the slot again', paused);
    const resumed = restarts.indexOf('"msg":"streaming"', paused);
    expect(again > paused || resumed > paused, restarts).toBe(true);
    expect(restarts).toContain(`"next":"${proxyUrl}"`);

    // cairn cdc status: the slot and the state file agree, nothing is behind but the WAL written since.
    const st: string[] = [];
    expect(await run(['cdc', 'status', '--config', 'cdc.json'], { stdout: (s) => void st.push(s), stderr: (s) => void st.push(s), cwd: dir })).toBe(0);
    expect(st.join('')).toContain(`slot cairn_test: confirmed ${formatLsn(await slotLsn())}, not streaming`);
    expect(st.join('')).toContain(`state file: ${formatLsn((await stateLsn())!)}`);
    expect(st.join('')).not.toContain('ahead of the state file');

    // Exactly once: nothing beyond the expected count, each id once, each (commit, position) once.
    const final = await logged();
    expect(final.length).toBe(expected);
    const ids = final.map((f) => f.entry.id);
    expect(new Set(ids).size).toBe(expected);
    // Commit order: log order is (commit LSN, position in the transaction) order.
    const keys = final.map((f) => [parseLsn(f.entry.data!.lsn as string), f.entry.data!.position as number] as const);
    for (let i = 1; i < keys.length; i++) {
      const [l0, p0] = keys[i - 1]!;
      const [l1, p1] = keys[i]!;
      expect(l1 > l0 || (l1 === l0 && p1 > p0), `entry ${i} (${ids[i]}) after ${ids[i - 1]}`).toBe(true);
    }
    expect(final.map((f) => f.entry.action)).toEqual([
      'db.insert', 'db.insert', 'db.insert', 'db.update', 'db.update', 'db.delete',
      'db.update', 'db.update', 'db.insert', 'db.update', 'db.delete', ...new Array(20).fill('db.update'), 'db.insert',
    ]);
    // Actors: the role that ran each statement (SET ROLE included).
    expect(final.slice(4, 6).map((f) => f.entry.actor.id)).toEqual(['app_writer', 'app_writer']);
    expect(final.filter((f, i) => i < 4 || i >= 6).every((f) => f.entry.actor.id === 'postgres')).toBe(true);
    // Each row's history is continuous (before = previous after) and ends at the row as it is now.
    const rows = new Map((await db.query('SELECT id, name, qty, tags, price::text AS price FROM items')).rows.map((r) => [String(r.id), r]));
    const byRow = new Map<string, AuditEntry[]>();
    for (const f of final) byRow.set(f.entry.resource.id, [...(byRow.get(f.entry.resource.id) ?? []), f.entry]);
    for (const [id, versions] of byRow) {
      for (let i = 1; i < versions.length; i++) expect(versions[i]!.data!.before, `row ${id} version ${i}`).toEqual(versions[i - 1]!.data!.after);
      const lastV = versions[versions.length - 1]!;
      const row = rows.get(id);
      if (row === undefined) {
        expect(lastV.action).toBe('db.delete');
      } else {
        expect(lastV.data!.after).toEqual({ id: Number(id), name: row.name, qty: row.qty, tags: row.tags, price: row.price } as JsonObject);
      }
    }

    // cairn history: the row's versions, verified, with field-level diffs.
    const hist: string[] = [];
    const code = await run(['history', 'public.items', '1', '--peer', http.url, '--trust', 'trust.json'], { stdout: (s) => void hist.push(s), stderr: (s) => void hist.push(s), cwd: dir });
    const text = hist.join('');
    expect(code, text).toBe(0);
    expect(text).toContain('verified: 23 version(s) of public.items/1');
    expect(text).toMatch(/postgres\s+db\.insert\s+success/);
    expect(text).toContain('add     (whole state) -> {"id":1,"name":"apple","price":"1.50","qty":5,"tags":{"color":"red"}}');
    expect(text).toContain('replace /qty  5 -> 7');
    expect(text).toContain('replace /qty  7 -> 8');
    expect(text).toContain('replace /qty  118 -> 119');
    expect(text).not.toContain('data.before differs');
    const hist2: string[] = [];
    expect(await run(['history', 'public.items', '2', '--peer', http.url, '--trust', 'trust.json'], { stdout: (s) => void hist2.push(s), stderr: (s) => void hist2.push(s), cwd: dir })).toBe(0);
    expect(hist2.join('')).toMatch(/app_writer\s+db\.update/);
    expect(hist2.join('')).toContain('replace /name  "pear" -> "green pear"');
  }, 240_000);

  it('refuses to start when the slot is ahead of its state file (a gap), unless told to accept it', async () => {
    for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
    // As if the slot had been consumed by something else since this capture's last position.
    const real = await readFile(join(dir, 'cdc.state'), 'utf8');
    await writeFile(join(dir, 'cdc.state'), real.replace(/"lsn":"[0-9A-F]+\/[0-9A-F]+"/, '"lsn":"0/10"'));
    const err: string[] = [];
    const code = await run(['cdc', 'run', '--config', 'cdc.json'], { stdout: () => undefined, stderr: (s) => void err.push(s), cwd: dir });
    expect(code).toBe(1);
    expect(err.join('')).toMatch(/replication slot cairn_test is at [0-9A-F]+\/[0-9A-F]+, past this capture's position 0\/10/);
    expect(err.join('')).toContain('--accept-gap');
    // Nothing was logged by the refused start.
    expect((await logged()).length).toBe(32);
    // Setup again keeps what exists.
    const again: string[] = [];
    expect(await run(['cdc', 'setup', '--config', 'cdc.json'], { stdout: (s) => void again.push(s), stderr: (s) => void again.push(s), cwd: dir })).toBe(0);
    expect(again.join('')).toContain('replication slot cairn_test already exists');
    expect(again.join('')).toContain('publication cairn_test already holds every table');
  }, 60_000);
});

// `cairn search` and `cairn history` as real processes against a real peer's HTTP API
// (127.0.0.1): they print verified results; `--follow` prints an entry submitted after it started,
// and SIGINT ends it cleanly (exit 0, summary printed).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTrustFile } from '../../src/verifier/index.js';
import { run } from '../../node/cli/run.js';
import { startHttpServer, type HttpServer } from '../../node/http/server.js';
import { makeCluster, type Cluster } from '../peer-support/cluster.js';
import { entryOf, submitFinal, testGate, trustOf } from './search-support.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
let c: Cluster;
let http: HttpServer;
let gated: HttpServer;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  c = await makeCluster(1, { label: 'searchcli' });
  const peer = await c.start(0);
  http = await startHttpServer(peer, { host: '127.0.0.1', port: 0 });
  gated = await startHttpServer(peer, { host: '127.0.0.1', port: 0, gate: testGate([], { recordFails: false }) });
  dir = await mkdtemp(join(tmpdir(), 'cairn-search-cli-'));
  await writeFile(join(dir, 'trust.json'), formatTrustFile(trustOf(c.genesis)));
  const [a, b] = c.clients;
  await submitFinal(http.url, [
    entryOf(a!, { actor: 'alice', action: 'db.update', type: 'table', id: 'payments', tenant: 'acme', data: { before: { rows: 1 }, after: { rows: 2 } } }),
    entryOf(b!, { actor: 'bob', action: 'db.query', type: 'table', id: 'orders', tenant: 'globex' }),
    entryOf(a!, { actor: 'alice', action: 'db.update', type: 'table', id: 'payments', tenant: 'acme', data: { before: { rows: 2 }, after: { rows: 5, owner: 'ops' } } }),
  ]);
}, 120_000);

afterAll(async () => {
  for (const ch of children) if (ch.exitCode === null) ch.kill('SIGKILL');
  await http?.close();
  await gated?.close();
  await c?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

function cairn(args: string[]): Proc {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(REPO, 'node/cli/main.ts'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function until(what: string, cond: () => boolean, ms: number, p: Proc): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nstdout:\n${p.out()}\nstderr:\n${p.err()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function finished(p: Proc, ms: number): Promise<number | null> {
  const t = setTimeout(() => p.child.kill('SIGKILL'), ms);
  try {
    return await p.exit;
  } finally {
    clearTimeout(t);
  }
}

describe('cairn search / cairn history processes', () => {
  it('cairn search prints verified results and says so', async () => {
    const p = cairn(['search', '--peer', http.url, '--trust', 'trust.json', '--actor', 'alice', '--order', 'oldest']);
    expect(await finished(p, 60_000), p.err()).toBe(0);
    const rows = p.out().split('\n').filter((l) => /^\s+\d+\s/.test(l));
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r).toMatch(/alice\s+db\.update\s+table\/payments\s+success/);
    expect(p.out()).toMatch(/verified: 2 result\(s\) against the final checkpoint of tree size 3/);
  }, 90_000);

  it('cairn history prints each verified version with its changes', async () => {
    const p = cairn(['history', 'table', 'payments', '--peer', http.url, '--trust', 'trust.json']);
    expect(await finished(p, 60_000), p.err()).toBe(0);
    expect(p.out()).toMatch(/#0 .* alice {2}db\.update {2}success\n {4}replace \/rows {2}1 -> 2\n/);
    expect(p.out()).toMatch(/#2 .*\n {4}add {5}\/owner -> "ops"\n {4}replace \/rows {2}2 -> 5\n/);
    expect(p.out()).toContain('verified: 2 version(s) of table/payments');
  }, 90_000);

  it('with a restricted peer: --token gets the scoped results, no credential is one line, exit 1', async () => {
    const p = cairn(['search', '--peer', gated.url, '--trust', 'trust.json', '--action', 'db.*', '--json', '--token', 'acme']);
    expect(await finished(p, 60_000), p.err()).toBe(0);
    const tenants = p.out().trim().split('\n').map((l) => (JSON.parse(l) as { entry: { tenant: string } }).entry.tenant);
    expect(tenants).toEqual(['acme', 'acme']);
    const anon = cairn(['history', 'table', 'orders', '--peer', gated.url, '--trust', 'trust.json']);
    expect(await finished(anon, 60_000)).toBe(1);
    expect(anon.err()).toMatch(/^cairn: unauthenticated: .*give --token, --token-file or --auth-key\)\n$/);
  }, 90_000);

  it('cairn search --follow prints an entry submitted after it started; SIGINT stops it cleanly', async () => {
    const p = cairn(['search', '--peer', http.url, '--trust', 'trust.json', '--actor', 'zed', '--json', '--follow', '--follow-for', '90s']);
    await until('the follow banner', () => p.err().includes('following new matches'), 60_000, p);
    expect(p.out()).toBe('');
    const late = entryOf(c.clients[1]!, { actor: 'zed', action: 'user.login', type: 'user', id: 'zed', tenant: 'globex' });
    const [index] = await submitFinal(http.url, [late]);
    await until('the new entry printed', () => p.out().includes(late.id), 30_000, p);
    const line = JSON.parse(p.out().trim().split('\n')[0]!) as { index: number; entry: { id: string } };
    expect(line).toMatchObject({ index, entry: { id: late.id } });
    const t = Date.now();
    p.child.kill('SIGINT');
    expect(await finished(p, 20_000), p.err()).toBe(0);
    expect(Date.now() - t).toBeLessThan(5_000);
    expect(p.err()).toContain('stopped following: 1 new result(s)');
  }, 150_000);

  it('cairn history --follow (in process) prints a new version with its changes, continuing the diff, until --follow-for ends', async () => {
    let out = '';
    let err = '';
    const io = { stdout: (x: string) => void (out += x), stderr: (x: string) => void (err += x), cwd: dir };
    const done = run(['history', 'table', 'payments', '--peer', http.url, '--trust', 'trust.json', '--follow', '--follow-for', '15s'], io);
    const end = Date.now() + 30_000;
    while (!out.includes('following new versions')) {
      if (Date.now() > end) throw new Error(`no follow banner:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const next = entryOf(c.clients[0]!, { actor: 'alice', action: 'db.update', type: 'table', id: 'payments', tenant: 'acme', data: { before: { rows: 5, owner: 'ops' }, after: { rows: 6, owner: 'ops' } } });
    const [index] = await submitFinal(http.url, [next]);
    expect(await done, err).toBe(0);
    const tail = out.slice(out.indexOf('following new versions'));
    expect(tail).toMatch(new RegExp(`#${index} .* alice {2}db\\.update {2}success\n {4}replace /rows {2}5 -> 6\n`));
    expect(tail).not.toContain('data.before differs');
    expect(tail).toContain('stopped following: 1 new version(s)');
  }, 60_000);
});

// kill -9 of a peer process (node/peer/main.ts with CAIRN_ALERTS) while it is delivering an alert:
// a real webhook receiver on 127.0.0.1 holds one delivery unanswered, the peer's whole process
// group is SIGKILLed, and the peer is restarted on the same data directory. After the restart every
// final entry has its alert at the receiver, and the only repeat is the delivery that was in flight,
// under the same id (the receivers' idempotency key).
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';
import { getJson, postEntries, spawnPeerProc, stopAllPeerProcs, writeHttpPeerFiles, type PeerProc } from './support/peer-procs.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await stopAllPeerProcs();
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Got {
  id: string;
  index: number;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number, p?: PeerProc): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${p ? `\n${p.lines.slice(-20).join('\n')}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('alerts in a peer process and kill -9', () => {
  it('after kill -9 during a delivery and a restart, every alert arrives; the only repeat is the one in flight', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-alerts-crash-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const orgs = await makeOrgs(1, 'acrash');
    const clients = makeClients(2, 'acrash-client');
    const genesis = makeGenesis(orgs, clients, { limits: { timeouts: { proposeMs: 1500, prevoteMs: 500, precommitMs: 500, deltaMs: 250 }, blockIntervalMs: 50 } });
    const { config, url } = await writeHttpPeerFiles(dir, genesis, orgs[0]!);

    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const key = Buffer.from(secret.slice(6), 'base64');
    const got: Got[] = [];
    let bad = 0;
    let held: string | null = null;
    let holdNext = false;
    const server: Server = createServer((req, res) => {
      const ch: Buffer[] = [];
      req.on('data', (c: Buffer) => ch.push(c));
      req.on('end', () => {
        const body = Buffer.concat(ch).toString('utf8');
        const id = String(req.headers['webhook-id']);
        const sig = createHmac('sha256', key).update(`${id}.${String(req.headers['webhook-timestamp'])}.${body}`).digest('base64');
        if (!String(req.headers['webhook-signature']).split(' ').includes(`v1,${sig}`)) {
          bad++;
          res.statusCode = 400;
          return res.end();
        }
        const alert = (JSON.parse(body) as { data: { id: string; entries: { index: number }[] } }).data;
        got.push({ id: alert.id, index: alert.entries[0]!.index });
        if (holdNext && held === null) {
          // Received, never answered: the peer is killed while this delivery is in flight.
          held = alert.id;
          return;
        }
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
    const hook = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    await writeFile(join(dir, 'whsec.txt'), secret);
    await writeFile(
      join(dir, 'rules.yaml'),
      `version: 1
destinations:
  soc: { type: webhook, url: "${hook}", secretFile: whsec.txt }
rules:
  - { id: every-query, version: 1, title: "query by {{entry.actor.id}}", severity: info, destinations: [soc], condition: 'entry.action == "db.query"' }
`,
    );
    const env = { CAIRN_ALERTS: join(dir, 'rules.yaml'), CAIRN_STATUS_INTERVAL_MS: '0' };
    const finalSize = async (p: PeerProc) => {
      try {
        return (await getJson<{ finalSize: number }>(p.url, '/v1/status')).finalSize;
      } catch {
        return -1;
      }
    };

    let p = spawnPeerProc('p0', dir, url, 'node/peer/main.ts', ['--config', config], env);
    await until('peer up', async () => (await finalSize(p)) >= 0, 60_000, p);
    expect((await postEntries(url, makeEntries(clients, 40, 'one'))).status).toBeLessThan(300);
    await until('40 final', async () => (await finalSize(p)) >= 40, 60_000, p);
    await until('some alerts delivered', () => got.length >= 5, 30_000, p);
    holdNext = true;
    await until('a delivery held', () => held !== null, 30_000, p);
    p.kill('SIGKILL');
    await p.exited;
    const before = got.length;
    expect(before).toBeLessThan(40);

    p = spawnPeerProc('p0b', dir, url, 'node/peer/main.ts', ['--config', config], env);
    await until('peer back', async () => (await finalSize(p)) >= 40, 60_000, p);
    expect((await postEntries(url, makeEntries(clients, 20, 'two'))).status).toBeLessThan(300);
    await until('60 final', async () => (await finalSize(p)) >= 60, 60_000, p);
    await until('every alert delivered', () => new Set(got.map((g) => g.id)).size >= 60, 60_000, p);
    await new Promise((r) => setTimeout(r, 500));
    expect(bad).toBe(0);
    const ids = got.map((g) => g.id);
    expect(new Set(ids).size).toBe(60);
    expect([...new Set(got.map((g) => g.index))].sort((a, b) => a - b)).toEqual([...Array(60).keys()]);
    const repeats = ids.filter((x, i) => ids.indexOf(x) !== i);
    expect(repeats).toEqual([held]);
  }, 200_000);

  it('a peer whose CAIRN_ALERTS rules file does not load refuses to start, naming the line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-alerts-bad-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const orgs = await makeOrgs(1, 'abad');
    const genesis = makeGenesis(orgs, makeClients(1, 'abad-client'));
    const { config, url } = await writeHttpPeerFiles(dir, genesis, orgs[0]!);
    await writeFile(join(dir, 'rules.yaml'), 'version: 1\nrules:\n  - { id: x, version: 1, title: t, severity: high, destinations: [], condition: "entry.action ==" }\n');
    const p = spawnPeerProc('bad', dir, url, 'node/peer/main.ts', ['--config', config], { CAIRN_ALERTS: join(dir, 'rules.yaml'), CAIRN_STATUS_INTERVAL_MS: '0' });
    const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
    expect(code).toBe(1);
    expect(p.lines.join('\n')).toMatch(/cairn: failed to start: .*rules\.yaml:3:\d+: rule x: rules\[0\]\.condition/);
  }, 90_000);
});

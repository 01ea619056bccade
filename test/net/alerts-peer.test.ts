// Alerts running inside a real peer (real libp2p and LevelDB on 127.0.0.1): every final entry is
// evaluated, the alerts reach a real HTTP receiver that checks the Standard Webhooks HMAC, and a
// restart of the peer neither repeats nor loses an alert (compared with a replay of the same
// rules over the final log).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { fromUtf8 } from '../../src/encoding/bytes.js';
import { leafHash } from '../../src/merkle/index.js';
import { parseRulesText } from '../../node/alerts/rules-file.js';
import { alertsOf, attachAlerts } from '../../node/alerts/peer-alerts.js';
import type { Peer } from '../../node/peer/peer.js';
import { makeCluster, makeEntries, waitFor, clusterProgress, type Cluster } from '../peer-support/cluster.js';

let cluster: Cluster | null = null;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.close();
  cluster = null;
});

const RULES = `
version: 1
destinations:
  soc: { type: webhook, url: URL, secretFile: whsec.txt }
rules:
  - id: watched-users
    version: 1
    title: "{{entry.actor.id}} touched {{entry.resource.id}}"
    severity: medium
    destinations: [soc]
    condition: 'entry.actor.id in ["user-1", "user-2"]'
  - id: burst
    version: 1
    title: "{{count}} queries by {{group.actor.id}}"
    severity: high
    destinations: [soc]
    condition: 'entry.action == "db.query"'
    correlation: { type: event_count, groupBy: [actor.id], window: 1h, count: 2 }
`;

async function webhookReceiver(secret: string): Promise<{ url: string; ids: string[]; bad: number }> {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const st = { url: '', ids: [] as string[], bad: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id']);
      const signed = `${id}.${String(req.headers['webhook-timestamp'])}.${body}`;
      const want = createHmac('sha256', key).update(signed).digest();
      const ok = String(req.headers['webhook-signature'])
        .split(' ')
        .some((s) => s.startsWith('v1,') && Buffer.from(s.slice(3), 'base64').length === want.length && timingSafeEqual(Buffer.from(s.slice(3), 'base64'), want));
      const data = (JSON.parse(body) as { data: { id: string } }).data;
      if (!ok || data.id !== id) {
        st.bad++;
        res.statusCode = 400;
      } else st.ids.push(id);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  st.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  return st;
}

/** What a replay of the rules over the peer's final entries gives (the reference). */
async function expectedIds(peer: Peer, rulesText: string): Promise<string[]> {
  const rules = (await parseRulesText(rulesText, 'rules.yaml', { baseDir: '.', destinations: false })).rules;
  const engine = new AlertEngine(rules);
  const fin = peer.status().finalSize;
  const leaves = await peer.internals.store.getLeaves(0, fin);
  const ids: string[] = [];
  leaves.forEach((l, i) => {
    for (const a of engine.evaluate({ index: i, leafHash: leafHash(l), entry: JSON.parse(fromUtf8(l)) as AuditEntry })) ids.push(a.id);
  });
  return ids.sort();
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('alerts in a running peer', () => {
  it('evaluates every final entry once and delivers each alert once across a restart', async () => {
    const c = (cluster = await makeCluster(1, { label: 'alerts' }));
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const rx = await webhookReceiver(secret);
    const dir = c.dirs[0]!;
    await writeFile(join(dir, 'whsec.txt'), secret);
    const rulesFile = join(dir, 'rules.yaml');
    await writeFile(rulesFile, RULES.replace('URL', rx.url));
    const fast = { outbox: { tickMs: 20, backoffBaseMs: 50, backoffMaxMs: 200 } };

    let peer = await c.start(0);
    // No saved position: with a snapshot every 7 entries, the restart below resumes mid-way.
    const a1 = await attachAlerts(peer, { rulesFile, snapshotEvery: 7, ...fast });
    expect(alertsOf(peer)).toBe(a1);
    const first = makeEntries(c.clients, 30, 'a');
    await peer.submit(first);
    await waitFor(c, '30 final', () => peer.status().finalSize >= 30, () => clusterProgress(c));
    await a1.caughtUp();
    let want = await expectedIds(peer, RULES);
    expect(want.length).toBeGreaterThan(5);
    await until(`${want.length} alerts at the receiver`, () => rx.ids.length >= want.length, 20_000);
    expect(a1.stats().nextIndex).toBe(peer.status().finalSize);

    await c.stop(0);
    peer = await c.start(0);
    const a2 = await attachAlerts(peer, { rulesFile, snapshotEvery: 7, ...fast });
    await peer.submit(makeEntries(c.clients, 30, 'b'));
    await waitFor(c, '60 final', () => peer.status().finalSize >= 60, () => clusterProgress(c));
    await a2.caughtUp();
    want = await expectedIds(peer, RULES);
    await until(`${want.length} alerts at the receiver`, () => rx.ids.length >= want.length, 20_000);
    // Settle: anything repeated would arrive now.
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.bad).toBe(0);
    expect([...rx.ids].sort()).toEqual(want);
    expect(a2.stats().outbox.queued).toBe(0);
  }, 120_000);

  it('a rules file that does not load refuses to start alerts, naming the line; a bad reload keeps the rules', async () => {
    const c = (cluster = await makeCluster(1, { label: 'alertsbad' }));
    const dir = c.dirs[0]!;
    const rulesFile = join(dir, 'rules.yaml');
    await writeFile(rulesFile, 'version: 1\nrules:\n  - { id: x, version: 1, title: t, severity: high, destinations: [], condition: "entry.action ==" }\n');
    const peer = await c.start(0);
    await expect(attachAlerts(peer, { rulesFile })).rejects.toThrow(/rules\.yaml:3:\d+: rule x/);
    await writeFile(rulesFile, 'version: 1\nrules:\n  - { id: x, version: 1, title: t, severity: high, destinations: [], condition: "entry.action == \\"a\\"" }\n');
    const a = await attachAlerts(peer, { rulesFile });
    await writeFile(rulesFile, 'version: 1\nrules: [ {');
    const r = await a.reload();
    expect(r.ok).toBe(false);
    expect(a.stats().rules).toBe(1);
    expect(a.stats().reloads).toEqual({ ok: 0, failed: 1 });
  }, 60_000);
});

// Alerts delivered to a real rsyslog (Debian's rsyslog with its gnutls driver) over TLS on
// 127.0.0.1, RFC 5424 messages in octet-counting frames (RFC 5425). test/net/helpers/rsyslog.ts
// starts rsyslogd in the foreground with its own configuration, work directory and self-signed
// certificate; rsyslog parses each message with its RFC 5424 parser and writes the parsed fields
// to a file. rsyslogd missing is a failure, not a skip (.ci/run installs it).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { Alert } from '../../src/alerts/types.js';
import { parseRulesText } from '../../node/alerts/rules-file.js';
import type { Destination } from '../../node/alerts/destinations-config.js';
import { DEFAULT_SENDERS, Outbox } from '../../node/alerts/index.js';
import { log } from '../unit/support/alert-entries.js';
import { rsyslog, rsyslogCleanups, rsyslogLines } from './helpers/rsyslog.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const c of rsyslogCleanups.splice(0).reverse()) await c();
});

async function alerts(n: number): Promise<Alert[]> {
  const text = `
destinations: { siem: { type: syslog, host: 127.0.0.1 } }
rules:
  - { id: privilege-change, version: 1, title: 'Grant by {{entry.actor.id}}', severity: high, destinations: [siem], condition: 'entry.action == "iam.role.grant"' }
`;
  const engine = new AlertEngine((await parseRulesText(text, 'rules.yaml', { baseDir: '.', destinations: false })).rules);
  return log(Array.from({ length: n }, (_, i) => ({ time: `2024-05-02T10:00:0${i}Z`, action: 'iam.role.grant', actor: `admin${i}` }))).flatMap((e) => engine.evaluate(e));
}

describe('syslog over TLS to a real rsyslog', () => {
  it('delivers each alert as one RFC 5424 message, also when rsyslog comes up only after the first attempts', async () => {
    const rs = await rsyslog();
    const dest: Destination = { type: 'syslog', name: 'siem', host: '127.0.0.1', port: rs.port, ca: rs.ca };
    const dbDir = await mkdtemp(join(tmpdir(), 'cairn-outbox-'));
    cleanups.push(() => rm(dbDir, { recursive: true, force: true }));
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dbDir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    cleanups.push(() => db.close());
    const outbox = await Outbox.open(db, { destinations: new Map([['siem', dest]]), senders: DEFAULT_SENDERS, backoffBaseMs: 100, backoffMaxMs: 400, tickMs: 20 });
    cleanups.push(() => outbox.stop());
    const as = await alerts(5);
    await outbox.enqueue(as);
    outbox.start();
    // rsyslog is not running yet: attempts fail and are retried.
    const end = Date.now() + 10_000;
    while (outbox.stats.attemptsFailed < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(outbox.stats.attemptsFailed).toBeGreaterThanOrEqual(2);
    expect(outbox.stats.delivered).toBe(0);
    await rs.start();
    const end2 = Date.now() + 20_000;
    while ((outbox.stats.delivered < 5 || (await rsyslogLines(rs.out)).length < 5) && Date.now() < end2) await new Promise((r) => setTimeout(r, 50));
    const got = await rsyslogLines(rs.out);
    expect(got.length).toBe(5);
    const seen = got.map((l) => {
      const [version, facility, severity, app, msgid, sd, ...msg] = l.split('|');
      expect([version, facility, severity, app, msgid]).toEqual(['1', '13', '3', 'cairn', 'alert']);
      const id = /^\[alert@32473 id="([0-9a-f]{64})" rule="privilege-change" version="1" severity="high" entries="\d+:[0-9a-f]{64}"\]$/.exec(sd!)?.[1];
      expect(id, sd).toBeDefined();
      // The message after the title is the alert itself, as JSON.
      const text = msg.join('|').replace(/^\uFEFF/, '');
      const alert = JSON.parse(text.slice(text.indexOf('{'))) as Alert;
      expect(alert.id).toBe(id);
      expect(text.startsWith(`${alert.title} `)).toBe(true);
      return id!;
    });
    expect(seen.sort()).toEqual(as.map((a) => a.id).sort());
  });
});

// Alerts delivered to a real rsyslog (Debian's rsyslog with its gnutls driver) over TLS on
// 127.0.0.1, RFC 5424 messages in octet-counting frames (RFC 5425). The test starts rsyslogd in the
// foreground with its own configuration, pid file and work directory, and a self-signed
// certificate made here; rsyslog parses each message with its RFC 5424 parser and writes the parsed
// fields to a file. rsyslogd missing is a failure, not a skip (.ci/run installs it).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
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

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function rsyslogdPath(): string {
  for (const p of ['/usr/sbin/rsyslogd', '/sbin/rsyslogd']) {
    try {
      execFileSync(p, ['-v'], { stdio: 'ignore' });
      return p;
    } catch {
      /* next */
    }
  }
  throw new Error('rsyslogd not found: install Debian packages rsyslog and rsyslog-gnutls (.ci/run does)');
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function listening(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = tcpConnect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), r(true)));
      c.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`rsyslogd did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Rsyslog {
  port: number;
  ca: string;
  out: string;
  start(): Promise<void>;
}

/** Prepares a work dir, certificate and configuration; start() launches rsyslogd -n. */
async function rsyslog(): Promise<Rsyslog> {
  const bin = rsyslogdPath();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-rsyslog-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const port = await freePort();
  const out = join(dir, 'received.log');
  const conf = join(dir, 'rsyslog.conf');
  // The template writes rsyslog's own RFC 5424 parse of each message, one per line.
  await writeFile(conf, [
    `global(workDirectory="${dir}" defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="${cert}" defaultNetstreamDriverCertFile="${cert}" defaultNetstreamDriverKeyFile="${key}")`,
    'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")',
    `input(type="imtcp" port="${port}" address="127.0.0.1")`,
    'template(name="parsed" type="string" string="%protocol-version%|%syslogfacility%|%syslogseverity%|%app-name%|%msgid%|%structured-data%|%msg%\\n")',
    `action(type="omfile" file="${out}" template="parsed")`,
    '',
  ].join('\n'));
  const ca = await readFile(cert, 'utf8');
  let child: ChildProcess | undefined;
  cleanups.push(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
  return {
    port,
    ca,
    out,
    async start() {
      let stderr = '';
      child = spawn(bin, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout!.on('data', (c: Buffer) => (stderr += c.toString()));
      try {
        await listening(port, 10_000);
      } catch (e) {
        throw new Error(`${(e as Error).message}: ${stderr}`);
      }
    },
  };
}

async function alerts(n: number): Promise<Alert[]> {
  const text = `
destinations: { siem: { type: syslog, host: 127.0.0.1 } }
rules:
  - { id: privilege-change, version: 1, title: 'Grant by {{entry.actor.id}}', severity: high, destinations: [siem], condition: 'entry.action == "iam.role.grant"' }
`;
  const engine = new AlertEngine((await parseRulesText(text, 'rules.yaml', { baseDir: '.', destinations: false })).rules);
  return log(Array.from({ length: n }, (_, i) => ({ time: `2024-05-02T10:00:0${i}Z`, action: 'iam.role.grant', actor: `admin${i}` }))).flatMap((e) => engine.evaluate(e));
}

async function lines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}

describe('syslog over TLS to a real rsyslog', () => {
  it('delivers each alert as one RFC 5424 message, also when rsyslog comes up only after the first attempts', async () => {
    const rs = await rsyslog();
    const dest: Destination = { type: 'syslog', name: 'siem', host: '127.0.0.1', port: rs.port, ca: rs.ca };
    const db = new ClassicLevel<Uint8Array, Uint8Array>(await mkdtemp(join(tmpdir(), 'cairn-outbox-')), { keyEncoding: 'view', valueEncoding: 'view' });
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
    while ((outbox.stats.delivered < 5 || (await lines(rs.out)).length < 5) && Date.now() < end2) await new Promise((r) => setTimeout(r, 50));
    const got = await lines(rs.out);
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

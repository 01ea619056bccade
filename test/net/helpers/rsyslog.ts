// A real rsyslog (Debian's rsyslog with its gnutls driver) for tests: started in the foreground on
// 127.0.0.1 with its own configuration, pid file, work directory and a self-signed certificate;
// it parses each message with its RFC 5424 parser and writes the parsed fields, one line each, to
// a file. rsyslogd missing is a failure, not a skip (.ci/run installs it).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../peer-support/fixtures.js';

/** Cleanups the caller runs after each test (in reverse order). */
export const rsyslogCleanups: (() => Promise<unknown>)[] = [];
const cleanups = rsyslogCleanups;

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

export interface Rsyslog {
  port: number;
  ca: string;
  out: string;
  start(): Promise<void>;
}

/** Prepares a work dir, certificate and configuration; start() launches rsyslogd -n. */
export async function rsyslog(): Promise<Rsyslog> {
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

/** The lines rsyslog wrote so far: `version|facility|severity|app|msgid|structured-data|msg`. */
export async function rsyslogLines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}

// A throwaway PostgreSQL server for tests: Debian's `postgresql` package (installed by .ci/run),
// initdb in a temp dir, started on a free loopback port with wal_level=logical and its Unix
// socket in the temp dir, stopped (and the dir removed) by stop(). PostgreSQL refuses to run as
// root, so as root the server runs as the `postgres` system user (which the package creates),
// in a temp dir it owns.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../peer-support/fixtures.js';

const exec = promisify(execFile);

export interface TestPostgres {
  dir: string;
  host: string;
  port: number;
  /** The superuser the cluster was created with. */
  user: string;
  connect(database?: string, user?: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

/** The newest installed server's bin directory (Debian: /usr/lib/postgresql/<major>/bin). */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'initdb'))) : [];
  if (majors.length === 0) throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian's `postgresql` package (.ci/run does)");
  majors.sort((a, b) => Number(b) - Number(a));
  return join(root, majors[0]!, 'bin');
}

function systemUser(name: string): { uid: number; gid: number } | null {
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) return null;
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export async function startPostgres(label: string): Promise<TestPostgres> {
  const bin = binDir();
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? systemUser('postgres') : null;
  if (asRoot && owner === null) throw new Error('running as root and there is no `postgres` system user to run the server as');
  const dir = await mkdtemp(join(tmpdir(), `cairn-${label}-pg-`));
  if (owner !== null) await chown(dir, owner.uid, owner.gid);
  await chmod(dir, 0o700);
  const run = (cmd: string, args: string[]) => (asRoot ? exec('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { cwd: dir }) : exec(join(bin, cmd), args, { cwd: dir }));
  const data = join(dir, 'data');
  const user = 'postgres';
  await run('initdb', ['-D', data, '-U', user, '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  await appendFile(
    join(data, 'postgresql.conf'),
    [
      "listen_addresses = '127.0.0.1'",
      `port = ${port}`,
      `unix_socket_directories = '${dir}'`,
      'wal_level = logical',
      'max_wal_senders = 4',
      'max_replication_slots = 4',
      // The test crashes the capture, never the server: skip the server's own durability work.
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      "log_min_messages = 'warning'",
      '',
    ].join('\n'),
  );
  if (owner !== null) await chown(join(data, 'postgresql.conf'), owner.uid, owner.gid);
  await run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  const host = '127.0.0.1';
  return {
    dir,
    host,
    port,
    user,
    async connect(database = 'postgres', as = user) {
      const c = new pg.Client({ host, port, database, user: as });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    },
    async stop() {
      await run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

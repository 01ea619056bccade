// PostgreSQL connections of the capture, through node-postgres (`pg`): ordinary SQL for setup and
// checks, and a replication connection (`replication=database`) that streams a logical slot.
//
// node-postgres has no public API for the streaming part of the replication protocol, but its
// connection object emits each CopyData message as 'copyData' and can send one with
// sendCopyFromChunk, and its socket can be paused: this module is the one place that touches
// those internals, so a change in `pg` breaks here and nowhere else.
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import type { CdcConfig } from './config.js';
import { formatLsn, parseLsn, type Lsn } from './pgoutput.js';

export type SqlClient = pg.Client;

export async function pgPassword(cfg: CdcConfig['postgres']): Promise<string | undefined> {
  if (cfg.passwordFile === undefined) return undefined;
  const text = await readFile(cfg.passwordFile, 'utf8');
  if (text.length > 4096) throw new Error(`postgres.passwordFile ${cfg.passwordFile} is larger than 4096 bytes`);
  return text.replace(/\r?\n$/, '');
}

function clientConfig(cfg: CdcConfig['postgres'], password: string | undefined): pg.ClientConfig {
  return {
    host: cfg.host,
    port: cfg.port,
    database: cfg.database,
    user: cfg.user,
    ...(password !== undefined ? { password } : {}),
    connectionTimeoutMillis: 10_000,
    application_name: 'cairn-cdc',
  };
}

export async function sqlConnect(cfg: CdcConfig['postgres'], password: string | undefined): Promise<SqlClient> {
  const c = new pg.Client(clientConfig(cfg, password));
  // An error after connect (server gone) surfaces on the next query; do not crash the process.
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** A replication connection streaming one logical slot. */
export interface ReplicationStream {
  systemId: string;
  /** Starts streaming; `onData` gets each CopyData payload, `onEnd` the reason the stream stopped. */
  start(slot: string, publication: string, from: Lsn, onData: (chunk: Uint8Array) => void, onEnd: (err: Error | null) => void): void;
  send(bytes: Uint8Array): void;
  /** Stop / resume reading from the socket (backpressure: the server then waits on TCP). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

interface PgConnectionInternals {
  on(event: 'copyData', fn: (msg: { chunk: Uint8Array }) => void): void;
  sendCopyFromChunk(chunk: Uint8Array): void;
  stream: { pause(): void; resume(): void };
}

export async function replicationConnect(cfg: CdcConfig['postgres'], password: string | undefined): Promise<ReplicationStream> {
  const client = new pg.Client({ ...clientConfig(cfg, password), replication: 'database' } as pg.ClientConfig);
  let ended: ((err: Error | null) => void) | null = null;
  let closing = false;
  client.on('error', (e) => ended?.(e));
  client.on('end', () => ended?.(closing ? null : new Error('the replication connection closed')));
  await client.connect();
  const conn = (client as unknown as { connection: PgConnectionInternals }).connection;
  if (typeof conn?.sendCopyFromChunk !== 'function' || typeof conn.stream?.pause !== 'function') {
    await client.end();
    throw new Error('this version of pg does not expose the replication stream (connection.sendCopyFromChunk)');
  }
  const ident = await client.query('IDENTIFY_SYSTEM');
  const systemId = String(ident.rows[0]?.systemid ?? '');
  return {
    systemId,
    start(slot, publication, from, onData, onEnd) {
      ended = (err) => {
        ended = null;
        onEnd(err);
      };
      conn.on('copyData', (msg) => onData(msg.chunk));
      // Names are validated by the config parser (lowercase identifiers), so they need no quoting.
      const sql = `START_REPLICATION SLOT ${slot} LOGICAL ${formatLsn(from)} (proto_version '1', publication_names '${publication}', messages 'true')`;
      // The query only settles when streaming ends (error, or the connection closing).
      client.query(sql).then(
        () => ended?.(closing ? null : new Error('replication stream ended')),
        (e: Error) => ended?.(closing ? null : e),
      );
    },
    send(bytes) {
      // pg's serializer copies with Buffer methods.
      conn.sendCopyFromChunk(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
    pause() {
      conn.stream.pause();
    },
    resume() {
      conn.stream.resume();
    },
    async close() {
      closing = true;
      conn.stream.resume();
      await client.end().catch(() => undefined);
    },
  };
}

export interface SlotInfo {
  plugin: string;
  database: string;
  confirmedFlush: Lsn | null;
  active: boolean;
}

export async function slotInfo(c: SqlClient, slot: string): Promise<SlotInfo | null> {
  const r = await c.query('SELECT plugin, database, confirmed_flush_lsn::text AS lsn, active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  const row = r.rows[0] as { plugin: string; database: string; lsn: string | null; active: boolean } | undefined;
  if (row === undefined) return null;
  return { plugin: row.plugin, database: row.database, confirmedFlush: row.lsn === null ? null : parseLsn(row.lsn), active: row.active };
}

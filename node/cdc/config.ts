// The `cairn cdc` config file (JSON). Paths in it are relative to the file. Every field is
// checked here, before any connection is made, so a mistake is a usage error naming the field.
//
// {
//   "postgres": { "host": "127.0.0.1", "port": 5432, "database": "app", "user": "cairn_cdc", "passwordFile": "pg.password" },
//   "slot": "cairn_app", "publication": "cairn_app",
//   "tables": [ { "name": "public.items" }, { "name": "billing.invoices", "resourceType": "invoice", "key": ["id"] } ],
//   "peer": ["http://127.0.0.1:8401", "http://127.0.0.1:8402"], "key": "keys/cdc.pem", "stateFile": "cdc.state",
//   "batchEntries": 500, "batchBytes": 1048576, "bufferEntries": 10000, "bufferBytes": 16777216
// }
import { dirname, resolve } from 'node:path';

export interface CdcConfig {
  postgres: { host: string; port: number; database: string; user: string; passwordFile?: string };
  slot: string;
  publication: string;
  tables: { schema: string; table: string; resourceType?: string; key?: string[] }[];
  /** Peers' API URLs, tried in turn: the next one takes over when one cannot be reached. */
  peers: string[];
  /** Client key that signs the entries (must be an authorized client in the genesis). */
  key: string;
  /** Where the confirmed position is persisted. */
  stateFile: string;
  /** First part of every entry id (default: the slot name). */
  idPrefix: string;
  /** Entries per submission (one submission is in flight at a time). */
  batchEntries: number;
  batchBytes: number;
  /** Decoded entries waiting for Cairn; above either bound the capture stops reading from the slot. */
  bufferEntries: number;
  bufferBytes: number;
  /** How long one batch may take to become final before it is submitted again. */
  finalTimeoutMs: number;
  /** Standby status updates at least this often (the server's wal_sender_timeout is 60 s by default). */
  statusIntervalMs: number;
}

export class CdcConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CdcConfigError';
  }
}

/** Slot and publication names: what PostgreSQL allows for slots (lowercase, digits, underscore). */
const SLOT_RE = /^[a-z0-9_]{1,63}$/;
/** Unquoted SQL identifiers only: no quoting rules to get wrong when names are put into SQL. */
const IDENT_RE = /^[a-z_][a-z0-9_$]{0,62}$/;
const TOKEN_RE = /^[a-z][a-z0-9_.-]{0,63}$/;
const ID_PREFIX_RE = /^[A-Za-z0-9_~-]{1,48}$/;
export const TABLES_MAX = 256;
export const PEERS_MAX = 16;

function int(v: unknown, path: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new CdcConfigError(`${path} must be an integer in ${min}..${max}`);
  return v;
}

function str(v: unknown, path: string, re?: RegExp, dflt?: string): string {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024) throw new CdcConfigError(`${path} must be a non-empty string`);
  if (re !== undefined && !re.test(v)) throw new CdcConfigError(`${path} ${JSON.stringify(v)} must match ${re.source}`);
  return v;
}

/** `peer`: one URL or a list of 1..PEERS_MAX. */
function peerList(v: unknown): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.length > PEERS_MAX) throw new CdcConfigError(`peer must be a URL or a list of 1..${PEERS_MAX} URLs`);
  return list.map((u, i) => str(u, Array.isArray(v) ? `peer[${i}]` : 'peer', /^https?:\/\//));
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], path: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new CdcConfigError(`${path}: unknown field ${JSON.stringify(k)} (known: ${allowed.join(', ')})`);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CdcConfigError(`${path} must be an object`);
  return v as Record<string, unknown>;
}

/** Parses the config text; `file` is the config's own path (relative paths are resolved against its directory). */
export function parseCdcConfig(text: string, file: string): CdcConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CdcConfigError(`not JSON: ${(e as Error).message}`);
  }
  const o = obj(raw, 'config');
  onlyKeys(o, ['postgres', 'slot', 'publication', 'tables', 'peer', 'key', 'stateFile', 'idPrefix', 'batchEntries', 'batchBytes', 'bufferEntries', 'bufferBytes', 'finalTimeoutMs', 'statusIntervalMs'], 'config');
  const base = dirname(resolve(file));
  const pg = obj(o.postgres, 'postgres');
  onlyKeys(pg, ['host', 'port', 'database', 'user', 'passwordFile'], 'postgres');
  const postgres: CdcConfig['postgres'] = {
    host: str(pg.host, 'postgres.host', undefined, '127.0.0.1'),
    port: int(pg.port, 'postgres.port', 1, 65535, 5432),
    database: str(pg.database, 'postgres.database'),
    user: str(pg.user, 'postgres.user'),
  };
  // A host starting with "/" is a Unix socket directory; a relative one is resolved like the other paths.
  if (postgres.host.startsWith('./') || postgres.host.startsWith('../')) postgres.host = resolve(base, postgres.host);
  if (pg.passwordFile !== undefined) postgres.passwordFile = resolve(base, str(pg.passwordFile, 'postgres.passwordFile'));
  const slot = str(o.slot, 'slot', SLOT_RE);
  const publication = str(o.publication, 'publication', IDENT_RE);
  if (!Array.isArray(o.tables) || o.tables.length === 0 || o.tables.length > TABLES_MAX) throw new CdcConfigError(`tables must be a list of 1..${TABLES_MAX} tables`);
  const seen = new Set<string>();
  const tables = o.tables.map((t, i) => {
    const p = `tables[${i}]`;
    const to = obj(t, p);
    onlyKeys(to, ['name', 'resourceType', 'key'], p);
    const name = str(to.name, `${p}.name`);
    const parts = name.split('.');
    const [schema, table] = parts.length === 1 ? ['public', parts[0]!] : parts.length === 2 ? [parts[0]!, parts[1]!] : ['', ''];
    if (!IDENT_RE.test(schema) || !IDENT_RE.test(table)) throw new CdcConfigError(`${p}.name ${JSON.stringify(name)} must be [schema.]table with unquoted lowercase identifiers`);
    if (seen.has(`${schema}.${table}`)) throw new CdcConfigError(`${p}.name: ${schema}.${table} is listed twice`);
    seen.add(`${schema}.${table}`);
    const out: CdcConfig['tables'][number] = { schema, table };
    const rt = to.resourceType ?? `${schema}.${table}`;
    out.resourceType = str(rt, `${p}.resourceType`, TOKEN_RE);
    if (to.key !== undefined) {
      if (!Array.isArray(to.key) || to.key.length === 0 || to.key.length > 32) throw new CdcConfigError(`${p}.key must be a list of 1..32 column names`);
      out.key = to.key.map((k, j) => str(k, `${p}.key[${j}]`, IDENT_RE));
    }
    return out;
  });
  return {
    postgres,
    slot,
    publication,
    tables,
    peers: peerList(o.peer),
    key: resolve(base, str(o.key, 'key')),
    stateFile: resolve(base, str(o.stateFile, 'stateFile')),
    idPrefix: str(o.idPrefix, 'idPrefix', ID_PREFIX_RE, slot),
    batchEntries: int(o.batchEntries, 'batchEntries', 1, 1000, 500),
    batchBytes: int(o.batchBytes, 'batchBytes', 4096, 2 * 1024 * 1024, 1024 * 1024),
    bufferEntries: int(o.bufferEntries, 'bufferEntries', 1, 1_000_000, 10_000),
    bufferBytes: int(o.bufferBytes, 'bufferBytes', 64 * 1024, 1024 * 1024 * 1024, 16 * 1024 * 1024),
    finalTimeoutMs: int(o.finalTimeoutMs, 'finalTimeoutMs', 1000, 3_600_000, 60_000),
    statusIntervalMs: int(o.statusIntervalMs, 'statusIntervalMs', 100, 60_000, 10_000),
  };
}

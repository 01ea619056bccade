// What the capture needs in the database, created by `cairn cdc setup` and checked by every
// `cairn cdc run` before it streams:
//   - wal_level = logical;
//   - the publication, holding every configured table;
//   - the logical replication slot (plugin pgoutput) in the configured database;
//   - each table's key (its primary key, unless the config names one);
//   - REPLICA IDENTITY FULL on each table, so updates and deletes carry the whole old row
//     (data.before); with the default identity only the key columns are known before a change;
//   - the actor trigger: a statement-level trigger on each table that records, in the same
//     transaction and just before the statement's rows, which database role runs the statement
//     (a transactional logical message `cairn.actor`, see rows.ts). pgoutput itself does not
//     carry the role that made a change.
import type { CdcConfig } from './config.js';
import type { TableSpec } from './rows.js';
import { slotInfo, type SqlClient } from './pg.js';

export const ACTOR_TRIGGER = 'cairn_cdc_actor';
export const ACTOR_SCHEMA = 'cairn_cdc';

export class CdcSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CdcSetupError';
  }
}

/**
 * The trigger function. SECURITY DEFINER, so the application roles need no right to emit logical
 * messages themselves; the role it reports is read from the session (`SET ROLE` is honoured:
 * the `role` setting, else the login role), never from an argument, so a caller cannot choose it.
 * `cairn.actor` is the application's optional claim of its own end user, recorded as a claim.
 */
const ACTOR_FUNCTION = `
CREATE OR REPLACE FUNCTION ${ACTOR_SCHEMA}.note_actor() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
BEGIN
  PERFORM pg_logical_emit_message(true, 'cairn.actor', json_build_object(
    'role', CASE WHEN current_setting('role') = 'none' THEN session_user::text ELSE current_setting('role') END,
    'login', session_user::text,
    'claimed', nullif(current_setting('cairn.actor', true), ''))::text);
  RETURN NULL;
END
$fn$`;

export interface SetupReport {
  lines: string[];
  warnings: string[];
}

/** Resolves the configured tables against the catalog (key columns), or throws naming what is missing. */
export async function resolveTables(c: SqlClient, cfg: CdcConfig): Promise<TableSpec[]> {
  const out: TableSpec[] = [];
  for (const t of cfg.tables) {
    const name = `${t.schema}.${t.table}`;
    const rel = await c.query('SELECT to_regclass($1)::oid AS oid', [name]);
    const oid = rel.rows[0]?.oid as number | null;
    if (oid === null || oid === undefined) throw new CdcSetupError(`table ${name} does not exist in database ${cfg.postgres.database}`);
    let key = t.key;
    if (key === undefined) {
      const pk = await c.query(
        `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
          WHERE i.indrelid = $1 AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
        [oid],
      );
      key = pk.rows.map((r) => r.attname as string);
      if (key.length === 0) throw new CdcSetupError(`table ${name} has no primary key: name its key columns in the config ("key": [...])`);
    }
    out.push({ schema: t.schema, table: t.table, resourceType: t.resourceType ?? name, key });
  }
  return out;
}

/** Checks everything `run` needs; returns warnings (before-images or actors that will be incomplete). */
export async function checkSetup(c: SqlClient, cfg: CdcConfig): Promise<{ tables: TableSpec[]; warnings: string[] }> {
  const wal = await c.query('SHOW wal_level');
  if (wal.rows[0]?.wal_level !== 'logical') throw new CdcSetupError(`wal_level is ${String(wal.rows[0]?.wal_level)}; logical decoding needs wal_level = logical (postgresql.conf, then restart the server)`);
  const tables = await resolveTables(c, cfg);
  const pub = await c.query('SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1', [cfg.publication]);
  const exists = await c.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [cfg.publication]);
  if (exists.rowCount === 0) throw new CdcSetupError(`publication ${cfg.publication} does not exist (run 'cairn cdc setup')`);
  const inPub = new Set(pub.rows.map((r) => `${r.schemaname as string}.${r.tablename as string}`));
  const missing = tables.filter((t) => !inPub.has(`${t.schema}.${t.table}`)).map((t) => `${t.schema}.${t.table}`);
  if (missing.length > 0) throw new CdcSetupError(`publication ${cfg.publication} does not include ${missing.join(', ')} (run 'cairn cdc setup')`);
  const slot = await slotInfo(c, cfg.slot);
  if (slot === null) throw new CdcSetupError(`replication slot ${cfg.slot} does not exist (run 'cairn cdc setup')`);
  if (slot.plugin !== 'pgoutput') throw new CdcSetupError(`replication slot ${cfg.slot} uses plugin ${slot.plugin}, not pgoutput`);
  if (slot.database !== cfg.postgres.database) throw new CdcSetupError(`replication slot ${cfg.slot} belongs to database ${slot.database}, not ${cfg.postgres.database}`);
  const warnings: string[] = [];
  for (const t of tables) {
    const r = await c.query(
      `SELECT c.relreplident AS ri, EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = $2 AND g.tgenabled <> 'D') AS trig
         FROM pg_class c WHERE c.oid = $1::regclass`,
      [`${t.schema}.${t.table}`, ACTOR_TRIGGER],
    );
    const row = r.rows[0] as { ri: string; trig: boolean };
    if (row.ri !== 'f') warnings.push(`${t.schema}.${t.table}: REPLICA IDENTITY is not FULL, so data.before of updates and deletes holds only the key columns`);
    if (!row.trig) warnings.push(`${t.schema}.${t.table}: no enabled ${ACTOR_TRIGGER} trigger, so its changes are logged with actor "unknown"`);
  }
  return { tables, warnings };
}

/**
 * Creates (or completes) the publication, the slot, REPLICA IDENTITY FULL and the actor trigger.
 * Idempotent: what exists is checked and kept. Needs a role that owns the tables and may create
 * publications and replication slots (a superuser, or the owner with the REPLICATION attribute).
 */
export async function runSetup(c: SqlClient, cfg: CdcConfig): Promise<SetupReport> {
  const lines: string[] = [];
  const warnings: string[] = [];
  const wal = await c.query('SHOW wal_level');
  if (wal.rows[0]?.wal_level !== 'logical') throw new CdcSetupError(`wal_level is ${String(wal.rows[0]?.wal_level)}; set wal_level = logical in postgresql.conf and restart the server first`);
  const tables = await resolveTables(c, cfg);
  const names = tables.map((t) => `${t.schema}.${t.table}`);
  const exists = await c.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [cfg.publication]);
  if (exists.rowCount === 0) {
    await c.query(`CREATE PUBLICATION ${cfg.publication} FOR TABLE ${names.join(', ')}`);
    lines.push(`created publication ${cfg.publication} for ${names.join(', ')}`);
  } else {
    const pub = await c.query('SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1', [cfg.publication]);
    const inPub = new Set(pub.rows.map((r) => `${r.schemaname as string}.${r.tablename as string}`));
    const add = names.filter((n) => !inPub.has(n));
    if (add.length > 0) {
      await c.query(`ALTER PUBLICATION ${cfg.publication} ADD TABLE ${add.join(', ')}`);
      lines.push(`added ${add.join(', ')} to publication ${cfg.publication}`);
    } else lines.push(`publication ${cfg.publication} already holds every table`);
  }
  await c.query(`CREATE SCHEMA IF NOT EXISTS ${ACTOR_SCHEMA}`);
  await c.query(ACTOR_FUNCTION);
  await c.query(`REVOKE ALL ON FUNCTION ${ACTOR_SCHEMA}.note_actor() FROM PUBLIC`);
  for (const n of names) {
    await c.query(`ALTER TABLE ${n} REPLICA IDENTITY FULL`);
    await c.query(`CREATE OR REPLACE TRIGGER ${ACTOR_TRIGGER} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${n} FOR EACH STATEMENT EXECUTE FUNCTION ${ACTOR_SCHEMA}.note_actor()`);
    lines.push(`${n}: REPLICA IDENTITY FULL, actor trigger ${ACTOR_TRIGGER}`);
  }
  // Without this any role could emit its own `cairn.actor` message and name someone else.
  try {
    await c.query('REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) FROM PUBLIC');
    await c.query('REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, bytea) FROM PUBLIC');
    lines.push('revoked EXECUTE on pg_logical_emit_message from PUBLIC');
  } catch (e) {
    warnings.push(`could not revoke EXECUTE on pg_logical_emit_message from PUBLIC (${(e as Error).message}): until a superuser does, any role can forge a cairn.actor message`);
  }
  const slot = await slotInfo(c, cfg.slot);
  if (slot === null) {
    const r = await c.query("SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')", [cfg.slot]);
    lines.push(`created replication slot ${cfg.slot} (pgoutput) at ${r.rows[0]?.lsn as string}: changes from here on are captured`);
  } else if (slot.plugin !== 'pgoutput' || slot.database !== cfg.postgres.database) {
    throw new CdcSetupError(`replication slot ${cfg.slot} exists with plugin ${slot.plugin} in database ${slot.database}; drop it or choose another slot name`);
  } else lines.push(`replication slot ${cfg.slot} already exists`);
  return { lines, warnings };
}

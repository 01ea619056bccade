// `cairn cdc`: PostgreSQL change capture (node/cdc, docs/integrations.md "PostgreSQL").
//   cairn cdc setup  --config <file>   create or complete the publication, slot, REPLICA IDENTITY FULL and actor trigger
//   cairn cdc run    --config <file>   stream row changes into Cairn until SIGINT/SIGTERM
//   cairn cdc status --config <file>   the slot's and the state file's positions, and the lag behind the server
// `run` writes one JSON line per event on stdout (streaming, submitting, final, retries,
// backpressure) and a summary line when it stops.
import type { Command } from 'commander';
import { CdcConfigError, parseCdcConfig, type CdcConfig } from '../cdc/config.js';
import { fromUtf8 } from '../../src/encoding/bytes.js';
import { loadClientKey } from './client-key.js';
import { addCredentialOptions, loadCredential, type CredentialFlags } from './credentials.js';
import { failure, readFileBounded, resolvePath, usageError, type CliIo } from './io.js';
import { parsePeerUrl } from './peer-http.js';
import { readClient } from './search.js';

/** Largest config file read. */
export const CDC_CONFIG_BYTES_MAX = 256 * 1024;

async function loadConfig(io: CliIo, path: string): Promise<CdcConfig> {
  const bytes = await readFileBounded(io, path, 'cdc config file', CDC_CONFIG_BYTES_MAX, 'CDC_CONFIG_BYTES_MAX');
  try {
    const cfg = parseCdcConfig(fromUtf8(bytes), resolvePath(io, path));
    for (const p of cfg.peers) parsePeerUrl(p);
    return cfg;
  } catch (e) {
    if (e instanceof CdcConfigError) throw usageError(`cdc config file ${path}: ${e.message}`);
    throw usageError(`cdc config file ${path}: ${(e as Error).message}`);
  }
}

/** Database and capture errors as the command's one-line failure. */
async function dbFailure<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if ((e as { exitCode?: number }).exitCode !== undefined) throw e;
    const pgCode = (e as { code?: unknown }).code;
    throw failure(`${what}: ${(e as Error).message}${typeof pgCode === 'string' && /^[0-9A-Z]{5}$/.test(pgCode) ? ` [SQLSTATE ${pgCode}]` : ''}`);
  }
}

async function setupCommand(io: CliIo, o: { config: string }): Promise<void> {
  const cfg = await loadConfig(io, o.config);
  const { pgPassword, sqlConnect } = await import('../cdc/pg.js');
  const { runSetup } = await import('../cdc/setup.js');
  const report = await dbFailure('cdc setup', async () => {
    const sql = await sqlConnect(cfg.postgres, await pgPassword(cfg.postgres));
    try {
      return await runSetup(sql, cfg);
    } finally {
      await sql.end().catch(() => undefined);
    }
  });
  for (const l of report.lines) io.stdout(`${l}\n`);
  for (const w of report.warnings) io.stderr(`warning: ${w}\n`);
}

async function statusCommand(io: CliIo, o: { config: string }): Promise<void> {
  const cfg = await loadConfig(io, o.config);
  const { pgPassword, slotInfo, sqlConnect } = await import('../cdc/pg.js');
  const { readState } = await import('../cdc/state.js');
  const { formatLsn, parseLsn } = await import('../cdc/pgoutput.js');
  await dbFailure('cdc status', async () => {
    const sql = await sqlConnect(cfg.postgres, await pgPassword(cfg.postgres));
    try {
      const slot = await slotInfo(sql, cfg.slot);
      if (slot === null) throw failure(`replication slot ${cfg.slot} does not exist`);
      const cur = await sql.query('SELECT pg_current_wal_lsn()::text AS lsn');
      const now = parseLsn(cur.rows[0]!.lsn as string);
      const state = await readState(cfg.stateFile);
      const conf = slot.confirmedFlush;
      io.stdout(`slot ${cfg.slot}: confirmed ${conf === null ? '-' : formatLsn(conf)}, ${slot.active ? 'streaming' : 'not streaming'}\n`);
      io.stdout(`state file: ${state === null ? 'none (first run)' : formatLsn(state.lsn)}\n`);
      io.stdout(`server WAL: ${formatLsn(now)}; behind by ${conf === null ? '?' : (now - conf).toString()} bytes of WAL\n`);
      if (state !== null && conf !== null && conf > state.lsn) io.stdout('! the slot is ahead of the state file: changes may have been consumed elsewhere\n');
    } finally {
      await sql.end().catch(() => undefined);
    }
  });
}

interface RunFlags extends CredentialFlags {
  config: string;
  acceptGap?: boolean;
}

async function runCommand(io: CliIo, o: RunFlags): Promise<void> {
  const cfg = await loadConfig(io, o.config);
  const key = await loadClientKey(io, cfg.key);
  const cred = await loadCredential(io, o);
  const ac = new AbortController();
  // The signal also aborts a pending long-poll, so SIGTERM does not wait for it to time out.
  const clients = cfg.peers.map((p) => readClient(parsePeerUrl(p), cred, ac.signal));
  const { runCdc } = await import('../cdc/run.js');
  const onSignal = (): void => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const log = (msg: string, fields: Record<string, unknown> = {}): void => io.stdout(JSON.stringify({ time: new Date().toISOString(), msg, ...fields }) + '\n');
  try {
    const stats = await dbFailure('cdc run', () => runCdc({ config: cfg, clients, signer: key.signer, log, signal: ac.signal, acceptGap: o.acceptGap === true }));
    log('stopped', { ...stats });
  } finally {
    // Cancels any request still pending (a long-poll of a batch that will be captured again).
    ac.abort();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function registerCdc(program: Command, io: CliIo): void {
  const cdc = program.command('cdc').description('PostgreSQL change capture: row changes of configured tables become entries');
  cdc
    .command('setup')
    .description('create or complete the publication, replication slot, REPLICA IDENTITY FULL and actor trigger')
    .requiredOption('--config <file>', 'cdc config file (JSON, docs/integrations.md)')
    .action(async (opts: { config: string }) => setupCommand(io, opts));
  const run = cdc
    .command('run')
    .description('stream row changes into Cairn until Ctrl-C / SIGTERM; resumes where the last final entry left off')
    .requiredOption('--config <file>', 'cdc config file (JSON, docs/integrations.md)')
    .option('--accept-gap', 'start even if the slot is ahead of the state file (changes in between are not captured)')
    .action(async (opts: RunFlags) => runCommand(io, opts));
  addCredentialOptions(run);
  cdc
    .command('status')
    .description("the slot's and the state file's positions and how far the capture is behind the server")
    .requiredOption('--config <file>', 'cdc config file (JSON, docs/integrations.md)')
    .action(async (opts: { config: string }) => statusCommand(io, opts));
}

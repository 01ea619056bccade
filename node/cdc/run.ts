// `cairn cdc run` without the command line: check the database, decide where to resume, stream.
import type { CairnClient } from '../../src/client/client.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { runCapture, type CaptureStats } from './capture.js';
import type { CdcConfig } from './config.js';
import { pgPassword, replicationConnect, slotInfo, sqlConnect } from './pg.js';
import { formatLsn, type Lsn } from './pgoutput.js';
import { CdcSetupError, checkSetup } from './setup.js';
import { readState } from './state.js';

/** How long a start waits for a slot still held by a previous (killed) capture. */
const SLOT_BUSY_WAIT_MS = 15_000;

export interface RunCdcOptions {
  config: CdcConfig;
  clients: CairnClient[];
  signer: Ed25519Signer;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  signal: AbortSignal;
  /** Start even though the slot is ahead of the state file (changes in between are not captured). */
  acceptGap?: boolean;
}

export async function runCdc(o: RunCdcOptions): Promise<CaptureStats> {
  const cfg = o.config;
  const password = await pgPassword(cfg.postgres);
  const sql = await sqlConnect(cfg.postgres, password);
  let tables;
  let slotLsn: Lsn | null;
  try {
    const checked = await checkSetup(sql, cfg);
    tables = checked.tables;
    for (const w of checked.warnings) o.log('warning', { warning: w });
    // A capture that was just killed leaves the slot active until its server process notices
    // the closed connection: wait a little, then refuse (another capture may be running).
    let slot = await slotInfo(sql, cfg.slot);
    for (let waited = 0; slot?.active === true && waited < SLOT_BUSY_WAIT_MS; waited += 250) {
      await new Promise((r) => setTimeout(r, 250));
      slot = await slotInfo(sql, cfg.slot);
    }
    if (slot?.active === true) throw new CdcSetupError(`replication slot ${cfg.slot} is in use by another connection (is another capture running?)`);
    slotLsn = slot?.confirmedFlush ?? null;
  } finally {
    await sql.end().catch(() => undefined);
  }
  if (slotLsn === null) throw new CdcSetupError(`replication slot ${cfg.slot} has no confirmed position`);
  const stream = await replicationConnect(cfg.postgres, password);
  let start: Lsn;
  try {
    const state = await readState(cfg.stateFile);
    if (state === null) {
      start = slotLsn;
      o.log('no state file: starting at the slot position', { lsn: formatLsn(start) });
    } else {
      if (state.slot !== cfg.slot) throw new CdcSetupError(`state file ${cfg.stateFile} belongs to slot ${state.slot}, not ${cfg.slot}`);
      if (state.systemId !== stream.systemId) throw new CdcSetupError(`state file ${cfg.stateFile} belongs to database system ${state.systemId}, not ${stream.systemId}`);
      // The state file is written before the server is told, so it is never behind the slot; a
      // slot ahead of it was moved by something else (or recreated): changes may be missing.
      if (slotLsn > state.lsn && o.acceptGap !== true) {
        throw new CdcSetupError(
          `replication slot ${cfg.slot} is at ${formatLsn(slotLsn)}, past this capture's position ${formatLsn(state.lsn)}: changes in between were consumed elsewhere or the slot was recreated (--accept-gap starts anyway)`,
        );
      }
      start = state.lsn > slotLsn ? state.lsn : slotLsn;
      o.log('resuming', { lsn: formatLsn(start), slot: formatLsn(slotLsn) });
    }
  } catch (e) {
    await stream.close();
    throw e;
  }
  return runCapture({ config: cfg, tables, stream, clients: o.clients, signer: o.signer, start, log: o.log, signal: o.signal });
}

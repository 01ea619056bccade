// The capture's own record of its position: the LSN up to which every captured change is final
// in Cairn. It is written (temp file, fsync, rename, fsync of the directory) BEFORE the same
// position is reported to PostgreSQL as flushed, so the file is never behind the slot. A slot
// that is ahead of the file was therefore advanced by someone else, or dropped and recreated:
// changes may have been lost, and the capture refuses to start rather than hide a gap.
import { readFile } from 'node:fs/promises';
import { replaceFileDurably } from '../storage/durable-file.js';
import { formatLsn, parseLsn, type Lsn } from './pgoutput.js';

export interface CdcState {
  slot: string;
  /** Everything committed before this position (commit records starting before it) is final in Cairn. */
  lsn: Lsn;
  /** PostgreSQL's system identifier, so a state file is not used against another cluster. */
  systemId: string;
}

export class CdcStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CdcStateError';
  }
}

/** The state file, or null when it does not exist (first run). */
export async function readState(path: string): Promise<CdcState | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CdcStateError(`cannot read state file ${path}: ${(e as Error).message}`);
  }
  if (text.length > 4096) throw new CdcStateError(`state file ${path} is larger than 4096 bytes`);
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (o.v !== 1 || typeof o.slot !== 'string' || typeof o.lsn !== 'string' || typeof o.systemId !== 'string') throw new Error('unexpected shape');
    return { slot: o.slot, lsn: parseLsn(o.lsn), systemId: o.systemId };
  } catch (e) {
    throw new CdcStateError(`state file ${path} is not a cairn cdc state: ${(e as Error).message}`);
  }
}

/** Durably replaces the state file. */
export async function writeState(path: string, s: CdcState): Promise<void> {
  await replaceFileDurably(path, JSON.stringify({ v: 1, slot: s.slot, lsn: formatLsn(s.lsn), systemId: s.systemId, updated: new Date().toISOString() }) + '\n');
}

// The prologue shared by the offline store commands (`cairn verify store`, `cairn reindex`): exactly
// one of --config (its dataDir, with the same environment overrides as `cairn start`) or --store
// names the store directory; the store is opened without creating it, and refused while a running
// peer holds its lock. Usage errors exit 2; a store whose head fails its check exits 1.
import type { Command } from 'commander';
import { join } from 'node:path';
import { loadConfig } from '../peer/config.js';
import { PeerError } from '../peer/errors.js';
import { openStore, type Store } from '../storage/store.js';
import { isStoreError } from '../storage/errors.js';
import { failure, resolvePath, usageError, type CliIo } from './io.js';

/** The flags naming a stopped peer's store. */
export interface StoreFlags {
  config?: string;
  store?: string;
}

/** Adds --config / --store to an offline store command. */
export function storeFlagOptions(cmd: Command): Command {
  return cmd.option('--config <file>', 'the peer config file (its dataDir holds the store)').option('--store <dir>', 'or the store directory itself (<dataDir>/store)');
}

/** Opens the store the flags name; `corruptHint` follows the message of a store whose head fails its check. */
export async function openStoppedStore(io: CliIo, opts: StoreFlags, corruptHint = ''): Promise<{ dir: string; store: Store }> {
  if ((opts.config === undefined) === (opts.store === undefined)) throw usageError('give either --config <peer config file> or --store <store directory>');
  let dir: string;
  if (opts.config !== undefined) {
    try {
      dir = join((await loadConfig(resolvePath(io, opts.config))).dataDir, 'store');
    } catch (e) {
      throw usageError(e instanceof PeerError ? e.message : `cannot load config ${opts.config}: ${(e as Error).message}`);
    }
  } else {
    dir = resolvePath(io, opts.store!);
  }
  try {
    return { dir, store: await openStore(dir, { createIfMissing: false }) };
  } catch (e) {
    if (isStoreError(e) && e.code === 'STORE_LOCKED') throw usageError(`store ${dir} is locked: stop the peer that uses it first`);
    if (isStoreError(e) && e.code === 'CORRUPT_HEAD') throw failure(`store ${dir} is corrupt: ${e.message}${corruptHint}`);
    throw usageError(`cannot open store ${dir}: ${(e as Error).message}`);
  }
}

/** The progress bar's sink: stderr when it is a terminal. */
export function ttyProgress(io: CliIo): { isTTY: true; write: (s: string) => void } | null {
  return process.stderr.isTTY ? { isTTY: true, write: (s) => io.stderr(s) } : null;
}

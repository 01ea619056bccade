// `cairn reindex --config <file>` (or `--store <dir>`): rebuilds the search indexes of a STOPPED
// peer's store from its log (node/search/maintain.ts reindex), in bounded synced batches. Needed
// after upgrading a store written without indexes, or when `cairn verify store` reports an index
// problem. Exit 0 when done; exit 2 when the store cannot be opened (missing, or locked by a running peer).
import type { Command } from 'commander';
import { join } from 'node:path';
import { loadConfig } from '../peer/config.js';
import { PeerError } from '../peer/errors.js';
import { openStore, type Store } from '../storage/store.js';
import { isStoreError } from '../storage/errors.js';
import { reindex } from '../search/maintain.js';
import { failure, resolvePath, usageError, type CliIo } from './io.js';
import { ProgressBar, type ProgressSink } from './progress.js';

export interface ReindexOptions {
  config?: string;
  store?: string;
}

export async function reindexCommand(io: CliIo, opts: ReindexOptions, progressSink: ProgressSink | null = null): Promise<void> {
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
  let store: Store;
  try {
    store = await openStore(dir, { createIfMissing: false });
  } catch (e) {
    if (isStoreError(e) && e.code === 'STORE_LOCKED') throw usageError(`store ${dir} is locked: stop the peer that uses it first`);
    if (isStoreError(e) && e.code === 'CORRUPT_HEAD') throw failure(`store ${dir} is corrupt: ${e.message}`);
    throw usageError(`cannot open store ${dir}: ${(e as Error).message}`);
  }
  const bar = new ProgressBar(progressSink, 'indexing', 0);
  const started = Date.now();
  let r;
  try {
    r = await reindex(store, {
      onProgress: (done, total) => {
        bar.setTotal(total);
        bar.update(done);
      },
    });
  } catch (e) {
    throw failure(`reindex of ${dir} failed: ${(e as Error).message}`);
  } finally {
    bar.done();
    await store.close();
  }
  const secs = Math.max(0.001, (Date.now() - started) / 1000);
  io.stdout(`reindexed: ${dir}\n  leaves   ${r.indexed}\n  took     ${secs.toFixed(2)} s\n`);
}

export function registerReindex(program: Command, io: CliIo): void {
  program
    .command('reindex')
    .description("rebuild a stopped peer's search indexes from its log")
    .option('--config <file>', 'the peer config file (its dataDir holds the store)')
    .option('--store <dir>', 'or the store directory itself (<dataDir>/store)')
    .action(async (opts: ReindexOptions) => {
      await reindexCommand(io, opts, process.stderr.isTTY ? { isTTY: true, write: (s) => io.stderr(s) } : null);
    });
}

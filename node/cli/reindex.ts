// `cairn reindex --config <file>` (or `--store <dir>`): rebuilds the search indexes of a STOPPED
// peer's store from its log (node/search/maintain.ts reindex), in bounded synced batches. Needed
// after upgrading a store written without indexes, or when `cairn verify store` reports an index
// problem. Exit 0 when done; exit 2 when the store cannot be opened (missing, or locked by a running peer).
import type { Command } from 'commander';
import { reindex } from '../search/maintain.js';
import { failure, type CliIo } from './io.js';
import { openStoppedStore, storeFlagOptions, ttyProgress, type StoreFlags } from './verify-store-open.js';
import { ProgressBar, type ProgressSink } from './progress.js';

export type ReindexOptions = StoreFlags;

export async function reindexCommand(io: CliIo, opts: ReindexOptions, progressSink: ProgressSink | null = null): Promise<void> {
  const { dir, store } = await openStoppedStore(io, opts);
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
  storeFlagOptions(program.command('reindex').description("rebuild a stopped peer's search indexes from its log")).action(async (opts: ReindexOptions) => {
    await reindexCommand(io, opts, ttyProgress(io));
  });
}

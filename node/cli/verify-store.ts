// `cairn verify store --config <file>` (or `--store <dir>`): the operator's offline deep check of a
// STOPPED peer's LevelDB store (node/storage/verify.ts verifyStore): every leaf re-hashed and
// compared with its level-0 tile, every stored tile hash recomputed, the leaf-hash index, the log
// state and the head root. The peer itself checks only its head when it opens the store (O(1));
// this is the O(size) check, run when an operator wants certainty (after a disk incident, before
// a backup). Exit 0 when consistent; exit 1 naming the FIRST bad leaf index or tile; exit 2 when
// the store cannot be opened (missing, or locked by a running peer).
import type { Command } from 'commander';
import { join } from 'node:path';
import { toBase64 } from '../../src/encoding/bytes.js';
import { loadConfig } from '../peer/config.js';
import { PeerError } from '../peer/errors.js';
import { openStore, type Store } from '../storage/store.js';
import { isStoreError } from '../storage/errors.js';
import { verifyStore } from '../storage/verify.js';
import { verifyIndexes } from '../search/maintain.js';
import { failure, resolvePath, usageError, type CliIo } from './io.js';
import { ProgressBar, type ProgressSink } from './progress.js';

export interface VerifyStoreOptions {
  config?: string;
  store?: string;
}

export async function verifyStoreCommand(io: CliIo, opts: VerifyStoreOptions, progressSink: ProgressSink | null = null): Promise<void> {
  if ((opts.config === undefined) === (opts.store === undefined)) throw usageError('give either --config <peer config file> or --store <store directory>');
  let dir: string;
  if (opts.config !== undefined) {
    try {
      // Environment overrides (CAIRN_DATA_DIR, ...) apply as they do for `cairn start`.
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
    if (isStoreError(e) && e.code === 'CORRUPT_HEAD') throw failure(`store ${dir} is corrupt: ${e.message} (the peer refuses to start on it)`);
    throw usageError(`cannot open store ${dir}: ${(e as Error).message}`);
  }
  const bar = new ProgressBar(progressSink, 'checking', 0);
  const started = Date.now();
  let r;
  let ix;
  try {
    r = await verifyStore(store, {
      chunkLeaves: 4096,
      onProgress: (done, total) => {
        bar.setTotal(total);
        bar.update(done);
      },
    });
    // The search indexes (derived data) must be exactly what the leaves imply.
    if (r.ok) ix = await verifyIndexes(store);
  } finally {
    bar.done();
    await store.close();
  }
  if (!r.ok) {
    const where = r.tile !== undefined ? ` (tile ${r.tile.level}/${r.tile.index})` : '';
    throw failure(`store ${dir} is inconsistent at ${r.index === null ? 'the head' : `leaf ${r.index}`}${where}: ${r.message} [${r.code}]`);
  }
  if (ix !== undefined && !ix.ok) {
    throw failure(`store ${dir} search indexes are inconsistent at ${ix.index === null ? 'the index records' : `leaf ${ix.index}`}: ${ix.message} [${ix.code}] (\`cairn reindex\` rebuilds them)`);
  }
  const secs = Math.max(0.001, (Date.now() - started) / 1000);
  io.stdout(`store OK: ${dir}\n  size     ${r.treeSize}\n  root     ${toBase64(r.root)}\n  checked  ${r.leavesChecked} leaves in ${secs.toFixed(2)} s (${Math.round(r.leavesChecked / secs)} leaves/s)\n`);
}

/** Adds `verify store` to the existing `verify` command group. */
export function registerVerifyStore(program: Command, io: CliIo): void {
  const verify = program.commands.find((c) => c.name() === 'verify');
  if (verify === undefined) throw new Error('internal: register the verify command group first');
  verify
    .command('store')
    .description("deep-check a stopped peer's store: every leaf, tile hash, index and the head root (first inconsistency named)")
    .option('--config <file>', 'the peer config file (its dataDir holds the store)')
    .option('--store <dir>', 'or the store directory itself (<dataDir>/store)')
    .action(async (opts: VerifyStoreOptions) => {
      await verifyStoreCommand(io, opts, process.stderr.isTTY ? { isTTY: true, write: (s) => io.stderr(s) } : null);
    });
}

// `cairn verify store --config <file>` (or `--store <dir>`): the operator's offline deep check of a
// STOPPED peer's LevelDB store (node/storage/verify.ts verifyStore): every leaf re-hashed and
// compared with its level-0 tile, every stored tile hash recomputed, the leaf-hash index, the log
// state and the head root. The peer itself checks only its head when it opens the store (O(1));
// this is the O(size) check, run when an operator wants certainty (after a disk incident, before
// a backup). Exit 0 when consistent; exit 1 naming the FIRST bad leaf index or tile; exit 2 when
// the store cannot be opened (missing, or locked by a running peer).
import type { Command } from 'commander';
import { toBase64 } from '../../src/encoding/bytes.js';
import { verifyStore } from '../storage/verify.js';
import { verifyIndexes } from '../search/maintain.js';
import { failure, type CliIo } from './io.js';
import { openStoppedStore, storeFlagOptions, ttyProgress, type StoreFlags } from './verify-store-open.js';
import { ProgressBar, type ProgressSink } from './progress.js';

export type VerifyStoreOptions = StoreFlags;

export async function verifyStoreCommand(io: CliIo, opts: VerifyStoreOptions, progressSink: ProgressSink | null = null): Promise<void> {
  const { dir, store } = await openStoppedStore(io, opts, ' (the peer refuses to start on it)');
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
  storeFlagOptions(verify.command('store').description("deep-check a stopped peer's store: every leaf, tile hash, index and the head root (first inconsistency named)")).action(async (opts: VerifyStoreOptions) => {
    await verifyStoreCommand(io, opts, ttyProgress(io));
  });
}

// Child process for storage-crash.test.ts: applies 200-entry blocks to the store in argv[2]
// forever, printing "applied <height>" on stdout after each applyBlock resolves (i.e. after its
// one batch is written). The parent SIGKILLs it at an arbitrary moment.
import { utf8 } from '../../../src/encoding/bytes.js';
import { openStore } from '../../../node/storage/index.js';
import { appendBlock } from '../../unit/support/storage-fixture.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: storage-crash-child <dir>');
const store = await openStore(dir);
process.stdout.write(`opened ${store.head()?.height ?? 0}\n`);
for (;;) {
  const height = (store.head()?.height ?? 0) + 1;
  const leaves = Array.from({ length: 200 }, (_, k) => utf8(`crash entry h${height} #${k} ${'y'.repeat(k % 50)}`));
  await appendBlock(store, leaves);
  // Also exercise the other synced writers while being killed.
  await store.putSignerState(utf8(`signer state at ${height}`));
  await store.walAppend(height, [utf8(`wal ${height} a`), utf8(`wal ${height} b`)]);
  process.stdout.write(`applied ${height}\n`);
}

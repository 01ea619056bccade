// Child process for search-crash.test.ts: appends blocks of random signed entries (with their
// search index records, in applyBlock's one batch) to the store in argv[2] forever, printing
// "applied <size>" after each block. The parent SIGKILLs it at an arbitrary moment.
import { openStore } from '../../../node/storage/index.js';
import { SearchLog } from '../../unit/support/search-fixture.js';
import { SeededRandom } from '../../unit/support/seeded-random.js';

const dir = process.argv[2];
const seed = process.argv[3] ?? 'crash';
if (dir === undefined) throw new Error('usage: search-crash-child <dir> <seed>');
const store = await openStore(dir);
process.stdout.write(`opened ${store.head()?.treeSize ?? 0}\n`);
const log = new SearchLog(store, new SeededRandom(seed));
for (;;) {
  await log.appendBlock(1 + log.rng.int(120));
  process.stdout.write(`applied ${store.head()!.treeSize}\n`);
}

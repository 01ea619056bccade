// Child process of store-deferred-sync.test.ts: opens the store in argv[2], opens a deferred-sync
// window over 50 heights, applies `argv[3]` blocks in it and dies by SIGKILL before the window's
// flush (no close, no synced write after the window opened).
import { openStore } from '../../../node/storage/store.js';
import { utf8 } from '../../../src/encoding/bytes.js';
import { appendBlock } from './storage-fixture.js';

const dir = process.argv[2]!;
const count = Number(process.argv[3]);
const store = await openStore(dir);
store.deferSyncThrough((store.head()?.height ?? 0) + 50);
for (let i = 0; i < count; i++) {
  const h = (store.head()?.height ?? 0) + 1;
  await appendBlock(store, [utf8(`{"h":${h},"i":0}`), utf8(`{"h":${h},"i":1}`)]);
}
process.stdout.write(`applied ${store.head()?.height ?? 0} synced ${store.syncedBlockWrites}\n`);
process.kill(process.pid, 'SIGKILL');

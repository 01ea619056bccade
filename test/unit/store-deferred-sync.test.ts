// Deferred sync for catch-up (node/storage/deferred-sync.ts): many decided heights applied in one
// window cost ONE synced write, blocks outside a window stay synced one by one, and a process
// killed inside a window leaves a store that verifies and resumes at a block boundary.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { utf8 } from '../../src/encoding/bytes.js';
import { openStore } from '../../node/storage/store.js';
import { verifyStore } from '../../node/storage/verify.js';
import { appendBlock, TempDirs } from './support/storage-fixture.js';

const dirs = new TempDirs();
afterEach(() => dirs.removeAll());
const CHILD = fileURLToPath(new URL('./support/deferred-crash-child.ts', import.meta.url));

const leaves = (h: number) => [utf8(`{"h":${h},"i":0}`), utf8(`{"h":${h},"i":1}`)];

describe('store deferred sync (catch-up)', () => {
  it('applies 40 heights in a window with one synced write; outside a window one per height', async () => {
    const store = await openStore(await dirs.make());
    try {
      await appendBlock(store, leaves(1));
      await appendBlock(store, leaves(2));
      expect(store.syncedBlockWrites).toBe(2);
      store.deferSyncThrough(42);
      for (let h = 3; h <= 42; h++) await appendBlock(store, leaves(h));
      expect(store.syncedBlockWrites).toBe(2); // nothing synced yet inside the window
      await store.flushDeferred();
      expect(store.syncedBlockWrites).toBe(3);
      expect(store.head()?.height).toBe(42);
      // The window closed: the next block is synced on its own again, and a flush with nothing
      // pending writes nothing.
      await appendBlock(store, leaves(43));
      await store.flushDeferred();
      expect(store.syncedBlockWrites).toBe(4);
      // A block above the window's end is synced (a consensus decide is signed right after).
      store.deferSyncThrough(44);
      await appendBlock(store, leaves(44));
      await appendBlock(store, leaves(45));
      expect(store.syncedBlockWrites).toBe(5);
      // That synced write fsynced LevelDB's log, block 44 included: the flush has nothing to do.
      await store.flushDeferred();
      expect(store.syncedBlockWrites).toBe(5);
      const v = await verifyStore(store);
      expect(v.ok && v.treeSize).toBe(90);
    } finally {
      await store.close();
    }
  });

  it('a process killed inside a window leaves a store that verifies and resumes', async () => {
    const dir = await dirs.make();
    const first = await openStore(dir);
    await appendBlock(first, leaves(1));
    await first.close();
    const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, dir, '20'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.signal).toBe('SIGKILL');
    expect(r.stdout).toContain('applied 21 synced 0');
    const store = await openStore(dir);
    try {
      // Each block was one atomic batch: the store is at a block boundary (after SIGKILL the
      // kernel still writes the unsynced log out, so here every block is there).
      const h = store.head()?.height ?? 0;
      expect(h).toBe(21);
      const v = await verifyStore(store);
      expect(v.ok && v.treeSize).toBe(2 * h);
      await appendBlock(store, leaves(h + 1));
      expect(store.head()?.height).toBe(h + 1);
      const v2 = await verifyStore(store);
      expect(v2.ok && v2.treeSize).toBe(2 * (h + 1));
    } finally {
      await store.close();
    }
  });
});

// The first WAL record of a height (our proposal, or the proposal we received) is on the path of
// every idle entry: it must not wait for a scan of that height's WAL. The store reads the keys of
// the whole WAL once, at its first WAL write or prune; from then on it knows every height's record
// count and bytes (for the per-height caps), so neither a new height nor a prune reads the disk.
// A WAL too large for that one scan is read height by height and pruned by range, as before.
// Real LevelDB store.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClassicLevel } from 'classic-level';
import type { openStore, Store } from '../../node/storage/store.js';
import { WAL_SCAN_RECORDS_MAX } from '../../node/storage/consensus-records.js';
import { TempStores } from './support/storage-fixture.js';

const stores = new TempStores();
afterEach(() => stores.closeAll());
const newDir = (): Promise<string> => stores.makeDir();

/** Opens the store at `path`, runs `f` on it and closes it, also when `f` throws. */
async function withStore(path: string, opts: Parameters<typeof openStore>[1], f: (s: Store) => Promise<void>): Promise<void> {
  const s = await stores.openAt(path, opts);
  try {
    await f(s);
  } finally {
    await s.close();
  }
}

// A failed assertion must not leave a spy counting in the next test.
afterEach(() => {
  vi.restoreAllMocks();
});

describe('WAL of the next height', () => {
  it('is scanned when the decided height is pruned, so its first append reads nothing', async () => {
    const path = await newDir();
    await withStore(path, { genesisHash: new Uint8Array(32).fill(3) }, async (store) => {
      await store.walAppend(5, [Uint8Array.of(1, 2, 3)], { sync: false });
      await store.walAppend(5, [Uint8Array.of(4)], { sync: false });
      // Height 5 decided: its WAL goes, height 6 is next.
      await store.walPrune(6);
      const scans = vi.spyOn(ClassicLevel.prototype, 'iterator');
      await store.walAppend(6, [Uint8Array.of(9, 9)], { sync: false });
      await store.walAppend(6, [Uint8Array.of(8)], { sync: false });
      expect(scans).toHaveBeenCalledTimes(0);
      scans.mockRestore();
      // The counts are still right: both records of 6 are there, 5's are gone.
      expect(await store.walRead(6)).toEqual([Uint8Array.of(9, 9), Uint8Array.of(8)]);
      expect(await store.walRead(5)).toEqual([]);
    });
  });

  it('still enforces the per-height record cap on a height scanned at prune time', async () => {
    const path = await newDir();
    const opts = { genesisHash: new Uint8Array(32).fill(4), limits: { maxWalRecordsPerHeight: 3 } };
    // A record of height 7 already written, then a restart in the middle of height 7: the reopened
    // store knows nothing of 7's WAL, so only the prune-time scan can count that record from disk.
    await withStore(path, opts, async (first) => {
      await first.walAppend(7, [Uint8Array.of(1)], { sync: false });
    });
    await withStore(path, opts, async (store) => {
      await store.walPrune(7);
      await store.walAppend(7, [Uint8Array.of(2), Uint8Array.of(3)], { sync: false });
      await expect(store.walAppend(7, [Uint8Array.of(4)], { sync: false })).rejects.toMatchObject({ code: 'WAL_FULL' });
      expect(await store.walRead(7)).toEqual([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
    });
  });

  it('after the one scan at first use, later heights and prunes read nothing and records of a previous process are pruned by key', async () => {
    const path = await newDir();
    const opts = { genesisHash: new Uint8Array(32).fill(5) };
    await withStore(path, opts, async (first) => {
      await first.walAppend(5, [Uint8Array.of(5, 0), Uint8Array.of(5, 1)], { sync: false });
      await first.walAppend(6, [Uint8Array.of(6, 0)], { sync: false });
    });
    await withStore(path, opts, async (store) => {
      // The first write scans the whole WAL once and continues height 6 after its old record.
      const scans = vi.spyOn(ClassicLevel.prototype, 'iterator');
      await store.walAppend(6, [Uint8Array.of(6, 1)], { sync: false });
      expect(scans).toHaveBeenCalledTimes(1);
      scans.mockClear();
      const clears = vi.spyOn(ClassicLevel.prototype, 'clear');
      await store.walPrune(6);
      await store.walAppend(7, [Uint8Array.of(7, 0)], { sync: false });
      await store.walPrune(7);
      await store.walAppend(7, [Uint8Array.of(7, 1)], { sync: false });
      expect(scans).toHaveBeenCalledTimes(0);
      expect(clears).toHaveBeenCalledTimes(0);
      scans.mockRestore();
      clears.mockRestore();
      expect(await store.walRead(5)).toEqual([]);
      expect(await store.walRead(6)).toEqual([]);
      expect(await store.walRead(7)).toEqual([Uint8Array.of(7, 0), Uint8Array.of(7, 1)]);
    });
    // Nothing of the pruned heights is left on disk either.
    await withStore(path, opts, async (again) => {
      expect(await again.walRead(5)).toEqual([]);
      expect(await again.walRead(6)).toEqual([]);
      expect(await again.walRead(7)).toEqual([Uint8Array.of(7, 0), Uint8Array.of(7, 1)]);
    });
  });

  it('a WAL larger than the one scan reads is counted height by height and pruned by range', async () => {
    const path = await newDir();
    const opts = { genesisHash: new Uint8Array(32).fill(6) };
    const many = Array.from({ length: WAL_SCAN_RECORDS_MAX + 1 }, (_, i) => Uint8Array.of(i & 0xff, i >> 8));
    await withStore(path, opts, async (first) => {
      await first.walAppend(3, many, { sync: false });
      await first.walAppend(4, [Uint8Array.of(4, 0)], { sync: false });
    });
    await withStore(path, opts, async (store) => {
      const clears = vi.spyOn(ClassicLevel.prototype, 'clear');
      await store.walAppend(4, [Uint8Array.of(4, 1)], { sync: false });
      await store.walAppend(3, [Uint8Array.of(3, 9)], { sync: false });
      const three = await store.walRead(3);
      expect(three).toHaveLength(WAL_SCAN_RECORDS_MAX + 2);
      expect(three[WAL_SCAN_RECORDS_MAX + 1]).toEqual(Uint8Array.of(3, 9));
      await store.walPrune(4);
      expect(clears).toHaveBeenCalledTimes(1);
      clears.mockRestore();
      expect(await store.walRead(3)).toEqual([]);
      expect(await store.walRead(4)).toEqual([Uint8Array.of(4, 0), Uint8Array.of(4, 1)]);
    });
  });
});

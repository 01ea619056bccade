// The first WAL record of a height (our proposal, or the proposal we received) is on the path of
// every idle entry: it must not wait for a scan of that height's WAL. The scan (record count and
// bytes, for the per-height caps) is done when the height before it is pruned, right after its
// decision. Real LevelDB store.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { openStore } from '../../node/storage/store.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('WAL of the next height', () => {
  it('is scanned when the decided height is pruned, so its first append reads nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-iws-'));
    dirs.push(dir);
    const store = await openStore(join(dir, 'store'), { genesisHash: new Uint8Array(32).fill(3) });
    try {
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
    } finally {
      await store.close();
    }
  });

  it('still enforces the per-height record cap on a height scanned at prune time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-iws-'));
    dirs.push(dir);
    const opts = { genesisHash: new Uint8Array(32).fill(4), limits: { maxWalRecordsPerHeight: 3 } };
    // A record of height 7 already written, then a restart in the middle of height 7: the reopened
    // store knows nothing of 7's WAL, so only the prune-time scan can count that record from disk.
    const first = await openStore(join(dir, 'store'), opts);
    try {
      await first.walAppend(7, [Uint8Array.of(1)], { sync: false });
    } finally {
      await first.close();
    }
    const store = await openStore(join(dir, 'store'), opts);
    try {
      await store.walPrune(7);
      await store.walAppend(7, [Uint8Array.of(2), Uint8Array.of(3)], { sync: false });
      await expect(store.walAppend(7, [Uint8Array.of(4)], { sync: false })).rejects.toMatchObject({ code: 'WAL_FULL' });
      expect(await store.walRead(7)).toEqual([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
    } finally {
      await store.close();
    }
  });
});

// Deferred sync for catch-up: a peer that is far behind applies many decided heights, each in its
// own atomic LevelDB batch, and makes them durable with ONE synced write at the end of the range
// instead of one fsync per height.
//
// Why this is safe:
// - Only heights the caller names (a catch-up range whose commit certificates it verified) are
//   written unsynced; any other block — a consensus decide, which is signed right after — is
//   written synced as before, and a synced LevelDB write fsyncs the log holding every earlier
//   batch too.
// - Each block stays ONE batch (block, leaves, indexes, tiles, search records, head), so a crash
//   at any point leaves the store at a block boundary: `cairn verify store` accepts it and the
//   peer fetches the missing heights again on restart (they are decided: the same blocks).
// - Nothing is acknowledged for those heights before flush(): catch-up applies them unsigned and
//   signs the head only when the run ends (after flush), and a catch-up peer has no client
//   waiting for a decided block it did not take part in.
import { durablePut } from './durable.js';
import { encodeHead } from './codec.js';
import { P_HEAD, singleKey } from './keys.js';
import type { StoreContext } from './store-context.js';

/** Most heights one deferred window may cover (bounds what one crash can make us re-fetch). */
export const DEFERRED_SYNC_HEIGHTS_MAX = 4_096;

export class DeferredSync {
  /** Highest height written unsynced in the current window (-1: none). */
  private through = -1;
  private unsynced = 0;
  /** Synced LevelDB writes made by applyBlock and flush (for tests and metrics). */
  syncedWrites = 0;

  constructor(private readonly ctx: StoreContext) {}

  /** Heights (head, through] may be written unsynced until flush(). */
  deferThrough(through: number): void {
    const base = this.ctx.head()?.height ?? 0;
    if (!Number.isSafeInteger(through) || through < 0) throw new RangeError('deferSyncThrough needs a height');
    this.through = Math.min(through, base + DEFERRED_SYNC_HEIGHTS_MAX);
  }

  /** Whether block `height` must be written synced. */
  durable(height: number): boolean {
    if (height > this.through) return true;
    this.unsynced++;
    return false;
  }

  noteSynced(): void {
    this.syncedWrites++;
    // A synced write fsyncs LevelDB's log: every earlier unsynced batch is durable now.
    this.unsynced = 0;
  }

  /**
   * Ends the window: one synced write (the head record again) makes every block written since
   * durable. The caller holds the store's block lock.
   */
  async flushLocked(): Promise<void> {
    this.through = -1;
    if (this.unsynced === 0) return;
    const head = this.ctx.head();
    if (head !== null) await durablePut(this.ctx.db, singleKey(P_HEAD), encodeHead(head));
    this.noteSynced();
  }
}

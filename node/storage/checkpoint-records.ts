// Checkpoint records: the signed checkpoint note of a tree size, final or not, and the pointer to
// the final checkpoint with the largest tree size. All writes are synced.

import { decodeCheckpoint, decodeU64Value, encodeCheckpoint } from './codec.js';
import { durableBatch, type BatchOp } from './durable.js';
import { StoreError } from './errors.js';
import { P_CHECKPOINT, P_FINAL, singleKey, u64, u64Key } from './keys.js';
import { bad, checkBytes, checkNat } from './store-args.js';
import type { CheckpointRecord } from './store-api.js';
import { Serial, plain, type StoreContext } from './store-context.js';

export class CheckpointRecords {
  private readonly lock = new Serial();
  /**
   * The latest final checkpoint (tree size and note) once read or written: this object is the
   * store's only checkpoint writer, so it stays current, and the one answer every checkpoint poll
   * and every final write needs costs no read. undefined: not loaded yet; null: none stored.
   */
  private latest: { size: number; note: Uint8Array } | null | undefined = undefined;

  constructor(private readonly ctx: StoreContext) {}

  async put(treeSize: number, note: Uint8Array, final: boolean): Promise<void> {
    this.ctx.assertOpen();
    checkNat('treeSize', treeSize);
    checkBytes('note', note, this.ctx.limits.maxCheckpointBytes, 'maxCheckpointBytes', 1);
    if (typeof final !== 'boolean') bad('final must be a boolean');
    const size = this.ctx.head()?.treeSize ?? 0;
    if (treeSize > size) bad(`checkpoint tree size ${treeSize} is beyond the applied tree size ${size}`);
    return this.lock.run(async () => {
      this.ctx.assertOpen();
      const key = u64Key(P_CHECKPOINT, treeSize);
      if (!final) {
        const existing = await this.ctx.db.get(key);
        if (existing !== undefined && decodeCheckpoint(existing).final) return;
      }
      const ops: BatchOp[] = [{ type: 'put', key, value: encodeCheckpoint(note, final) }];
      const advances = final && (await this.latestSize()) <= treeSize;
      if (advances) ops.push({ type: 'put', key: singleKey(P_FINAL), value: u64(treeSize) });
      await durableBatch(this.ctx.db, ops);
      // A copy: the caller keeps its array and may reuse it.
      if (advances) this.latest = { size: treeSize, note: note.slice() };
    });
  }

  async get(treeSize: number): Promise<CheckpointRecord | undefined> {
    this.ctx.assertOpen();
    checkNat('treeSize', treeSize);
    const v = await this.ctx.db.get(u64Key(P_CHECKPOINT, treeSize));
    return v === undefined ? undefined : decodeCheckpoint(plain(v));
  }

  async latestFinal(): Promise<Uint8Array | undefined> {
    this.ctx.assertOpen();
    const latest = this.latest !== undefined ? this.latest : await this.lock.run(() => this.loadLatest());
    // A copy: the cached note outlives any caller that might write into what it was handed.
    return latest === null ? undefined : latest.note.slice();
  }

  /** Tree size of the latest final checkpoint (-1: none), from the pointer alone until the note is loaded. Under the lock. */
  private async latestSize(): Promise<number> {
    if (this.latest !== undefined) return this.latest === null ? -1 : this.latest.size;
    const ptr = await this.ctx.db.get(singleKey(P_FINAL));
    return ptr === undefined ? -1 : decodeU64Value(ptr, 'latest final checkpoint');
  }

  /** The latest final checkpoint, read from disk the first time. Under the lock (or its only reader). */
  private async loadLatest(): Promise<{ size: number; note: Uint8Array } | null> {
    if (this.latest !== undefined) return this.latest;
    const size = await this.latestSize();
    if (size < 0) return (this.latest = null);
    const rec = await this.get(size);
    if (rec === undefined || !rec.final) throw new StoreError('CORRUPT_RECORD', `latest final checkpoint points at tree size ${size}, which has no final checkpoint`);
    return (this.latest = { size, note: rec.note });
  }

  /** Resolves once the writes queued before it are done. */
  drain(): Promise<void> {
    return this.lock.run(async () => undefined);
  }
}

// The consensus engine's durable records: its signer state (synced before any vote leaves the
// process, so a restart never signs two messages for one (h, r, step)) and its per-height WAL.

import { durablePut, writeBatch, type BatchOp } from './durable.js';
import { StoreError } from './errors.js';
import { P_SIGNER, P_WAL, prefixEnd, singleKey, u64OfKey, walKey, walSeqOfKey } from './keys.js';
import { bad, checkBytes, checkLimit, checkNat } from './store-args.js';
import { Serial, plain, type StoreContext } from './store-context.js';

/**
 * Most WAL records the one scan at first use reads. A running peer's WAL holds one undecided
 * height, about ten records per validator; a WAL that holds more than this, or more bytes than
 * one height may (prunes lost in crashes, another writer), is scanned height by height instead.
 */
export const WAL_SCAN_RECORDS_MAX = 4 * 1024;

export class ConsensusRecords {
  private readonly lock = new Serial();
  /** Per-height WAL usage: every height with records once `complete`, else loaded per height on first use. */
  private readonly usage = new Map<number, { next: number; bytes: number }>();
  /**
   * Whether `usage` lists every height that has WAL records: true after the one scan of the whole
   * WAL at first use found at most WAL_SCAN_RECORDS_MAX (this object is the store's only WAL
   * writer and keeps `usage` up to date), so a height missing from it has none and neither a
   * new height nor a prune reads the disk. null before that scan, false when it found too many.
   */
  private complete: boolean | null = null;

  constructor(private readonly ctx: StoreContext) {}

  async putSignerState(s: Uint8Array): Promise<void> {
    this.ctx.assertOpen();
    checkBytes('signer state', s, this.ctx.limits.maxSignerStateBytes, 'maxSignerStateBytes', 1);
    await durablePut(this.ctx.db, singleKey(P_SIGNER), s);
  }

  async getSignerState(): Promise<Uint8Array | undefined> {
    this.ctx.assertOpen();
    const v = await this.ctx.db.get(singleKey(P_SIGNER));
    return v === undefined ? undefined : plain(v);
  }

  async walAppend(height: number, records: Uint8Array[], opts: { sync?: boolean } = {}): Promise<void> {
    this.ctx.assertOpen();
    const bytes = this.checkWalArgs(height, records);
    if (records.length === 0) return;
    return this.lock.run(async () => {
      this.ctx.assertOpen();
      const { ops, commit } = await this.walOps(height, records, bytes);
      await writeBatch(this.ctx.db, ops, { durable: opts.sync !== false });
      commit();
    });
  }

  /**
   * The signer state and records of height's WAL in ONE synced batch: a consensus step's received
   * messages, the state it moved to and the messages that state signed are durable together, at
   * the cost of one fsync, before any of those messages leaves the process.
   */
  async putSignerStateWithWal(s: Uint8Array, height: number, records: Uint8Array[]): Promise<void> {
    this.ctx.assertOpen();
    checkBytes('signer state', s, this.ctx.limits.maxSignerStateBytes, 'maxSignerStateBytes', 1);
    const bytes = this.checkWalArgs(height, records);
    return this.lock.run(async () => {
      this.ctx.assertOpen();
      const { ops, commit } = await this.walOps(height, records, bytes);
      ops.push({ type: 'put', key: singleKey(P_SIGNER), value: s });
      await writeBatch(this.ctx.db, ops, { durable: true });
      commit();
    });
  }

  /** Checks walAppend's arguments (cheap facts, outside the lock); their total bytes. */
  private checkWalArgs(height: number, records: Uint8Array[]): number {
    const L = this.ctx.limits;
    checkNat('height', height);
    if (!Array.isArray(records)) bad('records must be an array');
    checkLimit('WAL records per append', records.length, L.maxWalRecordsPerAppend, 'maxWalRecordsPerAppend');
    let bytes = 0;
    records.forEach((r, i) => {
      bytes += checkBytes(`WAL record ${i}`, r, L.maxWalRecordBytes, 'maxWalRecordBytes').length;
    });
    return bytes;
  }

  /** The puts appending `records` to height's WAL (WAL_FULL past its caps); `commit` once written. Under the lock. */
  private async walOps(height: number, records: Uint8Array[], bytes: number): Promise<{ ops: BatchOp[]; commit: () => void }> {
    const L = this.ctx.limits;
    if (records.length === 0) return { ops: [], commit: () => undefined };
    const usage = await this.walUsageOf(height);
    if (usage.next + records.length > L.maxWalRecordsPerHeight) {
      throw new StoreError('WAL_FULL', `WAL of height ${height} would hold ${usage.next + records.length} records, more than maxWalRecordsPerHeight = ${L.maxWalRecordsPerHeight}`);
    }
    if (usage.bytes + bytes > L.maxWalBytesPerHeight) {
      throw new StoreError('WAL_FULL', `WAL of height ${height} would hold ${usage.bytes + bytes} bytes, more than maxWalBytesPerHeight = ${L.maxWalBytesPerHeight}`);
    }
    const ops: BatchOp[] = records.map((r, i) => ({ type: 'put', key: walKey(height, usage.next + i), value: r }));
    return {
      ops,
      commit: () => {
        usage.next += records.length;
        usage.bytes += bytes;
      },
    };
  }

  /** Record count and bytes of height's WAL: from the one whole-WAL scan, else scanned once per height per process. Under the lock. */
  private async walUsageOf(height: number): Promise<{ next: number; bytes: number }> {
    if (this.complete === null) await this.scanAll();
    let usage = this.usage.get(height);
    if (usage !== undefined) return usage;
    if (this.complete === true) {
      usage = { next: 0, bytes: 0 };
    } else {
      const records = await this.walRecords(height);
      let bytes = 0;
      for (const r of records) bytes += r.value.length;
      usage = { next: records.length === 0 ? 0 : walSeqOfKey(records[records.length - 1]!.key) + 1, bytes };
    }
    this.usage.set(height, usage);
    return usage;
  }

  /**
   * Reads the keys and sizes of the whole WAL once (normally the records of one undecided height):
   * `usage` of every height in it, and `complete`. More than WAL_SCAN_RECORDS_MAX records or
   * maxWalBytesPerHeight bytes in all, or a height past its record cap, leaves `complete` false
   * and `usage` empty: heights are then scanned one by one, and their reads refuse a height past
   * its caps as before. Under the lock.
   */
  private async scanAll(): Promise<void> {
    const L = this.ctx.limits;
    const found = new Map<number, { next: number; bytes: number }>();
    let count = 0;
    let total = 0;
    let ok = true;
    const it = this.ctx.db.iterator({ gte: walKey(0, 0), lt: prefixEnd(P_WAL), limit: WAL_SCAN_RECORDS_MAX + 1 });
    try {
      for await (const [key, value] of it) {
        // A WAL key is P_WAL ‖ u64 height ‖ u32 seq: the height reads like a prefix ‖ u64 key's number.
        const height = u64OfKey(key);
        let u = found.get(height);
        if (u === undefined) found.set(height, (u = { next: 0, bytes: 0 }));
        u.next = walSeqOfKey(key) + 1;
        u.bytes += value.length;
        total += value.length;
        if (++count > WAL_SCAN_RECORDS_MAX || total > L.maxWalBytesPerHeight || u.next > L.maxWalRecordsPerHeight) {
          ok = false;
          break;
        }
      }
    } finally {
      await it.close();
    }
    this.complete = ok;
    if (ok) for (const [h, u] of found) this.usage.set(h, u);
  }

  private async walRecords(height: number): Promise<{ key: Uint8Array; value: Uint8Array }[]> {
    const L = this.ctx.limits;
    const out: { key: Uint8Array; value: Uint8Array }[] = [];
    let bytes = 0;
    const it = this.ctx.db.iterator({ gte: walKey(height, 0), lt: walKey(height + 1, 0), limit: L.maxWalRecordsPerHeight + 1 });
    try {
      for await (const [key, value] of it) {
        bytes += value.length;
        if (out.length >= L.maxWalRecordsPerHeight || bytes > L.maxWalBytesPerHeight) {
          throw new StoreError('LIMIT_EXCEEDED', `WAL of height ${height} exceeds maxWalRecordsPerHeight = ${L.maxWalRecordsPerHeight} or maxWalBytesPerHeight = ${L.maxWalBytesPerHeight}`);
        }
        out.push({ key: plain(key), value: plain(value) });
      }
    } finally {
      await it.close();
    }
    return out;
  }

  async walRead(height: number): Promise<Uint8Array[]> {
    this.ctx.assertOpen();
    checkNat('height', height);
    return (await this.lock.run(() => this.walRecords(height))).map((r) => r.value);
  }

  async walPrune(belowHeight: number): Promise<void> {
    this.ctx.assertOpen();
    checkNat('belowHeight', belowHeight);
    await this.lock.run(async () => {
      if (this.complete === null) await this.scanAll();
      // Not synced: a prune lost in a crash only leaves old records behind, which are pruned again
      // (the scan at first use finds them). With every record's key known, the records are deleted
      // by key in one batch; otherwise by range, which walks the keys in LevelDB.
      if (this.complete === true) {
        const ops: BatchOp[] = [];
        for (const [h, u] of this.usage) if (h < belowHeight) for (let i = 0; i < u.next; i++) ops.push({ type: 'del', key: walKey(h, i) });
        if (ops.length > 0) await writeBatch(this.ctx.db, ops, { durable: false });
      } else {
        await this.ctx.db.clear({ gte: walKey(0, 0), lt: walKey(belowHeight, 0) });
      }
      for (const h of [...this.usage.keys()]) if (h < belowHeight) this.usage.delete(h);
      // Prune follows a decision: scan the next height's WAL now, not at its first append (our
      // or the received proposal), which is on the path of every entry of an idle network.
      await this.walUsageOf(belowHeight);
    });
  }

  /** Resolves once the writes queued before it are done. */
  drain(): Promise<void> {
    return this.lock.run(async () => undefined);
  }
}

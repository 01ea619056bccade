// The runner's WAL records between writes. A message the driver used is recorded here at once and
// reaches the store with the next synced signer-state write, in the same batch (the step's
// received messages, the state it moved to and the messages that state signed: one fsync, one
// write call), or, when no step follows, in one unsynced write once the runner's queue is empty.
// Each record used to cost its own write call, awaited before the message's effects ran: about
// ten per height per peer, on the path of every consensus step.
//
// What a crash can lose is what was not written yet: messages received since the last synced step
// (liveness only: peers re-send their messages while a height is stuck). Our own messages are
// never among them: they are written with the signer state that signed them, before they leave.

/** Records held before a write is forced (count and bytes), so a busy queue cannot grow it without bound. */
export const WAL_BUFFER_RECORDS_MAX = 256;
export const WAL_BUFFER_BYTES_MAX = 4 * 1024 * 1024;

export class WalBuffer {
  private current = -1;
  private records: Uint8Array[] = [];
  private bytes = 0;

  /** Records waiting for a write. */
  get size(): number {
    return this.records.length;
  }

  /** The height the waiting records belong to (-1: none yet). */
  get height(): number {
    return this.current;
  }

  /**
   * Adds a record of `height`. Records of an earlier height are dropped: the runner moved on
   * because that height was decided or caught up, and its WAL is pruned.
   */
  add(height: number, rec: Uint8Array): void {
    if (height !== this.current) this.reset(height);
    this.records.push(rec);
    this.bytes += rec.length;
  }

  /** True once the records should be written before more are added. */
  full(): boolean {
    return this.records.length >= WAL_BUFFER_RECORDS_MAX || this.bytes >= WAL_BUFFER_BYTES_MAX;
  }

  /** Hands over the records of `height` (none when the buffer holds another height's) and empties the buffer. */
  take(height: number): Uint8Array[] {
    const out = height === this.current ? this.records : [];
    this.reset(height);
    return out;
  }

  /** Forgets records of heights below `height` (decided or abandoned). */
  dropBelow(height: number): void {
    if (this.current < height) this.reset(height);
  }

  private reset(height: number): void {
    this.current = height;
    this.records = [];
    this.bytes = 0;
  }
}

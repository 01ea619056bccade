// Our one-signature checkpoint notes: a local copy of our own signature line for a size, kept
// only when that size is still not final a while after we signed it (checkpoint-collect.ts signs).
import type { Store } from '../storage/store.js';

/**
 * Our one-signature note of a size is written (synced) only if the size is still not final this
 * long after we signed it. It is a local copy (Ed25519 is deterministic: a restarted peer makes
 * the same line again) that nothing needs for safety; written at once, its fsync ran exactly when
 * the final checkpoint's did, which then waited for it (one store, one writer).
 */
export const NOTE_DELAY_MS = 1_000;

export interface NotesHost {
  store: Pick<Store, 'getCheckpoint' | 'putCheckpoint'>;
  log?: (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

export class OneSignatureNotes {
  /** Our one-signature notes waiting for NOTE_DELAY_MS, by size, and the timer that writes them. */
  private readonly notes = new Map<number, Uint8Array>();
  private notesTimer: ReturnType<typeof setTimeout> | null = null;
  private notesWrite: Promise<void> | null = null;
  private closed = false;

  /** `final`: the largest final size so far; `sizesMax`: notes kept waiting at once (oldest dropped). */
  constructor(
    private readonly h: NotesHost,
    private readonly final: () => number,
    private readonly sizesMax: number,
  ) {}

  /** Our note of `size`, written NOTE_DELAY_MS from now unless the size is final by then. */
  defer(size: number, note: Uint8Array): void {
    this.notes.set(size, note);
    if (this.notes.size > this.sizesMax) this.notes.delete(this.notes.keys().next().value!);
    if (this.notesTimer !== null || this.closed) return;
    this.notesTimer = setTimeout(() => {
      this.notesTimer = null;
      this.notesWrite = this.writeNotes()
        .catch((err: Error) => this.h.log?.('debug', 'one-signature checkpoint note not kept', { error: err.message }))
        .finally(() => (this.notesWrite = null));
    }, NOTE_DELAY_MS);
    // A pending local copy never keeps the process alive (a stopped peer just does not keep it).
    this.notesTimer.unref?.();
  }

  /** Before the store closes: no deferred note is written any more (they are local copies only). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.notesTimer !== null) clearTimeout(this.notesTimer);
    this.notesTimer = null;
    this.notes.clear();
    await this.notesWrite;
  }

  /** Writes the deferred notes of sizes still not final (one by one; a newer batch waits for the next timer). */
  private async writeNotes(): Promise<void> {
    const due = [...this.notes];
    this.notes.clear();
    for (const [size, note] of due) {
      if (size <= this.final()) continue;
      // The store never lets a one-signature note replace a final one (checkpoint-records.ts).
      if ((await this.h.store.getCheckpoint(size)) === undefined) await this.h.store.putCheckpoint(size, note, false);
    }
  }
}

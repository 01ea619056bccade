// What moves the head: a decided block applied to the ledger (then our checkpoint signature and
// the WAL prune, neither waited for) and a catch-up's certified blocks applied in the runner's
// queue; after either, the next height starts if there is work (consensus-runner.ts, file header).
import { timeline, timelineOn } from '../../timeline/recorder.js';
import { invariant } from '../../../src/assert.js';
import { RunnerIntake } from './intake.js';

export abstract class RunnerDecide extends RunnerIntake {
  /** Entries in the last block this peer decided (the eager-start rule of consensus-runner.ts reads it). */
  protected abstract lastBlockEntries: number;
  /** Starts the next height when there is work for it (consensus-runner.ts). */
  protected abstract maybeStart(): void;

  protected async onDecide(height: number, value: Uint8Array, certificate: Uint8Array): Promise<void> {
    invariant(height === this.driver.height, 'DECIDE_HEIGHT', () => `decide for height ${height} while the driver is at ${this.driver.height}`);
    this.running = false;
    this.lastProgressMs = this.clock.now();
    const head = this.o.ledger.getHead();
    if (height === head.height + 1) {
      if (timelineOn) timeline('block.decide', `h=${height}`);
      let info: { count?: number; treeSize?: number } | undefined;
      try {
        info = (await this.o.ledger.apply(value, certificate, { sign: false, mode: 'consensus' })) as typeof info;
      } catch (e) {
        // q validators committed a block that our ledger refuses: our state differs from theirs.
        this.halt('DIVERGENCE', `decided block ${height} does not apply: ${(e as Error).message}`, { height });
        return;
      }
      this.stats.decided++;
      this.lastBlockEntries = info?.count ?? 0;
      this.o.log('debug', 'decided', { height, entries: info?.count, treeSize: info?.treeSize });
      // Not waited for (nor the prune below): signHead gossips our signature before its first await;
      // what follows is the final note's synced write, which the next height does not read. Each
      // wait put a write between two heights that took longer after a large block, so one slow
      // height made the next slower and blocks stayed large. A prune lost in a crash is redone.
      // A failure here is the store's (the final note could not be written): fail-stop, as for
      // any durable write consensus relies on, rather than carry on unable to report finality.
      this.detach(this.o.ledger.signHead().catch((e: Error) => {
        if (!this.stopped) this.halt('STORE_FAILED', `checkpoint of height ${height} not signed: ${e.message}`, { height });
      }));
    }
    // Messages of the decided height still held are of no use to a restart: never written.
    this.walBuffer.dropBelow(height + 1);
    this.detach(this.o.store.walPrune(height + 1).catch((e: Error) => this.o.log('warn', 'WAL prune failed', { error: e.message })));
    this.afterHeadMoved();
  }

  /** After a decide or a catch-up: start the next height if there is work for it. */
  protected afterHeadMoved(): void {
    const next = this.o.ledger.getHead().height + 1;
    if (this.held.has(next) || this.driver.bufferedCount(next) > 0) {
      void this.enqueue(() => this.startHeight(next));
    } else {
      this.maybeStart();
    }
  }

  /**
   * Catch-up: runs `apply` (Ledger.applyRange of certified blocks from `from` = head + 1, whose
   * certificates it verifies) in the runner's queue, so it never races a decide of the same
   * height; null when `from` is no longer head + 1. Errors reach the caller.
   */
  applySyncedWith<T>(from: number, apply: () => Promise<T>): Promise<T | null> {
    return new Promise((resolve, reject) => {
      void this.enqueue(async () => {
        if (from !== this.o.ledger.getHead().height + 1) return resolve(null);
        try {
          resolve(await apply());
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        } finally {
          // Abandon whatever height the driver was at: the next start-height goes to head + 1.
          if (this.o.ledger.getHead().height >= from) {
            this.running = false;
            this.walBuffer.dropBelow(this.o.ledger.getHead().height + 1);
          }
        }
      }).then(() => resolve(null));
    });
  }

  /** Catch-up finished: sign the new head, start the next height if there is work. */
  caughtUp(): Promise<void> {
    return this.enqueue(async () => {
      await this.o.ledger.signHead();
      await this.o.store.walPrune(this.o.ledger.getHead().height + 1);
      this.afterHeadMoved();
    });
  }
}

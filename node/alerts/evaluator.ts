// The peer's alert evaluator: final entries in → alerts accepted by the durable outbox. Its
// position and correlation state are saved in the peer's LevelDB ('A' 's', JSON) every
// `snapshotEvery` entries, not after every block: after a crash or restart it resumes from the
// saved snapshot and re-evaluates the entries since then. Evaluation being deterministic, that
// re-creates exactly the alerts it had made, with the same ids, and the outbox accepts each
// (alert, destination) only once; so nothing is lost and nothing is delivered twice because of it.
//
// When the outbox is full (or any other failure), onFinal() throws after rolling back to the saved
// snapshot: the caller feeds entries again from nextIndex() later.
import type { ClassicLevel } from 'classic-level';
import { AlertEngine, type EngineSnapshot } from '../../src/alerts/engine.js';
import type { Alert, EngineLimits, FinalEntry, Rule } from '../../src/alerts/types.js';
import { DEFAULT_ENGINE_LIMITS } from '../../src/alerts/types.js';
import { durableBatch } from '../storage/durable.js';
import { P_ALERTS } from '../storage/keys.js';
import type { Outbox } from './outbox.js';

type Db = Pick<ClassicLevel<Uint8Array, Uint8Array>, 'get' | 'getMany' | 'put' | 'batch' | 'iterator'>;

/** Alerts handed to the outbox in one synced write at most. */
export const ENQUEUE_CHUNK = 16;

const SNAPSHOT_KEY = Uint8Array.of(P_ALERTS, 0x73); // 'A' 's'

export interface EvaluatorOptions {
  rules: readonly Rule[];
  outbox: Pick<Outbox, 'enqueue'>;
  /** Entries evaluated between two saved snapshots (bounds the re-evaluation after a crash). */
  snapshotEvery?: number;
  limits?: EngineLimits;
  /** Where to start when nothing is saved yet (default 0: the whole log). */
  startIndex?: number;
}

export class AlertEvaluator {
  private engine: AlertEngine;
  private saved: EngineSnapshot | undefined;
  private sinceSave = 0;
  private rules: readonly Rule[];
  private readonly snapshotEvery: number;
  private readonly limits: EngineLimits;

  private constructor(private readonly db: Db, private readonly outbox: Pick<Outbox, 'enqueue'>, opts: EvaluatorOptions) {
    this.rules = opts.rules;
    this.snapshotEvery = opts.snapshotEvery ?? 10_000;
    this.limits = opts.limits ?? DEFAULT_ENGINE_LIMITS;
    this.engine = new AlertEngine(this.rules, this.limits);
  }

  /** Opens the evaluator and restores its saved position and state (index 0 when none). */
  static async open(db: Db, opts: EvaluatorOptions): Promise<AlertEvaluator> {
    const ev = new AlertEvaluator(db, opts.outbox, opts);
    const raw = await db.get(SNAPSHOT_KEY);
    if (raw !== undefined) {
      ev.saved = JSON.parse(new TextDecoder().decode(raw)) as EngineSnapshot;
      ev.engine.restore(ev.saved);
    } else if (opts.startIndex !== undefined && opts.startIndex > 0) {
      ev.saved = { v: 1, nextIndex: opts.startIndex, rules: [] };
      ev.engine.restore(ev.saved);
    }
    return ev;
  }

  /** The index of the next final entry to feed. */
  nextIndex(): number {
    return this.engine.expectedIndex;
  }

  get stats() {
    return this.engine.stats;
  }

  /**
   * Evaluates final entries (consecutive, starting at nextIndex()) and hands the alerts to the
   * outbox; resolves once they are durable there. Throws (OutboxFullError when the outbox is
   * full) after rolling back to the saved snapshot.
   */
  async onFinal(entries: readonly FinalEntry[]): Promise<Alert[]> {
    const alerts: Alert[] = [];
    let pending: Alert[] = [];
    let expected = this.nextIndex();
    try {
      for (const e of entries) {
        if (e.index !== expected) throw new RangeError(`final entries must be fed in order without gaps: expected ${expected}, got ${e.index}`);
        expected++;
        const made = this.engine.evaluate(e);
        alerts.push(...made);
        pending.push(...made);
        // Handed over in small chunks: after a refusal and a rollback, the chunks accepted before
        // it are duplicates when fed again, so each retry gets further even if the whole batch
        // would never fit in the outbox at once.
        if (pending.length >= ENQUEUE_CHUNK) {
          await this.outbox.enqueue(pending);
          pending = [];
        }
      }
      if (pending.length > 0) await this.outbox.enqueue(pending);
    } catch (e) {
      this.rollback();
      throw e;
    }
    this.sinceSave += entries.length;
    if (this.sinceSave >= this.snapshotEvery) await this.save();
    return alerts;
  }

  /** Saves position and state now (the peer also calls it on a clean shutdown). */
  async save(): Promise<void> {
    const snap = this.engine.snapshot();
    await durableBatch(this.db, [{ type: 'put', key: SNAPSHOT_KEY, value: new TextEncoder().encode(JSON.stringify(snap)) }]);
    this.saved = snap;
    this.sinceSave = 0;
  }

  /**
   * New rules (a reload): the state of rules whose id and version are unchanged is kept; changed or
   * new rules start with empty state at the current position.
   */
  async replaceRules(rules: readonly Rule[]): Promise<void> {
    const snap = this.engine.snapshot();
    this.rules = rules;
    this.engine = new AlertEngine(rules, this.limits);
    this.engine.restore(snap);
    await this.save();
  }

  private rollback(): void {
    this.engine = new AlertEngine(this.rules, this.limits);
    if (this.saved !== undefined) this.engine.restore(this.saved);
    this.sinceSave = 0;
  }
}

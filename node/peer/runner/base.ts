// State, construction, status, the serialized task queue and fail-stop of the consensus runner
// (the message flow and the effects are in ../consensus-runner.ts, which extends this class).
import { toHex } from '../../../src/encoding/bytes.js';
import { nodeVerifier } from '../../../src/crypto/node.js';
import { isInvariantError } from '../../../src/assert.js';
import { ConsensusDriver, proposer, ROUNDS_KEPT_DEFAULT, VALIDATORS_MAX, type ConsensusConfig } from '../../../src/consensus/index.js';
import { OwnMessages } from '../own-messages.js';
import { HeightAdmission } from './admission.js';
import { EvidenceBudget } from './evidence.js';
import { HeldProposals } from './held.js';
import { systemClock, type RunnerClock, type RunnerSets } from './ports.js';
import { fastSha256 } from './envelope.js';
import type { HaltCode, RunnerOptions, RunnerStatus } from './types.js';
import { GossipBudget, HEIGHTS_AHEAD_MAX, HELD_PER_VALIDATOR_MAX, WAL_BYTES_PER_HEIGHT_DEFAULT, WAL_RECORDS_PER_HEIGHT_DEFAULT } from './limits.js';

export abstract class RunnerBase {
  protected driver!: ConsensusDriver;
  protected readonly cfg: ConsensusConfig;
  protected readonly clock: RunnerClock;
  protected readonly valueId: (v: Uint8Array) => Uint8Array;
  /** n of the genesis set. */
  protected readonly n: number;
  /** Per-height validator sets (governance); null = the genesis set at every height. */
  protected readonly sets: RunnerSets | null;
  protected readonly roundsKept: number;
  protected queue: Promise<void> = Promise.resolve();
  protected depth = 0;
  protected readonly gossipBudget: GossipBudget;
  /** A height was started with the driver and is not decided yet. */
  protected running = false;
  protected startTimer: unknown = null;
  protected readonly timers = new Set<unknown>();
  protected readonly held: HeldProposals;
  protected readonly admission: HeightAdmission;
  protected readonly evidenceBudget: EvidenceBudget;
  protected stopped = false;
  protected halted: HaltCode | null = null;
  protected unsubscribeMempool: (() => void) | null = null;
  protected stats = { decided: 0, evidence: 0, rejected: {} as Record<string, number>, resent: 0, walSkipped: 0 };
  /** Our own messages of the current height, for re-sending. */
  protected readonly own = new OwnMessages();
  protected resendTimer: unknown = null;
  protected lastProgressMs: number;

  constructor(protected readonly o: RunnerOptions) {
    const g = o.genesis;
    this.clock = o.clock ?? systemClock;
    this.valueId = o.crypto?.valueId ?? fastSha256;
    this.n = g.validators.length;
    const sets = o.sets ?? o.ledger.validatorSets ?? null;
    this.sets = sets;
    this.lastProgressMs = this.clock.now();
    this.cfg = {
      chainId: g.origin,
      validators: g.validators.map((v) => ({ name: v.name, publicKey: v.publicKey })),
      selfIndex: o.selfIndex,
      signer: o.signer,
      ...(sets !== null ? { validatorSetAt: (h: number) => sets.at(h) } : {}),
      verifier: o.crypto?.verifier ?? nodeVerifier,
      getValue: (height, round) => o.ledger.buildBlock(height, proposer(height, round, this.nAt(height))),
      isValid: (_height, value) => o.ledger.verdict(toHex(this.valueId(value))) === true,
      isTimely: (_height, value) => o.ledger.timely?.(value) ?? true, proposerOf: (value) => o.ledger.proposerOf?.(value) ?? null,
      valueId: this.valueId,
      timeouts: g.limits.timeouts,
      maxValueBytes: g.limits.maxBlockBytes + 1024,
      ...o.driverOverrides,
    };
    this.roundsKept = this.cfg.maxRoundsKept ?? ROUNDS_KEPT_DEFAULT;
    const maxValue = this.cfg.maxValueBytes!;
    // One validator may have a couple of proposals (whole blocks) and its votes in the queue.
    // Indexes of every set share the per-validator slots; with changing sets any index may occur.
    this.gossipBudget = new GossipBudget(sets === null ? this.n : VALIDATORS_MAX, 2 * maxValue + 1024 * 1024);
    this.held = new HeldProposals(HELD_PER_VALIDATOR_MAX, HEIGHTS_AHEAD_MAX * this.n * HELD_PER_VALIDATOR_MAX * maxValue);
    const storeLimits = (o.store as { limits?: { maxWalRecordsPerHeight?: number; maxWalBytesPerHeight?: number } }).limits;
    // Shares sum to at most the store's per-height cap, so admitted messages never fill it: one
    // validator's junk can use up only its own share.
    this.admission = new HeightAdmission(
      this.n,
      o.walQuota ??
        ((n: number) => ({
          recordsPerValidator: Math.floor((storeLimits?.maxWalRecordsPerHeight ?? WAL_RECORDS_PER_HEIGHT_DEFAULT) / n),
          bytesPerValidator: Math.floor((storeLimits?.maxWalBytesPerHeight ?? WAL_BYTES_PER_HEIGHT_DEFAULT) / n),
        })),
    );
    this.evidenceBudget = new EvidenceBudget(this.n);
  }

  /** n of the validator set of `height`. */
  protected nAt(height: number): number {
    return this.sets === null ? this.n : this.sets.at(height).validators.length;
  }

  /** Our validator index at `height` (null: not a validator there). */
  protected selfAt(height: number): number | null {
    return this.sets === null ? this.o.selfIndex : this.sets.at(height).selfIndex;
  }

  /** Starts tracking the WAL admission of `height` with that height's set size. */
  protected trackHeight(height: number): void {
    this.admission.reset(height, this.nAt(height));
  }

  status(): RunnerStatus {
    const wal = this.admission.usage();
    return {
      height: this.driver?.height ?? 0,
      round: this.driver?.round ?? 0,
      step: this.driver?.step ?? 'propose',
      running: this.running,
      halted: this.halted !== null,
      haltCode: this.halted,
      queueDepth: this.depth,
      queueBytes: this.gossipBudget.queuedBytes,
      heldProposals: this.held.count,
      heldBytes: this.held.heldBytes,
      walRecords: wal.records,
      walBytes: wal.bytes,
      walSkipped: this.stats.walSkipped,
      decided: this.stats.decided,
      resent: this.stats.resent,
      evidence: this.stats.evidence,
      rejected: { ...this.stats.rejected },
    };
  }

  /**
   * Runs `task` after everything queued before it (not at all once stopped or halted); `done`
   * runs in every case. Errors are logged, never thrown into the loop; a broken invariant halts.
   */
  enqueue(task: () => Promise<void>, done?: () => void): Promise<void> {
    this.depth++;
    const run = this.queue.then(async () => {
      try {
        if (this.stopped || this.halted !== null) return;
        await task();
      } catch (e) {
        if (isInvariantError(e)) this.halt('INVARIANT', e.message, { invariant: e.code });
        else this.o.log('error', 'consensus task failed', { error: (e as Error).message, stack: (e as Error).stack });
      } finally {
        this.depth--;
        done?.();
      }
    });
    this.queue = run;
    return run;
  }

  protected count(code: string): void {
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1;
  }

  protected async walAppend(height: number, bytes: Uint8Array): Promise<boolean> {
    try {
      await this.o.store.walAppend(height, [bytes], { sync: false });
      return true;
    } catch (e) {
      const full = (e as { code?: string }).code === 'WAL_FULL';
      // The shares sum to the store's cap, so a full WAL means something else wrote to it or the
      // disk failed: carrying on would drop messages silently and a restart could not resume.
      this.halt(full ? 'WAL_FULL' : 'STORE_FAILED', `WAL append for height ${height} failed: ${(e as Error).message}`);
      return false;
    }
  }

  /** Stops consensus on this peer for good (fail-stop): no more driver input, no timers. */
  protected halt(code: HaltCode, message: string, fields?: Record<string, unknown>): void {
    if (this.halted !== null) return;
    this.halted = code;
    this.running = false;
    if (this.startTimer !== null) this.clock.clearTimeout(this.startTimer);
    if (this.resendTimer !== null) this.clock.clearTimeout(this.resendTimer);
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
    this.o.log('error', 'consensus halted', { code, reason: message, ...fields });
    try {
      this.o.onHalt?.(code, message, fields);
    } catch (e) {
      this.o.log('error', 'onHalt callback failed', { error: (e as Error).message });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribeMempool?.();
    if (this.startTimer !== null) this.clock.clearTimeout(this.startTimer);
    if (this.resendTimer !== null) this.clock.clearTimeout(this.resendTimer);
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
    await this.queue.catch(() => undefined);
  }
}

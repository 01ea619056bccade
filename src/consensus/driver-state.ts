// The consensus driver's state (driver.ts has the overview): the validator set of the height,
// the round state, the vote keeper, the signer guard, value checks and the future-height buffer;
// construction and restore from a SignerState, read-only accessors, signature check and counting
// of verified messages. The rules live in driver-rules.ts, the inputs in driver.ts.
import type { ConsensusConfig, ConsensusMessage, Effect, SignerState, Step } from './types.js';
import { ConsensusError } from './errors.js';
import { checkMessage } from './message-check.js';
import { initialState, type RoundState } from './state-machine.js';
import { SignerGuard } from './signer-guard.js';
import { ValueChecks } from './validity.js';
import { VoteKeeper } from './vote-keeper.js';
import { resolveConfig, resolveSet, type ResolvedSet } from './driver-config.js';
import { FutureBuffer } from './future-buffer.js';
import { checkSignerState, toSignerState } from './signer-state.js';

/** 'halted': an invariant broke (transition limit); the driver takes no more input, signs nothing. */
export type Phase = 'idle' | 'running' | 'decided' | 'halted';

export abstract class DriverState {
  /** The validator set of the current height (n, q, skip, our index and signer). */
  protected set: ResolvedSet;
  /** The one set of a config without validatorSetAt. */
  protected readonly fixedSet: ResolvedSet | null;
  protected readonly roundsKept: number;
  protected readonly pastRoundsKept: number;
  protected readonly heightWindow: number;
  protected readonly maxValueBytes: number;
  protected readonly valueIdOf: (value: Uint8Array) => Uint8Array;

  protected state: RoundState;
  protected phase: Phase = 'idle';
  protected resumePending = false;
  protected keeper: VoteKeeper;
  protected readonly guard: SignerGuard;
  /** valid(v) (cached), attribution and timeliness of proposed values: see validity.ts. */
  protected readonly checks: ValueChecks;
  protected readonly buffer: FutureBuffer;
  /** Effects of the input being handled. */
  protected out: Effect[] = [];
  /** Rounds that got a new proposal or precommit during this input (candidates for L49). */
  protected touched = new Set<number>();

  constructor(
    protected readonly cfg: ConsensusConfig,
    restored?: SignerState,
  ) {
    const r = resolveConfig(cfg);
    this.roundsKept = r.roundsKept;
    this.pastRoundsKept = r.pastRoundsKept;
    this.heightWindow = r.heightWindow;
    this.maxValueBytes = r.maxValueBytes;
    this.valueIdOf = r.valueIdOf;
    const twoF = cfg.bugs?.quorumTwoFPlusOne === true;
    this.fixedSet =
      cfg.validatorSetAt === undefined
        ? { validators: cfg.validators, n: r.n, q: r.q, skip: r.skip, selfIndex: cfg.selfIndex, signer: cfg.signer, canSign: r.canSign, known: true }
        : null;
    // The set of the restored height (the one of height 0 until a height starts): a set the
    // config cannot give is a broken config, refused like any other.
    try {
      this.set = this.fixedSet ?? resolveSet(cfg.validatorSetAt!(restored?.height ?? 0), twoF);
    } catch (e) {
      throw new ConsensusError('BAD_CONFIG', `validatorSetAt(${restored?.height ?? 0}): ${(e as Error).message}`);
    }
    // Per validator: the bound of maxBufferedPerHeight over the configured set's n.
    this.buffer = new FutureBuffer(r.bufferedPerValidator);
    // Proposals are one per round, so this bound is rarely reached.
    this.checks = new ValueChecks(cfg, () => this.set.n, 4 * this.roundsKept + 4);

    if (restored === undefined) {
      this.state = initialState(0);
      this.guard = new SignerGuard(null);
    } else {
      checkSignerState(restored);
      const s = initialState(restored.height);
      this.state = {
        ...s,
        round: restored.round,
        step: restored.step,
        lockedValue: restored.lockedValue,
        lockedId: restored.lockedValue === null ? null : this.valueIdOf(restored.lockedValue),
        lockedRound: restored.lockedRound,
        validValue: restored.validValue,
        validId: restored.validValue === null ? null : this.valueIdOf(restored.validValue),
        validRound: restored.validRound,
        // The restored round was started before the crash: a StartRound of it is a no-op (L11).
        started: true,
      };
      this.guard = new SignerGuard(restored.lastSigned);
      // Restored: running at once (WAL messages may be re-fed before start-height), and the
      // start-height for this height resumes instead of starting over.
      this.phase = 'running';
      this.resumePending = true;
    }
    this.keeper = this.newKeeper(this.state.height);
    this.keeper.setCurrentRound(this.state.round);
  }

  /** A vote keeper for height h that pins our current lockedRound/validRound (restored or initial). */
  protected newKeeper(h: number): VoteKeeper {
    const k = new VoteKeeper(h, this.set.n, this.roundsKept, this.set.skip, this.pastRoundsKept, this.set.q);
    k.pinRounds(this.state.lockedRound, this.state.validRound);
    return k;
  }

  get height(): number {
    return this.state.height;
  }
  get round(): number {
    return this.state.round;
  }
  get step(): Step {
    return this.state.step;
  }
  /** True once the current height is decided (until the next start-height). */
  get decided(): boolean {
    return this.phase === 'decided';
  }
  /** True once an invariant broke; every later input is rejected with HALTED (fail-stop). */
  get halted(): boolean {
    return this.phase === 'halted';
  }
  /** Verified messages buffered for a future height (lets the node start height+1 on a valid message). */
  bufferedCount(height: number): number {
    return this.buffer.count(height);
  }

  /** Validator set of `h`: the fixed one, or the config's for that height (may throw ConsensusError). */
  protected setAt(h: number): ResolvedSet {
    if (this.fixedSet !== null) return this.fixedSet;
    if (h === this.state.height && this.phase !== 'idle') return this.set;
    return resolveSet(this.cfg.validatorSetAt!(h), this.cfg.bugs?.quorumTwoFPlusOne === true);
  }

  /** n of the current height's validator set. */
  get validatorCount(): number {
    return this.set.n;
  }

  /** Everything that must be durable before a signed message leaves (see SignerState). */
  signerState(): SignerState {
    return toSignerState(this.state, this.guard.lastSigned);
  }

  protected verify(msg: ConsensusMessage, id: Uint8Array | null, set: ResolvedSet): { ok: true } | { ok: false; code: string; message: string } {
    // checkMessage re-derives id(v); pass our (possibly custom) valueId function through.
    return checkMessage(msg, set.validators, this.cfg.chainId, this.cfg.verifier, id === null ? this.valueIdOf : () => id, this.maxValueBytes);
  }

  /** Counts a verified message of the current height in the vote keeper. */
  protected ingest(msg: ConsensusMessage, id: Uint8Array | null): void {
    const res = this.keeper.add(msg, id);
    if (res.status === 'equivocation') {
      if (res.evidence !== null) this.out.push({ kind: 'evidence', evidence: res.evidence });
      if (res.counted && msg.type !== 'prevote') this.touched.add(msg.round);
    } else if (res.status === 'out-of-window') {
      this.reject(
        'ROUND_OUT_OF_WINDOW',
        msg.type === 'proposal'
          ? `proposal of round ${msg.round}, more than ${this.roundsKept} (maxRoundsKept) below the current round ${this.state.round}, has fewer than f+1 votes for its value`
          : this.tooOldReason(msg.round),
      );
    } else if (res.status === 'added' && msg.type !== 'prevote') {
      this.touched.add(msg.round);
    }
  }

  protected tooOldReason(round: number): string {
    return `round ${round} is more than ${this.pastRoundsKept} (maxPastRoundsKept) below the current round ${this.state.round} and neither a polka round nor our locked/valid round nor the validRound of a current proposal`;
  }
  // ---------------------------------------------------------------- helpers

  protected reject(code: string, reason: string): void {
    this.out.push({ kind: 'rejected', code, reason });
  }
}

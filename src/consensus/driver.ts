// The consensus driver: turns inputs (start-height, received messages, fired timeouts) into
// ordered effects (persist, broadcast, schedule-timeout, decide, evidence, rejected).
//
//   message -> shape check -> height routing (current / buffered future / stale)
//           -> signature check (injected verifier) -> vote keeper (thresholds, equivocation)
//
// Validator sets may differ per height (cfg.validatorSetAt, governance): the set of the height
// being decided gives n, the quorum, the skip threshold, proposer(h, r) and our index and signer;
// a message is checked against the set of ITS height, and a future-height message checked
// against a set that was not final yet is checked again when its height starts.
//           -> "upon" clauses that now hold -> round state machine (state-machine.ts)
//           -> outputs -> signer guard -> persist BEFORE broadcast
//
// Pure: no I/O, no clock, no randomness; the same inputs always give the same effects.
import type { CommitCertificate, ConsensusConfig, ConsensusMessage, Effect, Input, SignerState, Step } from './types.js';
import { ConsensusError } from './errors.js';
import { checkMessage, checkMessageShape, messageSignBytes } from './message-check.js';
import { proposer } from './quorum.js';
import { initialState, transition, type RoundInput, type RoundOutput, type RoundState } from './state-machine.js';
import { SignerGuard } from './signer-guard.js';
import { ValueChecks } from './validity.js';
import { idKey, VoteKeeper } from './vote-keeper.js';
import { HEIGHT_MAX, ROUND_MAX } from './limits.js';
import { resolveConfig, resolveSet, sameValidators, type ResolvedSet } from './driver-config.js';
import { FutureBuffer, type BufferedMessage } from './future-buffer.js';
import { checkSignerState, toSignerState } from './signer-state.js';

// Kept importable from here: the peer's codec validates stored signer states with it.
export { checkSignerState } from './signer-state.js';

/** Most state-machine transitions one input may cause; each transition strictly advances, so hitting this is a bug. */
const TRANSITIONS_PER_INPUT_MAX = 10_000;

/** 'halted': an invariant broke (transition limit); the driver takes no more input, signs nothing. */
type Phase = 'idle' | 'running' | 'decided' | 'halted';

/** Checks that fail only because a future height's set was not final yet (see rejectFor). */
const SET_DEPENDENT = new Set(['UNKNOWN_VALIDATOR', 'WRONG_PROPOSER', 'BAD_SIGNATURE']);

export class ConsensusDriver {
  /** The validator set of the current height (n, q, skip, our index and signer). */
  private set: ResolvedSet;
  /** The one set of a config without validatorSetAt. */
  private readonly fixedSet: ResolvedSet | null;
  private readonly roundsKept: number;
  private readonly pastRoundsKept: number;
  private readonly heightWindow: number;
  private readonly maxValueBytes: number;
  private readonly valueIdOf: (value: Uint8Array) => Uint8Array;

  private state: RoundState;
  private phase: Phase = 'idle';
  private resumePending = false;
  private keeper: VoteKeeper;
  private readonly guard: SignerGuard;
  /** valid(v) (cached), attribution and timeliness of proposed values: see validity.ts. */
  private readonly checks: ValueChecks;
  private readonly buffer: FutureBuffer;
  /** Effects of the input being handled. */
  private out: Effect[] = [];
  /** Rounds that got a new proposal or precommit during this input (candidates for L49). */
  private touched = new Set<number>();

  constructor(
    private readonly cfg: ConsensusConfig,
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
  private newKeeper(h: number): VoteKeeper {
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
  private setAt(h: number): ResolvedSet {
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

  handle(input: Input): Effect[] {
    this.out = [];
    this.touched = new Set();
    if (this.phase === 'halted') {
      // Whatever state produced the broken invariant cannot be trusted to sign anything more.
      this.reject('HALTED', 'consensus halted after a broken invariant');
    } else if (typeof input !== 'object' || input === null) {
      this.reject('MALFORMED', 'input is not an object');
    } else if (input.kind === 'start-height') {
      this.onStartHeight(input.height);
    } else if (input.kind === 'message') {
      this.onMessage(input.message);
    } else if (input.kind === 'timeout') {
      this.onTimeout(input.height, input.round, input.step);
    } else {
      this.reject('MALFORMED', 'unknown input kind');
    }
    const effects = this.out;
    this.out = [];
    return effects;
  }

  // ---------------------------------------------------------------- inputs

  private onStartHeight(h: unknown): void {
    if (typeof h !== 'number' || !Number.isSafeInteger(h) || h < 0 || h > HEIGHT_MAX) {
      this.reject('BAD_HEIGHT', 'start-height needs an integer height in 0..HEIGHT_MAX');
      return;
    }
    if (this.resumePending && h === this.state.height) {
      this.resume();
      return;
    }
    // A running or decided height may be abandoned for a HIGHER one (the node caught up by
    // other means, e.g. a block with its commit certificate); never for the same or a lower one.
    if (this.phase !== 'idle' || this.resumePending) {
      if (h <= this.state.height) {
        this.reject('BAD_HEIGHT', `cannot start height ${h}: already at height ${this.state.height}`);
        return;
      }
    }
    let set: ResolvedSet;
    try {
      set = this.fixedSet ?? resolveSet(this.cfg.validatorSetAt!(h), this.cfg.bugs?.quorumTwoFPlusOne === true);
    } catch (e) {
      // The caller's set of a height to decide is unusable: nothing can be counted or signed
      // safely at this height. Fail-stop like a broken invariant.
      this.phase = 'halted';
      this.reject('BAD_VALIDATOR_SET', `validator set of height ${h}: ${(e as Error).message}`);
      return;
    }
    this.resumePending = false;
    this.phase = 'running';
    // L53-L54: reset locked/valid values and the message log, then StartRound(0).
    this.state = initialState(h);
    this.set = set;
    this.keeper = this.newKeeper(h);
    this.checks.reset();
    const replay = this.buffer.take(h).filter((e) => this.stillValid(e));
    this.startRound(0);
    const far: BufferedMessage[] = [];
    for (const e of replay) {
      if (this.phase !== 'running') break;
      if (this.keeper.position(e.message.round) === 'far-future') far.push(e);
      this.ingest(e.message, e.valueId);
    }
    this.evaluate();
    // Buffered messages of rounds above the keeper's window only counted for the L55 skip; when
    // the skip brought their round into the window, count them for real (they are the round's
    // votes, and nobody re-sends what we already received).
    if (far.length > 0 && this.phase === 'running') {
      for (const e of far) if (this.keeper.position(e.message.round) === 'kept') this.ingest(e.message, e.valueId);
      this.evaluate();
    }
  }

  /**
   * A buffered message checked against a set believed for its height that differs from the
   * height's real set: checked again (index, proposer(h, r), signature) before it counts.
   */
  private stillValid(e: BufferedMessage): boolean {
    const set = this.set;
    if (sameValidators(e.validators, set.validators)) return true;
    const m = e.message;
    let code: string | null = null;
    if (m.validator >= set.n) code = 'UNKNOWN_VALIDATOR';
    else if (m.type === 'proposal' && m.validator !== proposer(m.height, m.round, set.n)) code = 'WRONG_PROPOSER';
    else if (!this.verify(m, e.valueId, set).ok) code = 'BAD_SIGNATURE';
    if (code === null) return true;
    this.reject('SET_NOT_KNOWN', `buffered ${m.type} of validator ${m.validator} for height ${m.height} fails against that height's validator set (${code})`);
    return false;
  }

  /** start-height after a restore: stay in the restored round/step, re-emit, re-arm the timeout. */
  private resume(): void {
    this.resumePending = false;
    if (this.phase !== 'running') return;
    const s = this.state;
    if (s.step === 'propose') {
      if (this.isProposer(s.round)) {
        // The signer guard re-emits the stored proposal if we had signed one in this round.
        this.onOutput({ kind: 'propose', round: s.round, value: s.validValue, validRound: s.validRound }, s);
      } else {
        this.scheduleTimeout(s.round, 'propose');
      }
    } else {
      const last = this.guard.lastSigned;
      if (this.set.canSign && last !== null && last.height === s.height && last.round === s.round) this.reemit(last.message);
      // Re-arm the step's timeout so a restarted peer cannot wait forever for messages that the
      // network already delivered before the crash. Firing it only ever leads to nil votes or a
      // new round, which are always safe.
      if (s.step === 'prevote') this.state = { ...this.state, l34Round: s.round };
      else this.state = { ...this.state, l47Round: s.round };
      this.scheduleTimeout(s.round, s.step);
    }
    for (const r of this.keeper.storedRounds()) this.touched.add(r);
    this.evaluate();
  }

  private onTimeout(height: unknown, round: unknown, step: unknown): void {
    if (typeof height !== 'number' || typeof round !== 'number' || (step !== 'propose' && step !== 'prevote' && step !== 'precommit')) {
      this.reject('MALFORMED', 'timeout needs numeric height and round and a known step');
      return;
    }
    // Stale timeouts (other height, other round, already moved on) are ignored silently: the
    // state machine's guards at L58/L62/L66 check height/round/step.
    if (this.phase !== 'running' || height !== this.state.height) return;
    const line = step === 'propose' ? 'L57' : step === 'prevote' ? 'L61' : 'L65';
    if (this.apply({ line, height, round })) this.evaluate();
  }

  private onMessage(m: unknown): void {
    // The set of the message's own height (a valid height is needed to ask for it).
    const mh = typeof m === 'object' && m !== null ? (m as { height?: unknown }).height : undefined;
    let set = this.set;
    if (this.fixedSet === null && typeof mh === 'number' && Number.isSafeInteger(mh) && mh >= 0 && mh <= HEIGHT_MAX && mh !== this.state.height) {
      try {
        set = this.setAt(mh);
      } catch (e) {
        return this.reject('SET_NOT_KNOWN', `no usable validator set for height ${mh}: ${(e as Error).message}`);
      }
    }
    const shape = checkMessageShape(m, set.n, this.maxValueBytes);
    if (!shape.ok) return this.rejectFor(set, shape.code, shape.message);
    const msg = m as ConsensusMessage;
    if (this.phase === 'idle' && !this.resumePending) return this.reject('NOT_STARTED', 'no height started yet');
    const h = this.state.height;
    if (msg.height < h || (msg.height === h && this.phase === 'decided')) {
      return this.reject('STALE_HEIGHT', `message for height ${msg.height}, current height ${h} is ${this.phase === 'decided' ? 'decided' : 'ahead'}`);
    }
    // Paper L22/L28/L36/L49: a proposal counts only "from proposer(h, r)" — of that height's set.
    if (msg.type === 'proposal' && msg.validator !== proposer(msg.height, msg.round, set.n)) {
      return this.rejectFor(set, 'WRONG_PROPOSER', `validator ${msg.validator} is not the proposer of height ${msg.height} round ${msg.round}`);
    }
    if (msg.height > h) return this.bufferFuture(msg, set);
    if (this.keeper.position(msg.round) === 'too-old') {
      return this.reject('ROUND_OUT_OF_WINDOW', this.tooOldReason(msg.round));
    }
    if (this.keeper.isExactDuplicate(msg)) return; // already verified and counted
    const id = msg.type === 'proposal' ? this.valueIdOf(msg.value) : null;
    const sig = this.verify(msg, id, this.set);
    if (!sig.ok) return this.reject(sig.code, sig.message);
    this.ingest(msg, id);
    this.evaluate();
  }

  /**
   * A failed check against `set`: when the set was not final (a future height whose set could
   * still change), the sender may be right, so the code says so instead of blaming it.
   */
  private rejectFor(set: ResolvedSet, code: string, reason: string): void {
    if (!set.known && SET_DEPENDENT.has(code)) return this.reject('SET_NOT_KNOWN', `${reason} (checked against a validator set not final yet: ${code})`);
    this.reject(code, reason);
  }

  private bufferFuture(msg: ConsensusMessage, set: ResolvedSet): void {
    const h = this.state.height;
    if (msg.height > h + this.heightWindow) {
      return this.reject('FUTURE_HEIGHT_TOO_FAR', `height ${msg.height} is more than ${this.heightWindow} (futureHeightWindow) above ${h}`);
    }
    const admit = this.buffer.admit(msg);
    if (admit === 'duplicate') return;
    if (admit === 'full') {
      return this.reject('BUFFER_FULL', `validator ${msg.validator} already has ${this.buffer.perValidatorMax} messages buffered for height ${msg.height} (maxBufferedPerHeight / n)`);
    }
    const id = msg.type === 'proposal' ? this.valueIdOf(msg.value) : null;
    const sig = this.verify(msg, id, set);
    if (!sig.ok) return this.rejectFor(set, sig.code, sig.message);
    this.buffer.add(msg, id, set.validators);
  }

  private verify(msg: ConsensusMessage, id: Uint8Array | null, set: ResolvedSet): { ok: true } | { ok: false; code: string; message: string } {
    // checkMessage re-derives id(v); pass our (possibly custom) valueId function through.
    return checkMessage(msg, set.validators, this.cfg.chainId, this.cfg.verifier, id === null ? this.valueIdOf : () => id, this.maxValueBytes);
  }

  /** Counts a verified message of the current height in the vote keeper. */
  private ingest(msg: ConsensusMessage, id: Uint8Array | null): void {
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

  // ---------------------------------------------------------------- rules

  /** Feeds every "upon" clause that holds into the state machine until none does. */
  private evaluate(): void {
    for (let i = 0; i < TRANSITIONS_PER_INPUT_MAX; i++) {
      if (this.phase !== 'running' || this.state.decided) return;
      if (!this.fireOne()) return;
    }
    // Every transition strictly advances the state, so this is a bug, not an attack: stop (the
    // caller halts the peer on TRANSITION_LIMIT) rather than keep voting from a broken state.
    this.phase = 'halted';
    this.reject('TRANSITION_LIMIT', `more than ${TRANSITIONS_PER_INPUT_MAX} (TRANSITIONS_PER_INPUT_MAX) transitions for one input`);
  }

  /** Applies the first clause that holds; false when none does. */
  private fireOne(): boolean {
    const s = this.state;
    const k = this.keeper;
    const q = this.set.q;

    // L49: a proposal and q precommits for it in ANY round r (catch-up decides in any round/step).
    // A round holds several proposals only if its proposer equivocated; each is a candidate.
    this.touched.add(s.round);
    for (const r of [...this.touched].sort((a, b) => a - b)) {
      for (const p of k.proposals(r)) {
        if (k.count(r, 'precommit', idKey(p.valueId)) >= q && this.checks.acceptable(p.proposal, p.valueId)) {
          return this.apply({ line: 'L49', round: r, value: p.proposal.value, valueId: p.valueId });
        }
      }
    }
    this.touched.clear();

    // L55: f+1 messages from a higher round.
    const skipTo = k.skipRound(this.set.skip);
    if (skipTo !== null && skipTo > s.round && this.apply({ line: 'L55', round: skipTo })) return true;

    const proposals = k.proposals(s.round);
    if (s.step === 'propose') {
      for (const p of proposals) {
        const vr = p.proposal.validRound;
        if (vr === -1) {
          // L22. Only here does the local clock matter: whether to prevote a NEW value. It is
          // never part of valid(v), so a peer with a wrong clock still locks and decides below.
          const ok = this.checks.acceptable(p.proposal, p.valueId) && this.checks.timely(s.height, p.proposal.value);
          return this.apply({ line: 'L22', valueId: p.valueId, valid: ok });
        }
        if (k.count(vr, 'prevote', idKey(p.valueId)) >= q) {
          // L28
          return this.apply({ line: 'L28', valueId: p.valueId, validRound: vr, valid: this.checks.acceptable(p.proposal, p.valueId) });
        }
      }
    }
    if (s.step === 'prevote' && s.l34Round !== s.round && k.total(s.round, 'prevote') >= q && this.apply({ line: 'L34' })) return true;
    if (s.step !== 'propose' && s.l36Round !== s.round) {
      for (const p of proposals) {
        // L36: proposal v AND q prevotes for id(v) in round_p, while valid(v) ∧ step ≥ prevote.
        if (k.count(s.round, 'prevote', idKey(p.valueId)) >= q && this.checks.acceptable(p.proposal, p.valueId)) {
          if (this.apply({ line: 'L36', value: p.proposal.value, valueId: p.valueId })) return true;
        }
      }
    }
    if (s.step === 'prevote' && k.count(s.round, 'prevote', 'nil') >= q && this.apply({ line: 'L44' })) return true;
    if (s.l47Round !== s.round && k.total(s.round, 'precommit') >= q && this.apply({ line: 'L47' })) return true;
    return false;
  }

  private tooOldReason(round: number): string {
    return `round ${round} is more than ${this.pastRoundsKept} (maxPastRoundsKept) below the current round ${this.state.round} and neither a polka round nor our locked/valid round nor the validRound of a current proposal`;
  }

  /** Runs one state-machine transition and executes its outputs. */
  private apply(input: RoundInput): boolean {
    const before = this.state;
    const t = transition(before, input, { noLocking: this.cfg.bugs?.noLocking === true });
    if (!t.applied) return false;
    this.state = t.state;
    if (t.state.lockedRound !== before.lockedRound || t.state.validRound !== before.validRound) {
      // L36-L43 moved lockedRound_p / validRound_p: the keeper must keep those rounds' prevotes
      // (our own L28 when we re-propose validValue; see vote-keeper.ts).
      this.keeper.pinRounds(t.state.lockedRound, t.state.validRound);
    }
    for (const o of t.outputs) this.onOutput(o, before);
    return true;
  }

  private onOutput(o: RoundOutput, before: RoundState): void {
    const s = this.state;
    switch (o.kind) {
      case 'propose': {
        if (!this.set.canSign) return;
        // Ask the signer guard first: after a restore the proposal of this round may already be
        // signed, and then it is re-emitted as is, whatever getValue() would return now.
        const d = this.guard.check(s.height, o.round, 'propose');
        if (d.action === 'refuse') return;
        if (d.action === 'reemit') {
          this.reemit(d.message);
          return;
        }
        let value = o.value;
        if (value === null) {
          // L18: proposal ← getValue()
          try {
            value = this.cfg.getValue(s.height, o.round);
          } catch (e) {
            value = null;
            this.reject('GET_VALUE_FAILED', `getValue threw: ${(e as Error)?.message ?? String(e)}`);
          }
          if (value !== null && (!(value instanceof Uint8Array) || value.length > this.maxValueBytes)) {
            this.reject('GET_VALUE_FAILED', `getValue must return at most ${this.maxValueBytes} (maxValueBytes) bytes`);
            value = null;
          }
          if (value === null) {
            // Without a value we cannot propose; behave like a non-proposer (L21) so L57 moves us on.
            this.scheduleTimeout(o.round, 'propose');
            return;
          }
        }
        const proposalValue: Uint8Array = value;
        const id = this.valueIdOf(proposalValue);
        this.signAndSend('propose', o.round, id, before, (signature) => ({
          type: 'proposal',
          height: s.height,
          round: o.round,
          value: proposalValue,
          validRound: o.validRound,
          validator: this.set.selfIndex!,
          signature,
        }));
        return;
      }
      case 'vote': {
        if (!this.set.canSign) return;
        this.signAndSend(o.type, o.round, o.valueId, before, (signature) => ({
          type: o.type,
          height: s.height,
          round: o.round,
          valueId: o.valueId,
          validator: this.set.selfIndex!,
          signature,
        }));
        return;
      }
      case 'schedule-timeout':
        this.scheduleTimeout(o.round, o.step);
        return;
      case 'decide': {
        const votes = this.keeper.precommitsFor(o.round, o.valueId);
        const certificate: CommitCertificate = {
          height: s.height,
          round: o.round,
          valueId: o.valueId,
          signatures: votes.map((v) => ({ validator: v.validator, signature: v.signature })),
        };
        this.phase = 'decided';
        this.out.push({ kind: 'decide', height: s.height, round: o.round, value: o.value, valueId: o.valueId, certificate });
        return;
      }
      case 'start-round':
        this.startRound(o.round);
        return;
    }
  }

  /** L11 StartRound(round) for the current height. */
  private startRound(round: number): void {
    if (round > ROUND_MAX) {
      this.reject('ROUND_OUT_OF_WINDOW', `round ${round} exceeds ${ROUND_MAX} (ROUND_MAX)`);
      return;
    }
    this.keeper.setCurrentRound(round);
    // Votes already received for the new round may now complete a clause (e.g. L49 in it).
    this.touched.add(round);
    this.apply({ line: 'L11', round, proposer: this.isProposer(round) });
  }

  private isProposer(round: number): boolean {
    return this.set.selfIndex !== null && proposer(this.state.height, round, this.set.n) === this.set.selfIndex;
  }

  private scheduleTimeout(round: number, step: Step): void {
    const t = this.cfg.timeouts;
    const base = step === 'propose' ? t.proposeMs : step === 'prevote' ? t.prevoteMs : t.precommitMs;
    // Timeouts grow linearly with the round so that, after GST, they eventually exceed the
    // message delay (paper §3, "timeoutPropose(r) = timeoutPropose + r · δ").
    this.out.push({ kind: 'schedule-timeout', height: this.state.height, round, step, durationMs: base + round * t.deltaMs });
  }

  // ---------------------------------------------------------------- signing

  /**
   * Signs and broadcasts our message for (height, round, step) unless the signer guard forbids it.
   * Effects: persist(SignerState with the new last-signed record) THEN broadcast.
   */
  private signAndSend(step: Step, round: number, valueId: Uint8Array | null, before: RoundState, build: (signature: Uint8Array) => ConsensusMessage): void {
    const h = this.state.height;
    const d = this.guard.check(h, round, step);
    if (d.action === 'refuse') return; // something was already signed later than this slot: stay silent
    if (d.action === 'reemit') {
      this.reemit(d.message);
      return;
    }
    const unsigned = build(new Uint8Array(64));
    const signBytes = messageSignBytes(this.cfg.chainId, unsigned, unsigned.type === 'proposal' ? valueId : null);
    const message = { ...unsigned, signature: this.set.signer!.sign(signBytes) } as ConsensusMessage;
    this.guard.record({ height: h, round, step, valueId, message });
    if (this.cfg.bugs?.noSignerPersistence === true) {
      // BUG INJECTION (simulator only): emulate "persist after broadcast" — the durable state is
      // the one from before this step and carries no last-signed record.
      this.out.push({ kind: 'persist', state: toSignerState(before, null) });
    } else {
      this.out.push({ kind: 'persist', state: this.signerState() });
    }
    this.out.push({ kind: 'broadcast', message });
    this.ingestOwn(message, valueId);
  }

  /** Re-sends a message we signed before (byte-identical) and makes sure it is counted. */
  private reemit(message: ConsensusMessage): void {
    this.out.push({ kind: 'broadcast', message });
    if (message.height === this.state.height && this.phase === 'running') {
      this.ingestOwn(message, message.type === 'proposal' ? this.valueIdOf(message.value) : null);
    }
  }

  private ingestOwn(message: ConsensusMessage, valueId: Uint8Array | null): void {
    // "the driver counts its own messages itself" (types.ts): no loop-back through the network.
    this.ingest(message, message.type === 'proposal' ? valueId : null);
  }

  // ---------------------------------------------------------------- helpers

  private reject(code: string, reason: string): void {
    this.out.push({ kind: 'rejected', code, reason });
  }
}

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
//
// Split by job: driver-state.ts (state, restore, counting), driver-rules.ts (upon clauses and
// outputs), this file (the inputs: start-height, messages, timeouts).
import type { ConsensusMessage, Effect, Input } from './types.js';
import { checkMessageShape } from './message-check.js';
import { proposer } from './quorum.js';
import { initialState } from './state-machine.js';
import { HEIGHT_MAX } from './limits.js';
import { resolveSet, sameValidators, type ResolvedSet } from './driver-config.js';
import type { BufferedMessage } from './future-buffer.js';
import { DriverRules } from './driver-rules.js';

// Kept importable from here: the peer's codec validates stored signer states with it.
export { checkSignerState } from './signer-state.js';

/** Checks that fail only because a future height's set was not final yet (see rejectFor). */
const SET_DEPENDENT = new Set(['UNKNOWN_VALIDATOR', 'WRONG_PROPOSER', 'BAD_SIGNATURE']);

export class ConsensusDriver extends DriverRules {
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
}

// The consensus driver's rules (driver.ts has the overview): the paper's "upon" clauses that
// hold (L22, L28, L34, L36, L44, L47, L49, L55) fed to the round state machine until none does,
// and the state machine's outputs turned into effects — propose (getValue, L18), votes through the
// signer guard (persist BEFORE broadcast), timeouts, decide with its commit certificate.
import type { CommitCertificate, ConsensusMessage, Step } from './types.js';
import { messageSignBytes } from './message-check.js';
import { proposer } from './quorum.js';
import { transition, type RoundInput, type RoundOutput, type RoundState } from './state-machine.js';
import { idKey } from './vote-keeper.js';
import { ROUND_MAX } from './limits.js';
import { toSignerState } from './signer-state.js';
import { DriverState } from './driver-state.js';

/** Most state-machine transitions one input may cause; each transition strictly advances, so hitting this is a bug. */
const TRANSITIONS_PER_INPUT_MAX = 10_000;

export abstract class DriverRules extends DriverState {
  // ---------------------------------------------------------------- rules

  /** Feeds every "upon" clause that holds into the state machine until none does. */
  protected evaluate(): void {
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
  protected fireOne(): boolean {
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

  /** Runs one state-machine transition and executes its outputs. */
  protected apply(input: RoundInput): boolean {
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

  protected onOutput(o: RoundOutput, before: RoundState): void {
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
  protected startRound(round: number): void {
    if (round > ROUND_MAX) {
      this.reject('ROUND_OUT_OF_WINDOW', `round ${round} exceeds ${ROUND_MAX} (ROUND_MAX)`);
      return;
    }
    this.keeper.setCurrentRound(round);
    // Votes already received for the new round may now complete a clause (e.g. L49 in it).
    this.touched.add(round);
    this.apply({ line: 'L11', round, proposer: this.isProposer(round) });
  }

  protected isProposer(round: number): boolean {
    return this.set.selfIndex !== null && proposer(this.state.height, round, this.set.n) === this.set.selfIndex;
  }

  protected scheduleTimeout(round: number, step: Step): void {
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
  protected signAndSend(step: Step, round: number, valueId: Uint8Array | null, before: RoundState, build: (signature: Uint8Array) => ConsensusMessage): void {
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
    if (this.cfg.bugs?.noSignerPersistence === true && step !== 'precommit') {
      // BUG INJECTION (simulator only): emulate "persist after broadcast" — the durable state is
      // the one from before this step and carries no last-signed record. Not for precommits: the
      // runner refuses a precommit whose value the synced state does not hold (PRECOMMIT_NOT_DURABLE)
      // before anything else could see the bug, and this injection exists to exercise the WAL's
      // double-signing check on a restarted peer.
      this.out.push({ kind: 'persist', state: toSignerState(before, null) });
    } else {
      this.out.push({ kind: 'persist', state: this.signerState() });
    }
    this.out.push({ kind: 'broadcast', message });
    this.ingestOwn(message, valueId);
  }

  /** Re-sends a message we signed before (byte-identical) and makes sure it is counted. */
  protected reemit(message: ConsensusMessage): void {
    this.out.push({ kind: 'broadcast', message });
    if (message.height === this.state.height && this.phase === 'running') {
      this.ingestOwn(message, message.type === 'proposal' ? this.valueIdOf(message.value) : null);
    }
  }

  protected ingestOwn(message: ConsensusMessage, valueId: Uint8Array | null): void {
    // "the driver counts its own messages itself" (types.ts): no loop-back through the network.
    this.ingest(message, message.type === 'proposal' ? valueId : null);
  }
}

// Runs the pure Tendermint driver (src/consensus) against the world: gossip, timers, the store
// and the ledger. Everything it touches is injected (runner/ports.ts), so the deterministic
// simulator runs this same code with a virtual clock and an in-memory disk.
//
// Every input (received message, fired timeout, start of a height, a catch-up block) goes through
// ONE serialized queue, and the driver's effects are executed strictly in order:
//   persist   -> store.putSignerStateWithWal (synced) BEFORE any later effect, in particular
//                before the broadcast it protects: never sign two messages for one (h, r, step),
//                also across a crash; a run of persists and broadcasts costs one write
//                (runner/coalesce.ts), which also carries the WAL records held so far and those
//                of the run's own messages (runner/wal-buffer.ts);
//   broadcast -> WAL (once per message) then gossip; a re-emission of a message signed before a
//                restart (no persist before it) is written on its own, so it is in the WAL before
//                it leaves;
//   schedule-timeout -> a timer feeding a timeout input back into the queue;
//   decide    -> ledger.apply (one synced batch), then our checkpoint signature and the WAL prune,
//                neither waited for; the next height starts only when there is work: entries in
//                the mempool, or a valid message for the next height (no empty blocks while idle);
//   evidence  -> store.putEvidence (compact, bounded per validator: runner/evidence.ts).
//
// Received messages pass cheap checks first (size, shape, height window, proposer(h, r), duplicate
// or third version of a slot) and only then the signature and the block validation; a message of
// the current height reaches the WAL only if the driver used it and its sender's WAL share of the
// height is not used up (runner/admission.ts). Its record is held and written with the next synced
// step, before any of that step's messages leaves, or once the queue is empty: write-ahead for
// every effect that leaves the process. A restarted peer re-feeds the WAL and resumes.
//
// The driver's isValid is synchronous, but validating a block reads the store. So a proposal is
// validated asynchronously BEFORE it enters the driver and the verdict is cached by value id
// (ledger.prevalidate); proposals for a future height are held until that height starts.
//
// Fail-stop: a decided block that does not apply (our state diverged from the quorum's), a
// driver transition limit, a full WAL or a failed signer-state write are states this peer cannot
// continue from safely. It stops feeding the driver, logs at error level and calls onHalt.
import { timeline, timelineOn } from '../timeline/recorder.js';
import { invariant } from '../../src/assert.js';
import {
  ConsensusDriver,
  decodeMessage,
  encodeCertificate,
  encodeMessage,
  type ConsensusMessage,
  type Effect,
  type Input,
} from '../../src/consensus/index.js';
import { decodeSignerState, encodeSignerState } from './codec.js';
import { messageIdHex } from './runner/admission.js';
import { coalescedRun } from './runner/coalesce.js';
import { encodeCompactEvidence } from './runner/evidence.js';
import { encodeEnvelope } from './runner/envelope.js';
import { RunnerDecide } from './runner/decide.js';
import type { RunnerOptions } from './runner/types.js';
import { resendEveryMs, stepTimeoutMs, timingAt, VALUE_BYTES_MAX, type HeightTiming, type TimingLedger } from './height-params.js';

export type { RunnerClock, RunnerCrypto, RunnerLedger, RunnerMempool, RunnerStore } from './runner/ports.js';
export type { HaltCode, RunnerGenesis, RunnerOptions, RunnerStatus } from './runner/types.js';
export { encodeEnvelope, fastSha256, openEnvelope } from './runner/envelope.js';
export { HEIGHTS_AHEAD_MAX } from './runner/limits.js';
export { VALUE_BYTES_MAX } from './height-params.js';

/** A height starts without waiting blockIntervalMs while blocks stay this small (see maybeStart). */
export const EAGER_START_ENTRIES_MAX = 8;

export class ConsensusRunner extends RunnerDecide {
  constructor(o: RunnerOptions) {
    super({ ...o, driverOverrides: { maxValueBytes: VALUE_BYTES_MAX, ...o.driverOverrides } });
  }

  /** Timeouts and block interval in force at `height` (params.set), else the genesis ones. */
  protected timingAt(height: number): HeightTiming {
    return timingAt(this.o.ledger as TimingLedger, this.o.genesis.limits, height);
  }

  /** Restores the signer state, replays the WAL and resumes (or waits for work). */
  async start(): Promise<void> {
    const head = this.o.ledger.getHead();
    const raw = await this.o.store.getSignerState();
    let restored = undefined;
    if (raw !== undefined) {
      const d = decodeSignerState(raw);
      if (!d.ok) throw new Error(`stored signer state unreadable (${d.code}: ${d.message}); refusing to start rather than risk double-signing`);
      restored = d.state;
    }
    this.driver = new ConsensusDriver(this.cfg, restored);
    const next = head.height + 1;
    const wal = await this.o.store.walRead(next);
    const resume = restored !== undefined && restored.height === next;
    if (resume || wal.length > 0) {
      // Resume the interrupted height: re-feed its WAL (the restored driver takes messages before
      // start-height), then start-height resumes the round and re-emits our last message, which
      // the replay has already recorded as written. Without a signer state for this height we
      // had not signed anything in it yet, but the messages we had received for it are still
      // needed (others will not send them again): start the height, then re-feed them.
      if (resume && restored !== undefined) this.o.log('info', 'resuming consensus', { height: next, round: restored.round, step: restored.step, walRecords: wal.length });
      // Our own proposals in the WAL are noted before anything can make the driver propose
      // (runner/own-proposals.ts): a different one for the same slot must halt, not leave.
      // Each record decoded once: its sender (for the WAL shares) and, for a proposal, its slot.
      const records = wal.map((rec) => {
        if (this.isCompact(rec)) {
          const p = this.ownCompactProposal(rec);
          return { rec, m: null, validator: p?.validator ?? null, p };
        }
        const d = decodeMessage(rec, this.cfg.maxValueBytes);
        return { rec, m: d, validator: d.ok ? d.message.validator : null, p: d.ok && d.message.type === 'proposal' ? d.message : null };
      });
      // Each record counts against its sender's WAL share now, once, rebuilt later or not (runner/base.ts).
      this.chargeReplayed(next, records);
      for (const { p } of records) {
        if (p !== null && p.height === next && p.validator === this.selfAt(next)) this.ownProposals.note(next, p.round, p.signature);
      }
      const replay = this.enqueue(async () => {
        if (resume && restored !== undefined) await this.restoreValues(restored);
        if (!resume) await this.startHeight(next);
        this.trackHeight(next);
        for (const { rec, m } of records) {
          if (this.halted !== null) return;
          if (m === null) {
            this.onCompact(rec, rec.length);
            continue;
          }
          if (!m.ok || m.message.height !== next) continue;
          // Our own messages from before the restart are re-sendable like any other.
          if (m.message.validator === this.selfAt(next)) this.own.remember(m.message, rec);
          await this.admit(m.message, rec.length);
        }
        if (resume) await this.startHeight(next);
      });
      // Gossip from here on queues behind the replay (our own proposals are noted already).
      this.accepting = true;
      await replay;
    }
    this.accepting = true;
    this.unsubscribeMempool = this.o.mempool.onAdded(() => this.maybeStart());
    this.maybeStart();
    // Re-send only when a height has been stuck for two full rounds' worth of base timeouts:
    // proposals carry whole blocks, re-sending them often would flood a loaded network.
    const everyAt = () => resendEveryMs(this.timingAt(this.o.ledger.getHead().height + 1).timeouts);
    const tick = () => {
      if (this.stopped || this.halted !== null) return;
      const every = everyAt();
      // Tendermint assumes every message of a correct process eventually reaches every correct
      // process (the paper's gossip). Gossipsub gives no such guarantee to a peer that was down
      // or disconnected when we sent, so while a height is stuck we re-send our own messages.
      if (this.running && this.clock.now() - this.lastProgressMs >= every) this.resend();
      this.resendTimer = this.clock.setTimeout(tick, every);
    };
    this.resendTimer = this.clock.setTimeout(tick, everyAt());
  }

  /** Re-sends our own messages of the current height (e.g. to a peer that just (re)connected). */
  resend(): void {
    if (this.stopped || this.halted !== null || !this.running || this.own.height !== this.o.ledger.getHead().height + 1) return;
    const now = this.clock.now();
    // Only the current and the previous round matter for progress (a proposer re-proposes its
    // valid value itself in new rounds); older proposals would only add megabytes of traffic.
    // Votes of every kept round go again: a re-proposal with validRound vr needs our prevote of
    // round vr at the other peers (paper L28), however old vr is. All of them are in the WAL
    // already (written before their first send).
    const recent = this.own.forResend(this.driver.round);
    for (const m of recent) this.o.publish(encodeEnvelope(m, now));
    this.stats.resent += recent.length;
  }

  /** Starts consensus at `height` (must be head + 1) and feeds the proposals held for it. */
  protected async startHeight(height: number): Promise<void> {
    if (this.startTimer !== null) {
      this.clock.clearTimeout(this.startTimer);
      this.startTimer = null;
    }
    if (this.halted !== null || height !== this.o.ledger.getHead().height + 1) return;
    if (this.running && this.driver.height === height) return;
    this.running = true;
    this.lastProgressMs = this.clock.now();
    this.lastStartMs = this.clock.now();
    this.trackHeight(height);
    this.o.log('debug', 'start height', { height });
    if (timelineOn) timeline('height.start', `h=${height}`);
    await this.execute(this.driver.handle({ kind: 'start-height', height }));
    for (const p of this.held.take(height)) {
      if (this.halted !== null || !this.running || this.driver.height !== height) break;
      await this.admit(p, 0);
    }
  }

  /** Entries in the last block this peer decided (the eager-start rule below reads it). */
  protected lastBlockEntries = 0;
  /** When this peer last started a height (or its runner, before the first one): see maybeStart. */
  protected lastStartMs = this.clock.now();

  /**
   * Idle and there are entries: start the next height. Batching rule: when the last decided block
   * and the mempool both hold at most EAGER_START_ENTRIES_MAX entries the network is idle, and the
   * height starts at once (next macrotask, so a burst delivered together still shares a block): a
   * lone entry does not wait blockIntervalMs. Otherwise heights start at least blockIntervalMs
   * apart, counted from the START of the previous height: a height that took longer than the
   * interval has already let the next block fill for that long, and waiting the full interval
   * after its decision again would only add blockIntervalMs to every entry's latency under load
   * (blocks hold what arrived during one height either way). Under load blocks exceed the bound,
   * so no stream of tiny blocks appears; a load light enough to stay under it costs at most one
   * block per consensus round trip, each of a few entries.
   */
  protected maybeStart(): void {
    if (this.stopped || this.halted !== null || this.running || this.startTimer !== null) return;
    if (this.o.mempool.size === 0) return;
    const eager = this.o.mempool.size <= EAGER_START_ENTRIES_MAX && this.lastBlockEntries <= EAGER_START_ENTRIES_MAX;
    this.startTimer = this.clock.setTimeout(() => {
      this.startTimer = null;
      void this.enqueue(async () => {
        if (!this.running && this.o.mempool.size > 0) await this.startHeight(this.o.ledger.getHead().height + 1);
      });
    }, eager ? 0 : this.spacingLeftMs());
  }

  /** What is left of blockIntervalMs since the last height started (never more: the clock may step back). */
  private spacingLeftMs(): number {
    const interval = this.timingAt(this.o.ledger.getHead().height + 1).blockIntervalMs;
    return Math.min(interval, Math.max(0, this.lastStartMs + interval - this.clock.now()));
  }

  /** Executes effects strictly in order (see the file header); nothing more once halted. */
  protected async execute(effects: Effect[]): Promise<void> {
    for (let i = 0; i < effects.length; i++) {
      const e = effects[i]!;
      if (this.halted !== null) return;
      switch (e.kind) {
        case 'persist': {
          // One synced write for a run of persist/broadcast effects (coalescedRun): the LAST state
          // of the run, together with the WAL records held so far and those of the run's own
          // messages, before any of its messages leaves.
          const { end, state } = coalescedRun(effects, i);
          const out: { m: ConsensusMessage; bytes: Uint8Array }[] = [];
          for (let j = i + 1; j < end; j++) {
            const b = effects[j]!;
            if (b.kind !== 'broadcast') continue;
            const bytes = this.recordOwn(b.message);
            if (bytes === null) return;
            out.push({ m: b.message, bytes });
          }
          const height = this.walBuffer.size > 0 ? this.walBuffer.height : state.height;
          const records = this.walBuffer.take(height);
          try {
            timeline('signer.persist');
            await this.o.store.putSignerStateWithWal(encodeSignerState(state), height, records);
            timeline('signer.persisted');
            this.syncedLock.note(state);
          } catch (err) {
            // Without a durable signer state the broadcast that follows could be signed again
            // differently after a crash: never send it.
            if ((err as { code?: string }).code === 'WAL_FULL') this.walFailed(height, err as Error);
            else this.halt('STORE_FAILED', `signer state not stored: ${(err as Error).message}`);
            return;
          }
          for (const { m, bytes } of out) this.send(m, bytes);
          i = end - 1;
          break;
        }
        case 'broadcast':
          if (!(await this.broadcast(e.message))) return;
          break;
        case 'schedule-timeout': {
          // The driver computes the duration from the genesis timeouts; the height's own
          // (params.set) replace them.
          const durationMs = stepTimeoutMs(this.timingAt(e.height).timeouts, e.step, e.round);
          const t = this.clock.setTimeout(() => {
            this.timers.delete(t);
            void this.enqueue(() => this.execute(this.driver.handle({ kind: 'timeout', height: e.height, round: e.round, step: e.step } satisfies Input)));
          }, durationMs);
          this.timers.add(t);
          break;
        }
        case 'decide':
          await this.onDecide(e.height, e.value, encodeCertificate(e.certificate));
          break;
        case 'evidence': {
          this.stats.evidence++;
          const ev = e.evidence;
          this.o.log('warn', 'equivocation evidence', { height: ev.height, round: ev.round, type: ev.type, validator: ev.validator });
          if (this.evidenceBudget.take(ev.height, ev.validator)) {
            await this.o.store.putEvidence(encodeCompactEvidence(ev, this.valueId)).catch((err: Error) => this.o.log('warn', 'evidence not stored', { error: err.message }));
          }
          break;
        }
        case 'rejected':
          this.count(e.code);
          if (e.code === 'TRANSITION_LIMIT') {
            // Every transition strictly advances the state, so the limit means a driver bug.
            this.halt('TRANSITION_LIMIT', e.reason);
            return;
          }
          if (e.code === 'BAD_VALIDATOR_SET') {
            // The set of the height to decide is unusable: our governance state is broken.
            this.halt('INVARIANT', e.reason, { invariant: 'BAD_VALIDATOR_SET' });
            return;
          }
          this.o.log(e.code === 'GET_VALUE_FAILED' ? 'info' : 'debug', 'consensus input rejected', { code: e.code, reason: e.reason });
          break;
      }
    }
  }

  /**
   * Our own message outside a persist run (a re-emission after a restart): recorded, the WAL
   * written, then gossiped. False when consensus halted instead.
   */
  protected async broadcast(m: ConsensusMessage): Promise<boolean> {
    // A non-nil precommit only once the value it names is durable whole (runner/restore.ts).
    this.syncedLock.check(m, this.valueId);
    const bytes = this.recordOwn(m);
    if (bytes === null || (this.walBuffer.size > 0 && !(await this.walFlush()))) return false;
    this.send(m, bytes);
    return true;
  }

  /**
   * Our own message's wire bytes, its WAL record held for the next write (once per message);
   * nothing leaves yet. Null when consensus halted instead.
   */
  private recordOwn(m: ConsensusMessage): Uint8Array | null {
    invariant(m.validator === this.selfAt(m.height), 'BROADCAST_NOT_OURS', () => `the driver broadcast a message of validator ${m.validator}, we are ${String(this.selfAt(m.height))}`);
    // A proposal of ours for this slot already in the WAL (found at restart): the same one is
    // re-sent as it is; a different one would be double-signing (checked before its compact
    // form is signed).
    const mine = m.type === 'proposal' ? this.ownProposals.match(m.height, m.round, m.signature) : { kind: 'none' };
    if (mine.kind === 'different') {
      this.halt('DOUBLE_SIGN_RISK', `our proposal of height ${m.height} round ${m.round} differs from the one our WAL holds for that slot`);
      return null;
    }
    const bytes = this.wireOf(m, encodeMessage(m));
    if (m.height === this.admission.height) {
      // Our own messages go to the WAL so a restarted driver counts them again (it restores only
      // the last one from the signer state).
      const idHex = messageIdHex(m, this.valueId);
      const a = this.admission.classify(m, idHex);
      if (a === 'conflict' || a === 'excess') {
        // The WAL holds a different message of our key for this slot: another process signs
        // with our key, or our signer state was lost. Sending would be double-signing.
        this.halt('DOUBLE_SIGN_RISK', `our ${m.type} of height ${m.height} round ${m.round} differs from one already signed with our key`);
        return null;
      }
      if (a === 'new' && mine.kind === 'same') {
        // Written before the restart (charged to our share when the restart read it back); its
        // compact record is still being rebuilt.
        this.admission.commit(m, idHex, 0);
      } else if (a === 'new') {
        // Our proposal as it went on the wire (compact): the value we precommit is durable whole
        // in the signer state (runner/restore.ts), and the slot guard above reads this record.
        let written = 0;
        if (this.admission.fits(m.validator, bytes.length)) {
          this.walBuffer.add(m.height, bytes);
          written = bytes.length;
        } else {
          this.stats.walSkipped++;
        }
        this.admission.commit(m, idHex, written);
      }
    }
    return bytes;
  }

  /** Gossips our own message, recorded and durable by now; kept for re-sending only from here on. */
  private send(m: ConsensusMessage, bytes: Uint8Array): void {
    this.syncedLock.check(m, this.valueId);
    this.own.remember(m, bytes);
    if (timelineOn) timeline('consensus.send', `type=${m.type} h=${m.height} r=${m.round}`);
    this.o.publish(encodeEnvelope(bytes, this.clock.now()));
  }
}

// Intake of consensus messages from gossip: the synchronous gossip validator, per-validator
// back-pressure into the runner's queue, the height window and proposer(h, r) checks, holding
// future proposals, and admission to the driver and the WAL (consensus-runner.ts, file header).
import { timeline, timelineOn } from '../../timeline/recorder.js';
import {
  decodeMessage,
  proposer,
  type ConsensusMessage,
  type Effect,
} from '../../../src/consensus/index.js';
import { messageIdHex } from './admission.js';
import { openEnvelope } from './envelope.js';
import { RunnerBase } from './base.js';
import { HEIGHTS_AHEAD_MAX, MESSAGE_REJECTIONS, QUEUE_DEPTH_MAX } from './limits.js';
import { checkGossip } from '../gossip-check.js';

export abstract class RunnerIntake extends RunnerBase {
  /** Starts consensus at `height` (must be head + 1) and feeds the proposals held for it. */
  protected abstract startHeight(height: number): Promise<void>;
  /** Executes the driver's effects in order (consensus-runner.ts). */
  protected abstract execute(effects: Effect[]): Promise<void>;

  /** Synchronous gossip validator, cheap checks first (gossip-check.ts). */
  validateGossip(envelope: Uint8Array): 'accept' | 'reject' | 'ignore' {
    return checkGossip({ cfg: this.cfg, sets: this.sets, admission: this.admission, valueId: this.valueId, next: this.o.ledger.getHead().height + 1 }, envelope);
  }

  /** True when `m` (of the height being decided) was handled already: a repeat carries nothing new. */
  hasMessage(m: ConsensusMessage): boolean {
    return m.height === this.admission.height && this.admission.classify(m, messageIdHex(m, this.valueId)) === 'duplicate';
  }

  /** A consensus message from gossip (already validated by validateGossip). */
  onGossip(envelope: Uint8Array): void {
    if (this.stopped || this.halted !== null) return;
    // Before start() restored the driver and queued the WAL replay, a message could start the
    // height on a driver that has not seen our own WAL records (others re-send while stuck).
    if (!this.accepting) return this.count('NOT_STARTED');
    const data = openEnvelope(envelope);
    if (data === null) return;
    if (this.isCompact(data)) return this.onCompact(data, 0);
    const d = decodeMessage(data, this.cfg.maxValueBytes);
    if (!d.ok) return;
    const m = d.message;
    const v = m.validator;
    if (v >= this.nAt(m.height)) return;
    // Back-pressure in bytes and count, per sending validator: a flooder fills only its own share.
    const size = data.length;
    if (this.depth >= QUEUE_DEPTH_MAX || !this.gossipBudget.take(v, size)) {
      this.count('QUEUE_FULL');
      return;
    }
    void this.enqueue(
      () => this.onMessage(m),
      () => this.gossipBudget.release(v, size),
    );
  }

  /** A message from the network, in the queue. */
  protected async onMessage(m: ConsensusMessage): Promise<void> {
    if (timelineOn) timeline('consensus.receive', `type=${m.type} h=${m.height} r=${m.round} v=${m.validator}`);
    const next = this.o.ledger.getHead().height + 1;
    if (m.height < next || m.height > next + HEIGHTS_AHEAD_MAX) return;
    // Paper L22/L28/L36/L49 count a proposal only "from proposer(h, r)" (of that height's set):
    // checked before anything costly (hold slots, block validation).
    if (m.type === 'proposal' && m.validator !== proposer(m.height, m.round, this.nAt(m.height))) return this.count('WRONG_PROPOSER');
    if (m.height > next) {
      // Others decided `next` (or more) already: we are behind. One height ahead is the normal
      // race at a block boundary (the decision usually reaches us a moment later, or the
      // periodic status poll catches it); two heights ahead means we missed blocks.
      if (m.height > next + 1) this.o.onBehind(m.height - 1);
      if (m.type === 'proposal') {
        if (!this.held.hold(m)) this.count('HELD_FULL');
      } else {
        // Votes for a future height: the driver verifies and buffers them (bounded per validator).
        await this.execute(this.driver.handle({ kind: 'message', message: m }));
      }
      return;
    }
    if (!this.running) {
      // A valid message for the next height: others have work, join them (start the next height
      // when the mempool has entries OR a valid message for it arrives).
      if (m.type === 'proposal') {
        this.held.hold(m);
        await this.startHeight(next); // feeds the held proposal
        return;
      }
      await this.startHeight(next);
      if (!this.running) return;
    }
    await this.admit(m, 0);
  }

  /**
   * Hands a message of the driver's current height to the driver and writes it to the WAL if
   * the driver used it (see the file header). `replayedBytes` > 0: the record came from the WAL.
   */
  protected async admit(m: ConsensusMessage, replayedBytes: number): Promise<void> {
    if (this.halted !== null || m.height !== this.driver.height || m.height !== this.admission.height) return;
    if (m.type === 'proposal' && m.validator !== proposer(m.height, m.round, this.nAt(m.height))) return this.count('WRONG_PROPOSER');
    const idHex = messageIdHex(m, this.valueId);
    const a = this.admission.classify(m, idHex);
    if (a === 'duplicate') return;
    if (a === 'excess') return this.count('EXCESS_VERSION');
    // The head can move while this task waited (a decision reached while feeding held proposals,
    // or a catch-up block applied at the same height): a message of a decided height carries
    // nothing new and must not reach a driver that has not moved on yet.
    if (m.height !== this.o.ledger.getHead().height + 1) return this.count('STALE_HEIGHT');
    // Far-future rounds only count toward the L55 skip: not written (the signer state keeps the
    // round we skip to) and not recorded, so they are handled in full once in the window.
    const farFuture = m.round > this.driver.round + this.roundsKept;
    if (m.type === 'proposal' && !farFuture) await this.o.ledger.prevalidate(m.value);
    if (this.halted !== null || m.height !== this.driver.height) return;
    const effects = this.driver.handle({ kind: 'message', message: m });
    const used = !effects.some((e) => e.kind === 'rejected' && MESSAGE_REJECTIONS.has(e.code));
    if (replayedBytes > 0) {
      // Already in the WAL, and charged to its sender's share when the restart read it back.
      this.admission.commit(m, idHex, 0);
    } else if (used && !farFuture) {
      const bytes = this.walRecordOf(m, idHex);
      let written = 0;
      if (this.admission.fits(m.validator, bytes.length)) {
        if (!(await this.walAppend(m.height, bytes))) return;
        written = bytes.length;
      } else {
        this.stats.walSkipped++;
      }
      this.admission.commit(m, idHex, written);
    }
    await this.execute(effects);
  }
}

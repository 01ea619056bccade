// Runs the pure Tendermint driver (src/consensus) against the real world: gossip, timers,
// LevelDB and the ledger.
//
// Every input (received message, fired timeout, start of a height, a catch-up block) goes through
// ONE serialized queue, and the driver's effects are executed strictly in order:
//   persist   -> store.putSignerState (synced) BEFORE any later effect, in particular before the
//                broadcast it protects (never sign two messages for one (h, r, step), also across
//                a crash, so the last signed (h, r, step) must be on disk before it is sent);
//   broadcast -> gossip on the consensus topic;
//   schedule-timeout -> setTimeout feeding a timeout input back into the queue;
//   decide    -> ledger.apply (one synced batch, then our checkpoint signature), then the next
//                height starts only when there is work: entries in the mempool, or a valid
//                message for the next height (no empty blocks while idle);
//   evidence  -> store.putEvidence.
// Received messages are appended to the WAL of their height before they are handled, so a
// restarted peer re-feeds them and resumes where it stopped (restore protocol: types.ts).
//
// The driver's isValid is synchronous, but validating a block reads LevelDB ("not logged yet").
// So every proposal is validated asynchronously BEFORE it enters the driver and the verdict is
// cached by value id (ledger.prevalidate); proposals for a future height are held here until
// that height starts (the driver would replay them from its own buffer without a verdict).
import { createHash } from 'node:crypto';
import { toHex } from '../../src/encoding/bytes.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import {
  ConsensusDriver,
  checkMessage,
  decodeMessage,
  encodeCertificate,
  encodeMessage,
  type ConsensusConfig,
  type ConsensusMessage,
  type Effect,
  type Input,
  type Proposal,
} from '../../src/consensus/index.js';
import type { Store } from '../storage/store.js';
import { decodeSignerState, encodeEvidence, encodeSignerState } from './codec.js';
import type { Genesis } from './genesis.js';
import type { Ledger } from './ledger.js';
import type { Mempool } from './mempool.js';
import { OwnMessages } from './own-messages.js';

/** Proposals held per future height (proposer re-proposals across rounds). */
const HELD_PROPOSALS_PER_HEIGHT_MAX = 16;
/** Heights ahead of ours for which proposals are held (the driver's futureHeightWindow). */
const HELD_HEIGHTS_AHEAD_MAX = 2;
/** Queue length beyond which gossip consensus messages are dropped (backpressure; they are re-sent on timeouts). */
const QUEUE_DEPTH_MAX = 10_000;

// Consensus gossip envelope (version 1): u8 1 | u64 sentAtMs | encoded consensus message.
// Gossipsub identifies messages by SHA-256 of their bytes and drops a re-publish of identical
// bytes for minutes; the timestamp makes a deliberate re-send (see rebroadcast) a new message,
// while the driver ignores the exact duplicate message inside it.
export function encodeEnvelope(message: Uint8Array, sentAtMs: number): Uint8Array {
  const out = new Uint8Array(9 + message.length);
  const v = new DataView(out.buffer);
  out[0] = 1;
  v.setUint32(1, Math.floor(sentAtMs / 2 ** 32));
  v.setUint32(5, sentAtMs >>> 0);
  out.set(message, 9);
  return out;
}

export function openEnvelope(data: Uint8Array): Uint8Array | null {
  if (!(data instanceof Uint8Array) || data.length < 10 || data[0] !== 1) return null;
  return data.subarray(9);
}

/** Message hashes remembered per height to drop re-sent duplicates before the WAL and the driver. */
const SEEN_PER_HEIGHT_MAX = 8_192;

export function fastSha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest());
}

export interface RunnerOptions {
  genesis: Genesis;
  store: Store;
  ledger: Ledger;
  mempool: Mempool;
  selfIndex: number | null;
  signer: Ed25519Signer | null;
  publish: (bytes: Uint8Array) => void;
  /** Called when a message shows that others are at a height above ours (catch-up needed). */
  onBehind: (height: number) => void;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export interface RunnerStatus {
  height: number;
  round: number;
  step: string;
  running: boolean;
  queueDepth: number;
  decided: number;
  resent: number;
  evidence: number;
  rejected: Record<string, number>;
}

export class ConsensusRunner {
  private driver!: ConsensusDriver;
  private readonly cfg: ConsensusConfig;
  private queue: Promise<void> = Promise.resolve();
  private depth = 0;
  /** A height was started with the driver and is not decided yet. */
  private running = false;
  private startTimer: NodeJS.Timeout | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly held = new Map<number, ConsensusMessage[]>();
  private stopped = false;
  private unsubscribeMempool: (() => void) | null = null;
  private stats = { decided: 0, evidence: 0, rejected: {} as Record<string, number>, resent: 0 };
  /** Our own messages of the current height, for re-sending. */
  private readonly own = new OwnMessages();
  private resendTimer: NodeJS.Timeout | null = null;
  private lastProgressMs = Date.now();

  constructor(private readonly o: RunnerOptions) {
    const g = o.genesis;
    this.cfg = {
      chainId: g.origin,
      validators: g.validators.map((v) => ({ name: v.name, publicKey: v.publicKey })),
      selfIndex: o.selfIndex,
      signer: o.signer,
      verifier: nodeVerifier,
      getValue: (height, round) => o.ledger.buildBlock(height, (height + round) % g.validators.length),
      isValid: (_height, value) => o.ledger.verdict(toHex(fastSha256(value))) === true,
      valueId: fastSha256,
      timeouts: g.limits.timeouts,
      maxValueBytes: g.limits.maxBlockBytes + 1024,
    };
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
    if (restored !== undefined && restored.height === next) {
      // Resume the interrupted height: re-feed its WAL, then start-height resumes the round.
      const wal = await this.o.store.walRead(next);
      this.o.log('info', 'resuming consensus', { height: next, round: restored.round, step: restored.step, walRecords: wal.length });
      await this.enqueue(async () => {
        for (const rec of wal) {
          const m = decodeMessage(rec, this.cfg.maxValueBytes);
          if (!m.ok) continue;
          // Our own messages from before the restart are re-sendable like any other.
          if (m.message.validator === this.cfg.selfIndex) this.own.remember(m.message, rec);
          await this.feedMessage(m.message, false);
        }
        await this.startHeight(next);
      });
    }
    this.unsubscribeMempool = this.o.mempool.onAdded(() => this.maybeStart());
    this.maybeStart();
    // Re-send only when a height has been stuck for two full rounds' worth of base timeouts:
    // proposals carry whole blocks, re-sending them often would flood a loaded network.
    const t = this.o.genesis.limits.timeouts;
    const every = Math.max(1_000, 2 * (t.proposeMs + t.prevoteMs + t.precommitMs));
    const tick = () => {
      if (this.stopped) return;
      // Tendermint assumes every message of a correct process eventually reaches every correct
      // process (the paper's gossip). Gossipsub gives no such guarantee to a peer that was down
      // or disconnected when we sent, so while a height is stuck we re-send our own messages.
      if (this.running && Date.now() - this.lastProgressMs >= every) this.resend();
      this.resendTimer = setTimeout(tick, every);
    };
    this.resendTimer = setTimeout(tick, every);
  }

  /** Re-sends our own messages of the current height (e.g. to a peer that just (re)connected). */
  resend(): void {
    if (this.stopped || !this.running || this.own.height !== this.o.ledger.getHead().height + 1) return;
    const now = Date.now();
    // Only the current and the previous round matter for progress (a proposer re-proposes its
    // valid value itself in new rounds); older proposals would only add megabytes of traffic.
    // Votes of every kept round go again: a re-proposal with validRound vr needs our prevote of
    // round vr at the other peers (paper L28), however old vr is.
    const recent = this.own.forResend(this.driver.round);
    for (const m of recent) this.o.publish(encodeEnvelope(m, now));
    this.stats.resent += recent.length;
  }


  status(): RunnerStatus {
    return {
      height: this.driver?.height ?? 0,
      round: this.driver?.round ?? 0,
      step: this.driver?.step ?? 'propose',
      running: this.running,
      queueDepth: this.depth,
      decided: this.stats.decided,
      resent: this.stats.resent,
      evidence: this.stats.evidence,
      rejected: { ...this.stats.rejected },
    };
  }

  /** Synchronous gossip validator: malformed, unknown-validator and wrongly-signed messages are rejected. */
  validateGossip(envelope: Uint8Array): 'accept' | 'reject' | 'ignore' {
    const data = openEnvelope(envelope);
    if (data === null) return 'reject';
    const d = decodeMessage(data, this.cfg.maxValueBytes);
    if (!d.ok) return 'reject';
    const m = d.message;
    const c = checkMessage(m, this.cfg.validators, this.cfg.chainId, nodeVerifier, fastSha256, this.cfg.maxValueBytes);
    if (!c.ok) return 'reject';
    // Replays of old heights carry nothing new.
    if (m.height <= this.o.ledger.getHead().height) return 'ignore';
    return 'accept';
  }

  /** A consensus message from gossip (already validated by validateGossip). */
  onGossip(envelope: Uint8Array): void {
    if (this.stopped) return;
    if (this.depth > QUEUE_DEPTH_MAX) return;
    const data = openEnvelope(envelope);
    if (data === null) return;
    const d = decodeMessage(data, this.cfg.maxValueBytes);
    if (!d.ok) return;
    void this.enqueue(() => this.feedMessage(d.message, true, data));
  }

  /** Runs `task` after everything queued before it. Errors are logged, never thrown into the loop. */
  enqueue(task: () => Promise<void>): Promise<void> {
    this.depth++;
    const run = this.queue.then(async () => {
      if (this.stopped) return;
      try {
        await task();
      } catch (e) {
        this.o.log('error', 'consensus task failed', { error: (e as Error).message, stack: (e as Error).stack });
      } finally {
        this.depth--;
      }
    });
    this.queue = run;
    return run;
  }

  /** Hashes of messages already handled at height `seenHeight` (re-sends are dropped cheaply). */
  private seen = new Set<string>();
  private seenHeight = -1;

  private async feedMessage(m: ConsensusMessage, fromNetwork: boolean, raw?: Uint8Array): Promise<void> {
    const head = this.o.ledger.getHead();
    const next = head.height + 1;
    if (m.height < next) return; // decided already
    if (raw !== undefined && m.height === next) {
      if (this.seenHeight !== next) {
        this.seenHeight = next;
        this.seen = new Set();
      }
      const key = toHex(fastSha256(raw));
      if (this.seen.has(key)) return; // an exact duplicate (a re-send): nothing new
      if (this.seen.size < SEEN_PER_HEIGHT_MAX) this.seen.add(key);
    }
    if (m.height > next) {
      // Others decided `next` (or more) already: we are behind. One height ahead is the normal
      // race at a block boundary (the decision usually reaches us a moment later, or the
      // periodic status poll catches it); two or more heights ahead means we missed blocks.
      if (m.height > next + 1) this.o.onBehind(m.height - 1);
      if (m.type === 'proposal') {
        if (m.height <= next + HELD_HEIGHTS_AHEAD_MAX) this.hold(m);
      } else {
        // Votes for a future height: the driver verifies and buffers them (bounded window).
        await this.execute(this.driver.handle({ kind: 'message', message: m }));
      }
      return;
    }
    if (fromNetwork) await this.o.store.walAppend(m.height, [encodeMessage(m)], { sync: false });
    if (!this.running) {
      // A valid message for the next height: others have work, join them (start the
      // next height when the mempool has entries OR a valid message for it arrives).
      if (m.type === 'proposal') this.hold(m);
      await this.startHeight(next);
      if (m.type === 'proposal') return; // fed from `held` by startHeight
    }
    if (m.type === 'proposal') await this.o.ledger.prevalidate(m.value);
    await this.execute(this.driver.handle({ kind: 'message', message: m }));
  }

  private hold(p: Proposal): void {
    let list = this.held.get(p.height);
    if (list === undefined) {
      list = [];
      this.held.set(p.height, list);
    }
    if (list.length >= HELD_PROPOSALS_PER_HEIGHT_MAX) return;
    list.push(p);
  }

  /** Starts consensus at `height` (must be head + 1) and feeds the proposals held for it. */
  private async startHeight(height: number): Promise<void> {
    if (this.startTimer !== null) {
      clearTimeout(this.startTimer);
      this.startTimer = null;
    }
    if (height !== this.o.ledger.getHead().height + 1) return;
    if (this.running && this.driver.height === height) return;
    this.running = true;
    this.lastProgressMs = Date.now();
    this.o.log('debug', 'start height', { height });
    await this.execute(this.driver.handle({ kind: 'start-height', height }));
    for (const h of [...this.held.keys()]) if (h < height) this.held.delete(h);
    const held = this.held.get(height);
    this.held.delete(height);
    for (const p of held ?? []) {
      if (!this.running || this.driver.height !== height) break;
      await this.o.store.walAppend(height, [encodeMessage(p)], { sync: false });
      await this.o.ledger.prevalidate((p as Proposal).value);
      await this.execute(this.driver.handle({ kind: 'message', message: p }));
    }
  }

  /** Idle and there are entries: start the next height after blockIntervalMs (lets a block fill). */
  private maybeStart(): void {
    if (this.stopped || this.running || this.startTimer !== null) return;
    if (this.o.mempool.size === 0) return;
    this.startTimer = setTimeout(() => {
      this.startTimer = null;
      void this.enqueue(async () => {
        if (!this.running && this.o.mempool.size > 0) await this.startHeight(this.o.ledger.getHead().height + 1);
      });
    }, this.o.genesis.limits.blockIntervalMs);
  }

  /** Executes effects strictly in order (see the file header). */
  private async execute(effects: Effect[]): Promise<void> {
    for (const e of effects) {
      switch (e.kind) {
        case 'persist':
          await this.o.store.putSignerState(encodeSignerState(e.state));
          break;
        case 'broadcast': {
          const bytes = encodeMessage(e.message);
          this.own.remember(e.message, bytes);
          // Our own messages go to the WAL too, so a restarted driver counts them again (it
          // restores only the last one from the signer state). Not synced: the signer state,
          // synced just before, is what prevents double-signing.
          await this.o.store.walAppend(e.message.height, [bytes], { sync: false });
          this.o.publish(encodeEnvelope(bytes, Date.now()));
          break;
        }
        case 'schedule-timeout': {
          const t = setTimeout(() => {
            this.timers.delete(t);
            void this.enqueue(() => this.execute(this.driver.handle({ kind: 'timeout', height: e.height, round: e.round, step: e.step } satisfies Input)));
          }, e.durationMs);
          this.timers.add(t);
          break;
        }
        case 'decide':
          await this.onDecide(e.height, e.value, encodeCertificate(e.certificate));
          break;
        case 'evidence':
          this.stats.evidence++;
          this.o.log('warn', 'equivocation evidence', { height: e.evidence.height, round: e.evidence.round, type: e.evidence.type, validator: e.evidence.validator });
          await this.o.store.putEvidence(encodeEvidence(e.evidence)).catch((err: Error) => this.o.log('warn', 'evidence not stored', { error: err.message }));
          break;
        case 'rejected':
          this.stats.rejected[e.code] = (this.stats.rejected[e.code] ?? 0) + 1;
          this.o.log(e.code === 'GET_VALUE_FAILED' ? 'info' : 'debug', 'consensus input rejected', { code: e.code, reason: e.reason });
          break;
      }
    }
  }

  private async onDecide(height: number, value: Uint8Array, certificate: Uint8Array): Promise<void> {
    this.running = false;
    this.lastProgressMs = Date.now();
    const head = this.o.ledger.getHead();
    if (height === head.height + 1) {
      const info = await this.o.ledger.apply(value, certificate, { sign: true, mode: 'consensus' });
      this.stats.decided++;
      this.o.log('debug', 'decided', { height, entries: info.count, treeSize: info.treeSize });
    }
    await this.o.store.walPrune(height + 1);
    this.afterHeadMoved();
  }

  /** After a decide or a catch-up: start the next height if there is work for it. */
  private afterHeadMoved(): void {
    const next = this.o.ledger.getHead().height + 1;
    if (this.held.has(next) || this.driver.bufferedCount(next) > 0) {
      void this.enqueue(() => this.startHeight(next));
    } else {
      this.maybeStart();
    }
  }

  /**
   * A decided block obtained by catch-up (certificate already verified by the caller): applied in
   * the consensus queue so it never races a decide of the same height.
   */
  applySynced(height: number, block: Uint8Array, certificate: Uint8Array): Promise<boolean> {
    return new Promise((resolve) => {
      void this.enqueue(async () => {
        if (height !== this.o.ledger.getHead().height + 1) return resolve(false);
        try {
          await this.o.ledger.apply(block, certificate, { sign: false, mode: 'sync' });
          // Abandon whatever height the driver was at: the next start-height goes to head + 1.
          this.running = false;
          resolve(true);
        } catch (e) {
          this.o.log('warn', 'catch-up block did not apply', { height, error: (e as Error).message });
          resolve(false);
        }
      }).then(() => resolve(false));
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

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribeMempool?.();
    if (this.startTimer !== null) clearTimeout(this.startTimer);
    if (this.resendTimer !== null) clearTimeout(this.resendTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.queue.catch(() => undefined);
  }
}

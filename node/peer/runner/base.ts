// State, construction, status, the serialized task queue and fail-stop of the consensus runner
// (the message flow and the effects are in ../consensus-runner.ts, which extends this class).
import { toHex } from '../../../src/encoding/bytes.js';
// Vote signatures through the peer's verifier: libsodium with OpenSSL's verdicts on every input (node/crypto/sodium.ts).
import { peerVerifier as nodeVerifier } from '../../crypto/peer-verifier.js';
import { isInvariantError } from '../../../src/assert.js';
import { ConsensusDriver, encodeMessage, proposer, ROUNDS_KEPT_DEFAULT, VALIDATORS_MAX, type ConsensusConfig, type ConsensusMessage, type Proposal, type SignerState, type Timeouts } from '../../../src/consensus/index.js';
import { decodeCompactRecord, encodeCompactProposal, isCompactRecord, ExpansionSlots, toProposal } from './compact.js';
import { compactBytes } from '../block-compact.js';
import { BLOCK_CAPS } from '../block.js';
import { OwnMessages } from '../own-messages.js';
import { OwnProposalSlots } from './own-proposals.js';
import { HeightAdmission } from './admission.js';
import { EvidenceBudget } from './evidence.js';
import { HeldProposals } from './held.js';
import { systemClock, type RunnerClock, type RunnerSets } from './ports.js';
import { restoredValues, SyncedLock } from './restore.js';
import { fastSha256 } from './envelope.js';
import { WalBuffer } from './wal-buffer.js';
import type { HaltCode, RunnerOptions, RunnerStatus } from './types.js';
import { GossipBudget, HEIGHTS_AHEAD_MAX, COMPACT_RECORDS_MAX, COMPACT_RECORD_BYTES_MAX, COMPACT_SEEN_MAX, HELD_PER_VALIDATOR_MAX, WAL_BYTES_PER_HEIGHT_DEFAULT, WAL_RECORDS_PER_HEIGHT_DEFAULT } from './limits.js';

/** The propose timeout of `round` (the deadline for rebuilding a compact proposal of it). */
function stepTimeoutMsOf(t: Timeouts, round: number): number {
  return t.proposeMs + round * t.deltaMs;
}

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
  /** Gossip is taken only once start() has restored the driver and queued the WAL replay. */
  protected accepting = false;
  protected halted: HaltCode | null = null;
  protected unsubscribeMempool: (() => void) | null = null;
  protected stats = { decided: 0, evidence: 0, rejected: {} as Record<string, number>, resent: 0, walSkipped: 0 };
  /** Our own messages of the current height, for re-sending. */
  protected readonly own = new OwnMessages();
  protected resendTimer: unknown = null;
  protected lastProgressMs: number;
  /** Compact proposals being rebuilt (each may wait on a fetch), bounded per proposer. */
  protected readonly expansions = new ExpansionSlots();
  /** The locked value of the last synced signer state: what a non-nil precommit must name (restore.ts). */
  protected readonly syncedLock = new SyncedLock();
  /** Our proposals found in the WAL at restart, by slot (the double-proposal guard). */
  protected readonly ownProposals = new OwnProposalSlots();
  /** WAL records not written yet (wal-buffer.ts): they go with the next synced step, or when the queue empties. */
  protected readonly walBuffer = new WalBuffer();
  /** Received compact records by `${validator}:${round}:${idHex}`: what the WAL stores for them. */
  private compactRecords = new Map<string, Uint8Array>();
  private compactRecordBytes = 0;
  private compactHeight = -1;
  /**
   * Compact records being rebuilt or rebuilt already (validator, height, round, digest): a re-send
   * of the same record is dropped before it takes a rebuild slot, so re-sends cannot crowd out a
   * new round's proposal. A record that could not be rebuilt is forgotten, so a re-send retries.
   */
  private readonly compactSeen = new Set<string>();

  protected abstract onMessage(m: ConsensusMessage): Promise<void>;
  protected abstract admit(m: ConsensusMessage, replayedBytes: number): Promise<void>;
  protected abstract timingAt(height: number): { timeouts: Timeouts };

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

  /**
   * What goes on the wire and into the WAL for our message `m` (encoded as `bytes`): our
   * proposal as a compact record when the ledger supports it, everything else as it is.
   */
  protected wireOf(m: ConsensusMessage, bytes: Uint8Array): Uint8Array {
    if (m.type !== 'proposal' || this.o.ledger.compactOf === undefined || this.o.ledger.expandCompact === undefined) return bytes;
    const signer = this.sets === null ? this.o.signer : this.sets.at(m.height).signer;
    const compact = this.o.ledger.compactOf(m.value);
    return signer === null || compact === null ? bytes : encodeCompactProposal(this.cfg.chainId, m, compact, signer);
  }

  /**
   * Resuming height `s.height` from the restored signer state `s`: its whole values (locked, valid,
   * our last proposal) go back to the block assembly (`compactOf` keeps a value's leaves, so the
   * compact WAL record of the proposal we precommitted is rebuilt without mempool or fetch, and
   * entries-by-hash/1 serves them to peers that lack them: a valid value is re-proposed,
   * L14-L16) and are validated again (isValid is a cache the restart emptied; L22/L28/L36 need
   * valid(v) for our own re-proposal of validValue too).
   */
  protected async restoreValues(s: SignerState): Promise<void> {
    this.syncedLock.note(s);
    for (const v of restoredValues(s, this.valueId)) {
      this.o.ledger.compactOf?.(v);
      await this.o.ledger.prevalidate(v);
    }
  }

  /** The slot and ⟨PROPOSAL⟩ signature of a compact record (null: malformed). */
  protected ownCompactProposal(rec: Uint8Array): { height: number; round: number; validator: number; signature: Uint8Array } | null {
    return decodeCompactRecord(rec, compactBytes(BLOCK_CAPS.maxBlockEntries));
  }

  /**
   * Start of a restart's replay of the WAL of `height`: tracks the height and charges each record
   * read back to its validator's share (admission.ts `charge`) before anything can write to the
   * WAL, so the shares again sum to what the store holds for the height and a busy height is cut
   * by the per-validator shares, not by the store's cap (which halts us). Exactly once: the
   * replayed messages are committed without bytes (intake.ts admit, and our own proposal re-sent
   * as it was, consensus-runner.ts broadcast).
   */
  protected chargeReplayed(height: number, records: readonly { rec: Uint8Array; validator: number | null }[]): void {
    this.trackHeight(height);
    for (const { rec, validator } of records) this.admission.charge(validator, rec.length);
  }

  /** A compact proposal record (runner/compact.ts), not an ordinary consensus message. */
  protected isCompact(data: Uint8Array): boolean {
    return isCompactRecord(data);
  }

  /** The WAL record of a received message: the compact record it arrived as, for a proposal. */
  protected walRecordOf(m: ConsensusMessage, idHex: string): Uint8Array {
    if (m.type === 'proposal' && m.height === this.compactHeight) {
      const rec = this.compactRecords.get(`${m.validator}:${m.round}:${idHex}`);
      if (rec !== undefined) return rec;
    }
    return encodeMessage(m);
  }

  /**
   * A compact proposal (gossip, already checked by validateGossip; or a WAL record, replayed > 0):
   * rebuilt outside the serialized queue, because the missing entries may have to be fetched,
   * with the propose timeout of its round as deadline. Only a rebuilt block enters the queue as
   * an ordinary proposal (the driver checks its signature, the ledger validates it); one whose
   * entries do not all arrive never reaches the driver, which then prevotes nil when the propose
   * timeout fires (paper L57) — a peer never prevotes a block it could not check.
   */
  protected onCompact(rec: Uint8Array, replayed: number): void {
    const c = decodeCompactRecord(rec, compactBytes(BLOCK_CAPS.maxBlockEntries));
    if (c === null) return this.count('MALFORMED');
    // Our own proposal from before a restart is re-sendable as it is (only its height and round matter to OwnMessages).
    if (replayed > 0 && c.validator === this.selfAt(c.height)) this.own.remember(toProposal(c, c.compact), rec);
    const next = this.o.ledger.getHead().height + 1;
    if (c.height < next || c.height > next + HEIGHTS_AHEAD_MAX) return this.count('STALE_HEIGHT');
    if (c.validator !== proposer(c.height, c.round, this.nAt(c.height))) return this.count('WRONG_PROPOSER');
    const expand = this.o.ledger.expandCompact;
    if (expand === undefined) return this.count('COMPACT_UNSUPPORTED');
    const seenKey = `${c.validator}:${c.height}:${c.round}:${toHex(fastSha256(c.compact))}`;
    if (this.compactSeen.has(seenKey)) return this.count('DUPLICATE');
    if (!this.expansions.take(c.validator)) return this.count('COMPACT_BUSY');
    if (this.compactSeen.size >= COMPACT_SEEN_MAX) this.compactSeen.clear();
    this.compactSeen.add(seenKey);
    const deadlineMs = this.clock.now() + stepTimeoutMsOf(this.timingAt(c.height).timeouts, c.round);
    void expand
      .call(this.o.ledger, c.compact, deadlineMs)
      .then(
        (r) => {
          if (this.stopped || this.halted !== null || !r.ok) {
            if (!r.ok) {
              this.compactSeen.delete(seenKey);
              this.count(r.code === 'compact_entries_missing' ? 'COMPACT_ENTRIES_MISSING' : 'COMPACT_INVALID');
              this.o.log('info', 'compact proposal not rebuilt', { height: c.height, round: c.round, code: r.code, reason: r.message });
            }
            this.expansions.release(c.validator);
            return;
          }
          const p = toProposal(c, r.value);
          this.keepCompactRecord(p, rec);
          void this.enqueue(
            () => (replayed > 0 ? this.admit(p, replayed) : this.onMessage(p)),
            () => this.expansions.release(c.validator),
          );
        },
        () => {
          this.compactSeen.delete(seenKey);
          this.expansions.release(c.validator);
        },
      );
  }

  private keepCompactRecord(p: Proposal, rec: Uint8Array): void {
    if (p.height !== this.compactHeight) {
      this.compactHeight = p.height;
      this.compactRecords = new Map();
      this.compactRecordBytes = 0;
    }
    // Past the bound the proposal is written whole (still bounded by its sender's WAL share).
    if (this.compactRecords.size >= COMPACT_RECORDS_MAX || this.compactRecordBytes + rec.length > COMPACT_RECORD_BYTES_MAX) return;
    this.compactRecordBytes += rec.length;
    this.compactRecords.set(`${p.validator}:${p.round}:${toHex(this.valueId(p.value))}`, rec);
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
    this.walBuffer.dropBelow(height);
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
        this.flushWhenIdle();
      }
    });
    this.queue = run;
    return run;
  }

  protected count(code: string): void {
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1;
  }

  /**
   * Records `bytes` in height's WAL: held for the next write (wal-buffer.ts), written at once only
   * when the buffer is full. False when consensus halted instead.
   */
  protected async walAppend(height: number, bytes: Uint8Array): Promise<boolean> {
    this.walBuffer.add(height, bytes);
    return this.walBuffer.full() ? this.walFlush() : true;
  }

  /** Writes the held WAL records (unsynced, one write). False when consensus halted instead. */
  protected async walFlush(): Promise<boolean> {
    const height = this.walBuffer.height;
    const records = this.walBuffer.take(height);
    if (records.length === 0) return true;
    try {
      await this.o.store.walAppend(height, records, { sync: false });
      return true;
    } catch (e) {
      this.walFailed(height, e as Error);
      return false;
    }
  }

  /**
   * The queue ran empty with records held: one unsynced write, outside the queue so a message
   * arriving meanwhile is not held up by it (the store orders it before any later write). It
   * counts in the queue depth, so "queue empty" still means "WAL written".
   */
  private flushWhenIdle(): void {
    if (this.depth > 0 || this.walBuffer.size === 0 || this.stopped || this.halted !== null) return;
    this.depth++;
    this.detach(
      this.walFlush().then(() => {
        this.depth--;
      }),
    );
  }

  /** A WAL write failed: fail-stop (the shares sum to the store's cap, so WAL_FULL means a bug or another writer). */
  protected walFailed(height: number, e: Error): void {
    const full = (e as { code?: string }).code === 'WAL_FULL';
    // Carrying on would drop messages silently and a restart could not resume.
    this.halt(full ? 'WAL_FULL' : 'STORE_FAILED', `WAL append for height ${height} failed: ${e.message}`);
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

  /** A durable write consensus relies on failed outside the runner (the final checkpoint note): fail-stop. */
  storeFailed(message: string): void {
    if (this.stopped) return;
    this.halt('STORE_FAILED', message);
  }

  /** Writes started and not waited for (checkpoint signature, WAL prune): stop() waits for them. */
  private readonly detached = new Set<Promise<void>>();

  protected detach(p: Promise<void>): void {
    this.detached.add(p);
    void p.finally(() => this.detached.delete(p));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribeMempool?.();
    if (this.startTimer !== null) this.clock.clearTimeout(this.startTimer);
    if (this.resendTimer !== null) this.clock.clearTimeout(this.resendTimer);
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
    await this.queue.catch(() => undefined);
    // What the driver used goes to the WAL before the caller closes the store.
    if (this.halted === null) await this.walFlush();
    await Promise.allSettled([...this.detached]);
  }
}

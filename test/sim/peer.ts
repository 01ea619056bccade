// A simulated Byzantine peer (or one of a Twins pair): one ConsensusDriver (src/consensus/driver.ts)
// plus a "disk" and hand-written plumbing around the driver, so its behaviours can deviate from the
// protocol at will. Correct peers do not use this class: they run the real consensus runner
// (runner-peer.ts). The types and the anti-entropy protocol described here are shared by both.
//
// Disk (survives a crash; nothing else does):
//   - signerState: the last `persist` effect (durable BEFORE any later effect runs, in
//     particular before the broadcast it protects — effects run strictly in order here);
//   - wal: every consensus message received, appended BEFORE it is handed to the driver
//     (write-ahead), and every message we broadcast, appended before it is sent; pruned when a
//     new height starts. Timeouts are NOT logged: after a restart the driver only learns about the
//     timeouts that fired before the crash through its SignerState;
//   - ledger: decided values with their proposal and commit certificate (the node's block store).
// Restart = a fresh driver built from signerState, start-height(ledger top + 1) (resumes when the
// persisted state is at that height, per types.ts), then the WAL replayed in order.
//
// Anti-entropy ("gossip"): the paper's liveness proof assumes that a message received by a correct
// process is eventually received by every correct process (§2, gossip communication). Messages
// lost before GST or while a peer was down are therefore re-sent: a peer that made no progress
// for a gossipIntervalMs sends a Status (height + the message keys it holds for that height); a receiver at the same
// height answers with the messages the sender lacks, and a receiver that already decided that
// height answers with the decided proposal plus the precommits rebuilt from the commit
// certificate, which lets the lagging driver decide through L49.
//
// Behaviours: correct, or Byzantine (silent, equivocating proposer, double voter, invalid
// proposer), or one of a Twins pair (correct code, shared key; Byzantine as a pair).

import { ConsensusDriver } from '../../src/consensus/driver.js';
import { encodeMessage, decodeMessage, encodeCertificate, decodeCertificate } from '../../src/consensus/codec.js';
import type { CertificateResult } from '../../src/consensus/certificate.js';
import { proposalSignBytes, voteSignBytes } from '../../src/consensus/sign-bytes.js';
import { proposer } from '../../src/consensus/quorum.js';
import { ROUNDS_KEPT_DEFAULT } from '../../src/consensus/limits.js';
import type {
  CommitCertificate,
  ConsensusConfig,
  HeightValidators,
  ConsensusMessage,
  Effect,
  Input,
  Proposal,
  SignerState,
  Step,
  Vote,
} from '../../src/consensus/types.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { bytesEqual, toHex } from '../../src/encoding/bytes.js';
import type { Prng } from './prng.js';
import type { DecideRecord, Violation } from './invariants.js';
import { makeValue } from './values.js';

/**
 * - correct: the real driver, held to every invariant;
 * - silent: never sends (or receives) anything — a crashed-forever validator;
 * - equivocator: as proposer sends two different proposals to two halves, then votes for each
 *   half's value; otherwise double-votes half of the time;
 * - double-voter: every vote goes to a random half, a conflicting vote to the other half;
 * - invalid-proposer: proposes values the ledger rejects (valid(v) = false);
 * - amnesiac: ignores its lock (its driver runs with noLocking) and sends each vote to a random
 *   subset of peers only — the adversary that tries to make correct peers decide a second value
 *   after one was decided in an earlier round (defeated only by correct peers' locks, L23/L29);
 * - spammer: behaves, but with every vote also sends validly signed nil votes for far-future
 *   rounds of this height and for future heights (tests the driver's round/height windows and
 *   buffers, and that f such validators cannot trigger the L55 skip on their own);
 * - twin: correct code, but two nodes share one validator key (Twins; Byzantine as a pair);
 * - wal-flooder: behaves, but with every message also sends validly signed junk for the current
 *   height: fresh proposals in its own proposer rounds (many versions of one slot) and votes for
 *   random value ids in the rounds ahead — what used to fill a peer's per-height WAL;
 * - junk-proposer: behaves, but also sends validly signed proposals for rounds it does not
 *   propose in (this height and the next);
 * - height-liar: behaves, but also sends validly signed votes and proposals for heights far
 *   above the current one (and a few just above it).
 */
export type Behaviour =
  | 'correct'
  | 'silent'
  | 'equivocator'
  | 'double-voter'
  | 'invalid-proposer'
  | 'amnesiac'
  | 'spammer'
  | 'twin'
  | 'wal-flooder'
  | 'junk-proposer'
  | 'height-liar';

export const BYZANTINE_BEHAVIOURS: readonly Behaviour[] = [
  'silent',
  'equivocator',
  'double-voter',
  'invalid-proposer',
  'amnesiac',
  'spammer',
  'twin',
  'wal-flooder',
  'junk-proposer',
  'height-liar',
];

/** Validly signed junk messages a wal-flooder / junk-proposer / height-liar adds per message of its own. */
export const JUNK_PER_MESSAGE = 8;

/** Extra messages a spammer sends per vote of its own. */
export const SPAM_PER_VOTE = 4;

/** Most WAL records kept per peer (older records of the current height are never dropped silently: overflow is reported). */
export const WAL_ENTRIES_MAX = 50_000;
/** Most distinct messages kept per height in the gossip store. */
export const STORE_MESSAGES_PER_HEIGHT_MAX = 20_000;
/** Heights ahead of the current one whose messages the gossip store keeps (the driver buffers its own window). */
export const STORE_FUTURE_HEIGHTS_MAX = 2;

/** Driver rejections that no message of the simulation deserves: one of them is a bug (driver or sim). */
export const UNEXPECTED_REJECTIONS: ReadonlySet<string> = new Set(['BAD_SIGNATURE', 'UNKNOWN_VALIDATOR', 'MALFORMED', 'WRONG_PROPOSER', 'VALUE_TOO_LARGE', 'TRANSITION_LIMIT', 'GET_VALUE_FAILED']);

export type Payload =
  | { kind: 'consensus'; type: ConsensusMessage['type']; bytes: Uint8Array }
  | { kind: 'status'; height: number; have: string[] }
  /** Catch-up for a lagging peer: a decided value, its proposal (if known) and commit certificate. */
  | { kind: 'decision'; height: number; value: Uint8Array; proposal: Uint8Array | null; certificate: Uint8Array };

export type PeerTimer =
  | { kind: 'timeout'; height: number; round: number; step: Step }
  | { kind: 'start-height'; height: number }
  | { kind: 'gossip' }
  /** A runner peer's timer (its injected clock's setTimeout). */
  | { kind: 'callback'; id: number };

export interface LedgerEntry {
  round: number;
  value: Uint8Array;
  valueId: Uint8Array;
  certificate: CommitCertificate;
  proposal: Proposal | null;
}

export interface Disk {
  signerState: SignerState | null;
  wal: ConsensusMessage[];
  ledger: Map<number, LedgerEntry>;
}

/** What the simulation provides to a peer. */
export interface PeerEnv {
  now(): number;
  nodeCount: number;
  chainId: string;
  /** Sends through the simulated network (which may drop, delay, duplicate). */
  send(from: number, to: number, payload: Payload): void;
  /** Schedules a timer for this peer's current incarnation, delay in the peer's local clock. */
  timer(node: number, incarnation: number, localDelayMs: number, t: PeerTimer): void;
  /** Called for every message a CORRECT validator broadcasts (invariant: no double signing). */
  onSigned(node: number, m: ConsensusMessage): void;
  /** Called for every decision of a CORRECT node (own, or adopted from a verified certificate when `synced`). */
  onDecide(node: number, d: DecideRecord, synced: boolean): void;
  verifyCertificate(c: CommitCertificate): CertificateResult;
  /** Crash injection: after effect `index` of an effects list (-1: keep running; for a broadcast, k >= 0 = crash after k recipients got it). */
  crashPoint(peer: { node: number }, effect: Effect): number;
  report(v: Violation): void;
  trace(line: string): void;
  readonly tracing: boolean;
  gossipIntervalMs: number;
}

export interface PeerStats {
  proposalsSent: number;
  votesSent: number;
  rejected: Map<string, number>;
  evidence: number;
  walOverflow: number;
  decodeErrors: number;
  /** Heights adopted from a commit certificate because the driver could not decide them itself. */
  synced: number;
}

export interface PeerOptions {
  node: number;
  validator: number;
  behaviour: Behaviour;
  /** Driver config minus the per-incarnation parts (the same across restarts). */
  config: ConsensusConfig;
  signer: Ed25519Signer;
  valueId: (v: Uint8Array) => Uint8Array;
  prng: Prng;
  firstHeight: number;
  /** Amnesiac Byzantine peers play the targeted lock attack instead of random partial sends. */
  amnesiacTargeted?: boolean;
  /** Local time a node stays idle after a decision before starting the next height (empty mempool). */
  idleMs?: number;
  /**
   * Membership scenario: this node's view of the validator set of height h when its decided head
   * is `decidedTop` (changes decided after it are unknown to it), with its index and signer.
   */
  setAt?: (height: number, decidedTop: number) => HeightValidators;
}

/**
 * Gossip-store key. It includes (a prefix of) the value id, so that BOTH messages of an
 * equivocating validator circulate: the paper counts "2f+1 ⟨PREVOTE, h, r, id(v)⟩" per value, so a
 * double voter's vote for v counts toward v whatever else it sent.
 */
function msgKey(m: ConsensusMessage, valueId: (v: Uint8Array) => Uint8Array): string {
  const t = m.type === 'proposal' ? 'P' : m.type === 'prevote' ? 'V' : 'C';
  const id = m.type === 'proposal' ? toHex(valueId(m.value).subarray(0, 6)) : m.valueId === null ? 'nil' : toHex(m.valueId.subarray(0, 6));
  return `${t}${m.round}:${m.validator}:${id}`;
}

function cloneSignerState(s: SignerState): SignerState {
  // The driver may reuse objects; the disk must hold a snapshot (deep enough: byte arrays copied).
  return {
    ...s,
    lockedValue: s.lockedValue === null ? null : s.lockedValue.slice(),
    validValue: s.validValue === null ? null : s.validValue.slice(),
    lastSigned: s.lastSigned === null ? null : { ...s.lastSigned },
  };
}

export class SimPeer {
  readonly node: number;
  readonly validator: number;
  readonly behaviour: Behaviour;
  readonly disk: Disk = { signerState: null, wal: [], ledger: new Map() };
  readonly stats: PeerStats = { proposalsSent: 0, votesSent: 0, rejected: new Map(), evidence: 0, walOverflow: 0, decodeErrors: 0, synced: 0 };
  /** Current incarnation; timers of older incarnations are ignored. */
  incarnation = 0;
  up = false;
  crashes = 0;
  private driver: ConsensusDriver | null = null;
  /** Messages known per height (gossip store), rebuilt from the WAL after a restart. */
  private store = new Map<number, Map<string, ConsensusMessage>>();
  /** Equivocator bookkeeping: (h,r) -> recipients of the alternative proposal and its id. */
  private readonly splits = new Map<string, { groupB: Set<number>; altId: Uint8Array }>();
  /** Cache of decidedTop (the ledger only grows). */
  private ledgerTop: number | null = null;
  /** (height, round, step, messages held) at the last gossip tick. */
  private lastProgress = '';
  /** Effects of the last driver input (read right after run()). */
  private lastEffects: Effect[] = [];
  /** Targeted amnesiac bookkeeping: height -> the round attacked and who is kept in the dark. */
  private readonly attacks = new Map<number, { round: number; hideAll: Set<number>; hidePrecommit: Set<number> }>();
  private readonly opts: PeerOptions;

  constructor(
    opts: PeerOptions,
    private readonly env: PeerEnv,
  ) {
    this.opts = opts;
    this.node = opts.node;
    this.validator = opts.validator;
    this.behaviour = opts.behaviour;
  }

  /** This peer works synchronously: nothing left to settle after an input. */
  get busy(): boolean {
    return false;
  }

  /** Correct peers are held to the invariants (Twins and Byzantine peers are not). */
  get isCorrect(): boolean {
    return this.behaviour === 'correct';
  }

  get height(): number {
    return this.driver?.height ?? 0;
  }

  get round(): number {
    return this.driver?.round ?? 0;
  }

  /** Highest height of the contiguous ledger (firstHeight - 1 when nothing is decided). */
  get decidedTop(): number {
    let top = this.ledgerTop ?? this.opts.firstHeight - 1;
    while (this.disk.ledger.has(top + 1)) top++;
    this.ledgerTop = top;
    return top;
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  boot(): void {
    if (this.behaviour === 'silent') return; // a silent validator never speaks nor listens
    this.up = true;
    this.driver = new ConsensusDriver(this.opts.config);
    this.scheduleGossip();
    this.run({ kind: 'start-height', height: this.opts.firstHeight });
  }

  crash(): void {
    if (!this.up) return;
    this.up = false;
    this.crashes++;
    this.incarnation++;
    this.driver = null;
    this.store = new Map();
    if (this.env.tracing) this.env.trace(`n${this.node} CRASH`);
  }

  restart(): void {
    if (this.up || this.behaviour === 'silent') return;
    this.up = true;
    this.incarnation++;
    const restored = this.disk.signerState === null ? undefined : cloneSignerState(this.disk.signerState);
    this.driver = new ConsensusDriver(this.opts.config, restored);
    const h = this.decidedTop + 1;
    if (this.env.tracing) {
      const s = this.disk.signerState;
      this.env.trace(
        `n${this.node} RESTART at h=${h} from ${s === null ? 'nothing' : `h=${s.height} r=${s.round} ${s.step} lastSigned=${s.lastSigned === null ? 'none' : `${s.lastSigned.round}/${s.lastSigned.step}`}`} wal=${this.disk.wal.length}`,
      );
    }
    this.scheduleGossip();
    if (!this.run({ kind: 'start-height', height: h })) return;
    // Replay the WAL (a copy: replay itself appends nothing, but a crash during replay must not lose it).
    const wal = this.disk.wal.slice();
    for (const m of wal) {
      if (m.height < h) continue;
      this.remember(m);
      if (!this.run({ kind: 'message', message: m })) return;
    }
  }

  // ---- inputs ---------------------------------------------------------------------------------

  onTimer(t: PeerTimer): void {
    if (!this.up || this.driver === null) return;
    if (t.kind === 'timeout') {
      this.run({ kind: 'timeout', height: t.height, round: t.round, step: t.step });
    } else if (t.kind === 'start-height') {
      if (t.height !== this.decidedTop + 1 || t.height <= this.driver.height) return; // stale
      this.pruneBelow(t.height);
      this.run({ kind: 'start-height', height: t.height });
    } else {
      this.gossip();
      this.scheduleGossip();
    }
  }

  onDeliver(from: number, p: Payload): void {
    if (!this.up || this.driver === null) return;
    if (p.kind === 'status') {
      this.onStatus(from, p.height, p.have);
      return;
    }
    if (p.kind === 'decision') {
      this.onDecision(p);
      return;
    }
    const d = decodeMessage(p.bytes);
    if (!d.ok) {
      // Every sender in the simulation encodes with encodeMessage: a decode failure is a codec bug.
      this.stats.decodeErrors++;
      this.env.report({ kind: 'codec', atMs: this.env.now(), node: this.node, detail: `decode failed: ${d.code}: ${d.message}` });
      return;
    }
    this.onConsensusMessage(d.message);
  }

  private onConsensusMessage(m: ConsensusMessage): void {
    if (this.driver === null) return;
    if (m.height < this.driver.height) return; // stale: the driver would ignore it too; keep the WAL small
    if (this.behaviour === 'amnesiac' && m.type === 'precommit' && this.attacks.get(m.height)?.round === m.round) {
      // The attacker must not decide the attacked round itself: it still has to vote for the
      // fresh value in the next round (it gets there by the L55 skip rule).
      return;
    }
    if (!this.remember(m)) {
      // An exact duplicate of a message we already hold: nothing new for the driver. (An
      // equivocating second version is NOT a duplicate: it goes to the driver for evidence.)
      return;
    }
    this.walAppend(m); // write-ahead: durable before the driver sees it
    const [heightBefore, roundBefore] = [this.driver.height, this.driver.round];
    if (!this.run({ kind: 'message', message: m })) return;
    const farFuture = m.height === heightBefore && m.round > roundBefore + (this.opts.config.maxRoundsKept ?? ROUNDS_KEPT_DEFAULT);
    const tooOld = this.lastEffects.some((e) => e.kind === 'rejected' && e.code === 'ROUND_OUT_OF_WINDOW');
    if (farFuture || (tooOld && m.type === 'prevote' && m.valueId !== null)) {
      // The driver did not keep it (a round outside its vote-keeper window: far-future rounds
      // only count for the L55 skip), so we do not "have" it: anti-entropy may deliver it again
      // once the driver wants it (e.g. the prevotes of a proposal's validRound, which L28 needs,
      // or the votes of the round we skipped to). Tendermint-go's gossip works the same way: what
      // a peer has is what its vote sets hold, and the POL prevotes go to peers that lack them.
      // Old nil votes and old precommits are never needed again (catch-up uses certificates).
      this.store.get(m.height)?.delete(msgKey(m, this.opts.valueId));
    }
    // Idle after a decision: a valid message for the next height (the driver verified and
    // buffered it) wakes the node up at once, so an idle peer never holds the others back.
    const next = this.decidedTop + 1;
    if (this.driver.decided && m.height === next && this.driver.bufferedCount(next) > 0 && this.driver.height < next) {
      this.pruneBelow(next);
      this.run({ kind: 'start-height', height: next });
    }
  }

  private walAppend(m: ConsensusMessage): void {
    if (this.disk.wal.length >= WAL_ENTRIES_MAX) {
      this.stats.walOverflow++;
      this.env.report({ kind: 'limit', atMs: this.env.now(), node: this.node, detail: `WAL_ENTRIES_MAX=${WAL_ENTRIES_MAX} reached` });
      return;
    }
    this.disk.wal.push(m);
  }

  // ---- the driver loop ---------------------------------------------------------------------------

  /** Runs one input and executes its effects in order. Returns false if the peer crashed meanwhile. */
  private run(input: Input): boolean {
    const driver = this.driver;
    if (driver === null) return false;
    let effects: Effect[];
    try {
      effects = driver.handle(input);
    } catch (e) {
      this.env.report({
        kind: 'exception',
        atMs: this.env.now(),
        node: this.node,
        detail: `driver.handle(${input.kind}) threw: ${(e as Error).stack ?? String(e)}`,
      });
      this.crash();
      return false;
    }
    if (this.env.tracing) this.traceInput(input, effects);
    this.lastEffects = effects;
    for (const eff of effects) {
      const crashAt = this.isCorrect ? this.env.crashPoint(this, eff) : -1;
      this.execute(eff, crashAt);
      if (crashAt >= 0) {
        this.crash();
        return false;
      }
    }
    return true;
  }

  private execute(eff: Effect, crashAt: number): void {
    switch (eff.kind) {
      case 'persist':
        this.disk.signerState = cloneSignerState(eff.state);
        return;
      case 'broadcast':
        this.broadcast(eff.message, crashAt);
        return;
      case 'schedule-timeout':
        this.env.timer(this.node, this.incarnation, eff.durationMs, {
          kind: 'timeout',
          height: eff.height,
          round: eff.round,
          step: eff.step,
        });
        return;
      case 'decide': {
        const proposal = this.findProposal(eff.height, eff.round, eff.valueId);
        this.disk.ledger.set(eff.height, {
          round: eff.round,
          value: eff.value,
          valueId: eff.valueId,
          certificate: eff.certificate,
          proposal,
        });
        if (this.isCorrect) {
          this.env.onDecide(
            this.node,
            { height: eff.height, round: eff.round, value: eff.value, valueId: eff.valueId, certificate: eff.certificate },
            false,
          );
        }
        // The node starts the next height when it has entries (after `idleMs`: an idle mempool)
        // OR as soon as it holds a valid message for the next height (see onConsensusMessage).
        this.env.timer(this.node, this.incarnation, this.opts.idleMs ?? 0, { kind: 'start-height', height: eff.height + 1 });
        return;
      }
      case 'evidence':
        this.stats.evidence++;
        return;
      case 'rejected':
        this.stats.rejected.set(eff.code, (this.stats.rejected.get(eff.code) ?? 0) + 1);
        // Only correct peers are held to this; they run the real runner (runner-peer.ts), which
        // reports it the same way. Byzantine receivers may see junk from other Byzantine peers.
        if (this.isCorrect && UNEXPECTED_REJECTIONS.has(eff.code)) {
          // Every message in the simulation is well-formed and signed by the validator it names
          // (Byzantine peers sign with their own key and propose only in their own rounds).
          this.env.report({ kind: 'unexpected-rejection', atMs: this.env.now(), node: this.node, detail: `driver rejected an input: ${eff.code}: ${eff.reason}` });
        }
        return;
    }
  }

  // ---- broadcasting (correct and Byzantine) ---------------------------------------------------------

  private recipients(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.env.nodeCount; i++) if (i !== this.node) out.push(i);
    return out;
  }

  private sendTo(to: number, m: ConsensusMessage): void {
    this.env.send(this.node, to, { kind: 'consensus', type: m.type, bytes: encodeMessage(m) });
  }

  private broadcast(m: ConsensusMessage, crashAfterRecipients: number): void {
    if (m.type === 'proposal') this.stats.proposalsSent++;
    else this.stats.votesSent++;
    // Our own signed messages go to the WAL too (before they leave, like Tendermint's WAL): after
    // a crash they are the only copy we can re-gossip, and the restored driver needs them, e.g.
    // our prevote in a polka that justifies re-proposing validValue (L28 on our own proposal).
    if (this.remember(m)) this.walAppend(m);
    if (this.isCorrect) this.env.onSigned(this.node, m);
    const to = this.recipients();
    const limit = crashAfterRecipients >= 0 ? Math.min(crashAfterRecipients, to.length) : to.length;
    switch (this.behaviour) {
      case 'equivocator':
        if (this.equivocate(m, to)) return;
        break;
      case 'double-voter':
        if (m.type !== 'proposal' && this.doubleVote(m, to)) return;
        break;
      case 'amnesiac':
        this.amnesiac(m, to);
        return;
      case 'spammer':
        if (m.type !== 'proposal') this.spam(m, to);
        break;
      case 'wal-flooder':
      case 'junk-proposer':
      case 'height-liar':
        this.junk(m, to);
        break;
      default:
        break;
    }
    const payload: Payload = { kind: 'consensus', type: m.type, bytes: encodeMessage(m) };
    for (let i = 0; i < limit; i++) this.env.send(this.node, to[i]!, payload);
  }

  /** Equivocating proposer: two different proposals to two halves, then votes matching each half. */
  private equivocate(m: ConsensusMessage, to: number[]): boolean {
    const prng = this.opts.prng;
    const key = `${m.height}/${m.round}`;
    if (m.type === 'proposal') {
      const alt = makeValue(prng, m.height, this.node, prng.chance(0.7));
      const altId = this.opts.valueId(alt);
      const sig = this.opts.signer.sign(proposalSignBytes(this.env.chainId, m.height, m.round, altId, m.validRound));
      const alternative: Proposal = { ...m, value: alt, signature: sig };
      const shuffled = prng.shuffled(to);
      const groupB = new Set(shuffled.slice(0, Math.floor(shuffled.length / 2)));
      this.splits.set(key, { groupB, altId });
      for (const t of to) this.sendTo(t, groupB.has(t) ? alternative : m);
      if (this.env.tracing) this.env.trace(`n${this.node} BYZ equivocating proposal h=${m.height} r=${m.round} to ${[...groupB].join(',')}`);
      return true;
    }
    const split = this.splits.get(key);
    if (split === undefined) return prng.chance(0.5) && this.doubleVote(m, to);
    const alt = this.signVote(m.type, m.height, m.round, m.valueId === null ? null : split.altId);
    for (const t of to) this.sendTo(t, split.groupB.has(t) ? alt : m);
    return true;
  }

  /** Double voter: the driver's vote to a random half, a conflicting vote to the other half. */
  private doubleVote(m: Vote, to: number[]): boolean {
    const prng = this.opts.prng;
    const seen: Uint8Array[] = [];
    for (const x of this.store.get(m.height)?.values() ?? []) {
      if (x.type === 'proposal') {
        const id = this.opts.valueId(x.value);
        if (m.valueId === null || !bytesEqual(id, m.valueId)) seen.push(id);
      }
    }
    let altId: Uint8Array | null;
    if (m.valueId === null) altId = seen.length > 0 ? prng.pick(seen) : prng.bytes(32);
    else altId = prng.chance(0.5) || seen.length === 0 ? null : prng.pick(seen);
    const alt = this.signVote(m.type, m.height, m.round, altId);
    const shuffled = prng.shuffled(to);
    const half = Math.floor(shuffled.length / 2);
    for (let i = 0; i < shuffled.length; i++) this.sendTo(shuffled[i]!, i < half ? alt : m);
    if (this.env.tracing) this.env.trace(`n${this.node} BYZ double ${m.type} h=${m.height} r=${m.round} to ${shuffled.slice(0, half).join(',')}`);
    return true;
  }

  /**
   * Amnesiac: forgets locks and valid values. A proposal is always a fresh value (vr = -1, even
   * when the driver re-proposes its validValue).
   * - random (default): every vote reaches each peer with probability 1/2, so some peers see a
   *   polka or a commit that others never see;
   * - targeted (PeerOptions.amnesiacTargeted): in the first round it proposes at a height it
   *   plays the textbook attack on locking: it hides its proposal and votes from the proposer of
   *   the NEXT round (who then has no validValue and proposes a fresh value), and its precommit
   *   from one more peer — so exactly one correct peer decides v while another has only locked
   *   it; in the next round it supports the fresh value (it ignores the attacked round's
   *   precommits so as not to decide it itself). Correct locks (L23/L29) defeat this.
   */
  private amnesiac(m: ConsensusMessage, to: number[]): void {
    const prng = this.opts.prng;
    if (m.type === 'proposal') {
      let out: Proposal = m;
      if (m.validRound >= 0) {
        const value = makeValue(prng, m.height, this.node, true);
        const sig = this.opts.signer.sign(proposalSignBytes(this.env.chainId, m.height, m.round, this.opts.valueId(value), -1));
        out = { ...m, value, validRound: -1, signature: sig };
      }
      let hidden: Set<number> | null = null;
      if (this.opts.amnesiacTargeted === true && !this.attacks.has(m.height) && to.length >= 3) {
        const next = proposer(m.height, m.round + 1, this.opts.config.validators.length);
        const others = prng.shuffled(to.filter((t) => t !== next));
        hidden = new Set([next]);
        this.attacks.set(m.height, { round: m.round, hideAll: hidden, hidePrecommit: new Set(others.slice(1)) });
        if (this.env.tracing) this.env.trace(`n${this.node} BYZ lock attack h=${m.height} r=${m.round}: hide from ${next}, precommit only to ${others[0]}`);
      }
      for (const t of to) if (hidden === null || !hidden.has(t)) this.sendTo(t, out);
      return;
    }
    const payload: Payload = { kind: 'consensus', type: m.type, bytes: encodeMessage(m) };
    if (this.opts.amnesiacTargeted === true) {
      const a = this.attacks.get(m.height);
      for (const t of to) {
        const hide = a !== undefined && a.round === m.round && (a.hideAll.has(t) || (m.type === 'precommit' && a.hidePrecommit.has(t)));
        if (!hide) this.env.send(this.node, t, payload);
      }
      return;
    }
    for (const t of to) if (prng.chance(0.5)) this.env.send(this.node, t, payload);
  }

  private spam(m: Vote, to: number[]): void {
    const prng = this.opts.prng;
    for (let i = 0; i < SPAM_PER_VOTE; i++) {
      const type = prng.chance(0.5) ? 'prevote' : 'precommit';
      const far = prng.chance(0.5);
      const height = far ? m.height + 1 + prng.int(4) : m.height;
      const round = far ? prng.int(40) : m.round + 1 + prng.int(60);
      const v = this.signVote(type, height, round, null);
      for (const t of to) this.sendTo(t, v);
    }
  }

  /** Validly signed junk of the wal-flooder, junk-proposer and height-liar behaviours. */
  private junk(m: ConsensusMessage, to: number[]): void {
    const prng = this.opts.prng;
    const n = this.opts.config.validators.length;
    const out: ConsensusMessage[] = [];
    for (let i = 0; i < JUNK_PER_MESSAGE; i++) {
      if (this.behaviour === 'wal-flooder') {
        if (prng.chance(0.5)) {
          // A fresh version of a proposal in one of our own proposer rounds at or above m.round.
          let r = m.round + prng.int(3 * n);
          while (proposer(m.height, r, n) !== this.validator) r++;
          out.push(this.signProposal(m.height, r, makeValue(prng, m.height, this.node, prng.chance(0.5))));
        } else {
          const type = prng.chance(0.5) ? 'prevote' : 'precommit';
          out.push(this.signVote(type, m.height, m.round + prng.int(16), prng.bytes(32)));
        }
      } else if (this.behaviour === 'junk-proposer') {
        const height = m.height + (prng.chance(0.8) ? 0 : 1);
        let r = m.round + prng.int(4);
        if (proposer(height, r, n) === this.validator) r++;
        out.push(this.signProposal(height, r, makeValue(prng, height, this.node, true)));
      } else {
        const height = m.height + (prng.chance(0.2) ? 1 + prng.int(2) : 3 + prng.int(1_000_000));
        const r = prng.int(4);
        if (prng.chance(0.3)) {
          let pr = r;
          while (proposer(height, pr, n) !== this.validator) pr++;
          out.push(this.signProposal(height, pr, makeValue(prng, height, this.node, true)));
        } else {
          out.push(this.signVote(prng.chance(0.5) ? 'prevote' : 'precommit', height, r, prng.chance(0.5) ? null : prng.bytes(32)));
        }
      }
    }
    for (const j of out) for (const t of to) this.sendTo(t, j);
  }

  private signProposal(height: number, round: number, value: Uint8Array): Proposal {
    const signature = this.opts.signer.sign(proposalSignBytes(this.env.chainId, height, round, this.opts.valueId(value), -1));
    return { type: 'proposal', height, round, value, validRound: -1, validator: this.validator, signature };
  }

  private signVote(type: 'prevote' | 'precommit', height: number, round: number, valueId: Uint8Array | null): Vote {
    const signature = this.opts.signer.sign(voteSignBytes(this.env.chainId, type, height, round, valueId));
    return { type, height, round, valueId, validator: this.validator, signature };
  }

  // ---- gossip store and anti-entropy -------------------------------------------------------------

  /** Adds a message to the gossip store; returns false for an exact duplicate. */
  private remember(m: ConsensusMessage): boolean {
    const current = this.driver?.height ?? 0;
    if (m.height > current + STORE_FUTURE_HEIGHTS_MAX) return true; // not stored, still handed to the driver (it bounds its own buffer)
    let perHeight = this.store.get(m.height);
    if (perHeight === undefined) {
      perHeight = new Map();
      this.store.set(m.height, perHeight);
    }
    const k = msgKey(m, this.opts.valueId);
    const prev = perHeight.get(k);
    if (prev !== undefined) return !sameMessage(prev, m);
    if (perHeight.size < STORE_MESSAGES_PER_HEIGHT_MAX) perHeight.set(k, m);
    return true;
  }

  private pruneBelow(height: number): void {
    for (const h of [...this.store.keys()]) if (h < height) this.store.delete(h);
    if (this.disk.wal.length > 0 && this.disk.wal.some((m) => m.height < height)) {
      this.disk.wal = this.disk.wal.filter((m) => m.height >= height);
    }
  }

  private findProposal(height: number, round: number, valueId: Uint8Array): Proposal | null {
    for (const m of this.store.get(height)?.values() ?? []) {
      if (m.type === 'proposal' && m.round === round && bytesEqual(this.opts.valueId(m.value), valueId)) return m;
    }
    return null;
  }

  private scheduleGossip(): void {
    if (this.behaviour !== 'correct' && this.behaviour !== 'twin') return; // Byzantine peers do not help
    this.env.timer(this.node, this.incarnation, this.env.gossipIntervalMs, { kind: 'gossip' });
  }

  private gossip(): void {
    if (this.driver === null) return;
    const h = this.driver.height;
    // Only a peer that made no progress during the last interval asks for help: a progressing
    // peer needs nothing, and this keeps anti-entropy traffic near zero in the common case.
    const progress = `${h}/${this.driver.round}/${this.driver.step}/${this.store.get(h)?.size ?? 0}`;
    if (this.driver.decided) return; // idle after a decision: needs nothing (it still answers others)
    if (progress !== this.lastProgress) {
      this.lastProgress = progress;
      return;
    }
    const have = [...(this.store.get(h)?.keys() ?? [])];
    for (const to of this.recipients()) this.env.send(this.node, to, { kind: 'status', height: h, have });
  }

  private onStatus(from: number, height: number, have: string[]): void {
    if (this.driver === null || (this.behaviour !== 'correct' && this.behaviour !== 'twin')) return;
    const mine = this.driver.height;
    if (height < mine) {
      // The sender lags: give it what decided `height` here (block sync with a certificate).
      const entry = this.disk.ledger.get(height);
      if (entry === undefined) return;
      this.env.send(this.node, from, {
        kind: 'decision',
        height,
        value: entry.value,
        proposal: entry.proposal === null ? null : encodeMessage(entry.proposal),
        certificate: encodeCertificate(entry.certificate),
      });
      return;
    }
    if (height > mine) return; // we lag; our own Status will fetch what we miss
    const perHeight = this.store.get(height);
    if (perHeight === undefined) return;
    const theirs = new Set(have);
    for (const [k, m] of perHeight) if (!theirs.has(k)) this.sendTo(from, m);
  }

  /**
   * Catch-up. First the consensus way: the proposal plus the certificate's precommits go to the
   * driver, which decides through L49 in any round. If that is not enough (e.g. the driver holds
   * a conflicting vote of an equivocator), the node verifies the certificate itself and adopts
   * the value — what a real node's block sync does — then starts the next height.
   */
  private onDecision(p: Extract<Payload, { kind: 'decision' }>): void {
    if (this.driver === null || p.height !== this.decidedTop + 1) return;
    const c = decodeCertificate(p.certificate);
    if (!c.ok) {
      this.env.report({ kind: 'codec', atMs: this.env.now(), node: this.node, detail: `certificate decode failed: ${c.code}: ${c.message}` });
      return;
    }
    const cert = c.certificate;
    if (cert.height !== p.height) return;
    if (p.proposal !== null) {
      const d = decodeMessage(p.proposal);
      if (d.ok) this.onConsensusMessage(d.message);
      for (const s of cert.signatures) {
        if (!this.up || this.disk.ledger.has(p.height)) break;
        this.onConsensusMessage({ type: 'precommit', height: cert.height, round: cert.round, valueId: cert.valueId, validator: s.validator, signature: s.signature });
      }
    }
    if (!this.up || this.disk.ledger.has(p.height)) return; // decided by the driver (or crashed meanwhile)
    const ok = this.env.verifyCertificate(cert);
    const id = this.opts.valueId(p.value);
    if (!ok.ok || !bytesEqual(id, cert.valueId) || !this.opts.config.isValid(p.height, p.value)) return;
    this.stats.synced++;
    this.disk.ledger.set(p.height, { round: cert.round, value: p.value, valueId: id, certificate: cert, proposal: null });
    if (this.isCorrect) {
      this.env.onDecide(this.node, { height: p.height, round: cert.round, value: p.value, valueId: id, certificate: cert }, true);
    }
    if (this.env.tracing) this.env.trace(`n${this.node} SYNC h=${p.height} from certificate r=${cert.round}`);
    this.env.timer(this.node, this.incarnation, 0, { kind: 'start-height', height: p.height + 1 });
  }

  // ---- tracing ------------------------------------------------------------------------------------

  private traceInput(input: Input, effects: Effect[]): void {
    const what =
      input.kind === 'start-height'
        ? `start-height ${input.height}`
        : input.kind === 'timeout'
          ? `timeout h=${input.height} r=${input.round} ${input.step}`
          : `recv ${describe(input.message)}`;
    const outs = effects
      .filter((e) => e.kind !== 'rejected')
      .map((e) => {
        switch (e.kind) {
          case 'persist':
            return `persist(h=${e.state.height} r=${e.state.round} ${e.state.step})`;
          case 'broadcast':
            return `send ${describe(e.message)}`;
          case 'schedule-timeout':
            return `timer(${e.step} r=${e.round} ${e.durationMs}ms)`;
          case 'decide':
            return `DECIDE h=${e.height} r=${e.round} ${toHex(e.valueId).slice(0, 8)}`;
          case 'evidence':
            return `evidence(v${e.evidence.validator} ${e.evidence.type} r=${e.evidence.round})`;
          default:
            return 'other';
        }
      });
    const rej = effects.filter((e) => e.kind === 'rejected').map((e) => (e.kind === 'rejected' ? e.code : ''));
    this.env.trace(
      `n${this.node}(v${this.validator}${this.behaviour === 'correct' ? '' : ` ${this.behaviour}`}) ${what}` +
        (outs.length > 0 ? ` -> ${outs.join(', ')}` : '') +
        (rej.length > 0 ? ` [rejected ${rej.join(',')}]` : ''),
    );
  }
}

function sameMessage(a: ConsensusMessage, b: ConsensusMessage): boolean {
  if (a.type !== b.type || !bytesEqual(a.signature, b.signature)) return false;
  if (a.type === 'proposal' && b.type === 'proposal') return a.validRound === b.validRound && bytesEqual(a.value, b.value);
  if (a.type !== 'proposal' && b.type !== 'proposal') {
    return a.valueId === null ? b.valueId === null : b.valueId !== null && bytesEqual(a.valueId, b.valueId);
  }
  return false;
}

export function describe(m: ConsensusMessage): string {
  if (m.type === 'proposal') {
    return `proposal(v${m.validator} h=${m.height} r=${m.round} vr=${m.validRound} ${m.value.length}B)`;
  }
  return `${m.type}(v${m.validator} h=${m.height} r=${m.round} ${m.valueId === null ? 'nil' : toHex(m.valueId).slice(0, 8)})`;
}

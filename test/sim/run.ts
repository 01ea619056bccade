// The deterministic consensus simulator (in the style of FoundationDB's simulation and
// TigerBeetle's VOPR): `runSimulation(seed, config)` builds a plan from the seed, runs the real
// consensus runner and driver in every correct peer (runner-peer.ts; Byzantine peers run the
// driver with custom code, peer.ts) over a simulated network with a virtual clock, injects crashes and Byzantine
// behaviour, checks the safety invariants online (invariants.ts) and liveness at the end, and
// returns a SimResult. It is a pure function of (seed, config): no real clock, no Math.random,
// every iteration over ordered collections — the result includes a trace hash to prove it.
//
// Liveness (paper §4, "Termination"): after GST, with every correct peer up and connected, each
// height must be decided within a bounded number of rounds, counted from the round it was in at
// GST: the rounds its timeouts (growing by deltaMs per round) need to exceed the effective
// message delay, plus the f rounds Byzantine proposers can waste (proposer(h, r) = (h + r) mod n
// rotates, so among any f + 1 consecutive rounds one has a correct proposer), plus
// LIVENESS_EXTRA_ROUNDS; and the run must finish by a virtual deadline computed from those
// rounds' timeouts.

import type { ConsensusConfig, Effect, HeightValidators, Validator } from '../../src/consensus/types.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { sha256 } from '../../src/crypto/hash.js';
import type { Ed25519Verifier } from '../../src/crypto/types.js';
import { verifyCommitCertificate } from '../../src/consensus/certificate.js';
import { EventQueue } from './clock.js';
import { InvariantChecker, SAFETY_KINDS, type DecideRecord, type Violation } from './invariants.js';
import { Network, type MessageKind } from './network.js';
import { SimPeer, type Payload, type PeerEnv, type PeerTimer } from './peer.js';
import { RunnerSimPeer, SETTLE_TURNS_MAX } from './runner-peer.js';
import { Prng } from './prng.js';
import { buildPlan, setKeysAt, type BugName, type Plan, type ScenarioName, type SimConfig } from './scenario.js';
import { makeSimCrypto } from './sim-crypto.js';
import { TraceHash } from './trace-hash.js';
import { isValidValue, makeValue } from './values.js';

export type { SimConfig } from './scenario.js';

/** Rounds allowed per height after GST beyond the f that Byzantine proposers may waste and the
 * rounds timeouts need to outgrow the effective message delay (see roundBound). */
export const LIVENESS_EXTRA_ROUNDS = 2;
/** Default number of events one run may process. */
export const EVENTS_MAX_DEFAULT = 3_000_000;
/** Most trace lines kept (replay output). */
export const TRACE_LINES_MAX = 200_000;

const CHAIN_ID = 'cairn.sim/devnet';

type SimEvent =
  | { kind: 'boot'; node: number }
  | { kind: 'deliver'; from: number; to: number; payload: Payload }
  | { kind: 'timer'; node: number; incarnation: number; timer: PeerTimer }
  | { kind: 'crash'; node: number; downMs: number }
  | { kind: 'restart'; node: number }
  | { kind: 'gst' };

export interface SimResult {
  seed: number;
  scenario: ScenarioName;
  bug: BugName | null;
  n: number;
  f: number;
  /** Network nodes (n plus one per Twins pair). */
  nodes: number;
  byzantine: { node: number; validator: number; behaviour: string }[];
  heightsTarget: number;
  /** Heights decided by every correct peer. */
  heightsDecided: number;
  /** Round of the first correct decision of each height 1..heightsDecided (index 0 = height 1). */
  decisionRounds: number[];
  /** Consensus messages sent (each copy to each recipient counts once; anti-entropy included). */
  consensusMessages: number;
  statusMessages: number;
  events: number;
  virtualTimeMs: number;
  gstMs: number;
  crashes: number;
  evidence: number;
  /** Driver `rejected` effects by code, over all peers (diagnostics). */
  rejected: Record<string, number>;
  /** Heights adopted by correct peers from a verified commit certificate (block sync) instead of their own driver. */
  synced: number;
  /** Most WAL records a correct peer held for one height (bounded by the runner's admission). */
  walRecordsMax: number;
  /** Membership scenario: messages correct peers signed with a key that was not in the first set (joined or rotated in). */
  newKeyMessages: number;
  violations: Violation[];
  safetyViolated: boolean;
  traceHash: string;
  trace?: string[];
}

/** Correct peers run the real consensus runner; Byzantine peers (and Twins) the driver with custom code. */
type AnyPeer = SimPeer | RunnerSimPeer;

export function runSimulation(seed: number, config: SimConfig): Promise<SimResult> {
  return new Simulation(buildPlan(seed, config), config).run();
}

class Simulation {
  private readonly q = new EventQueue<SimEvent>();
  private readonly net: Network;
  private readonly peers: AnyPeer[] = [];
  private readonly checker: InvariantChecker;
  private readonly hash = new TraceHash();
  private readonly traceLines: string[] | null;
  private readonly crashPrng: Prng;
  private readonly maxEvents: number;
  private consensusMessages = 0;
  private statusMessages = 0;
  private events = 0;
  /** Per height: max round among correct peers at GST (for the liveness round bound). */
  private roundAtGst = new Map<number, number>();
  private gstPassed = false;
  private deadlineMs = Infinity;
  /** Worst delay after GST of a message a correct peer needs (see onGst). */
  private effectiveDelayMs = 0;
  /** Virtual time of the first correct decision per height. */
  private readonly decidedAt = new Map<number, number>();
  /** Every key's validator entry (key number = index); a set picks some of them. */
  private readonly validators: Validator[];
  private readonly verifier: Ed25519Verifier;
  /** HeightValidators objects by (set, our key, known): the same object for the same answer. */
  private readonly setCache = new Map<string, HeightValidators>();
  private synced = 0;
  private newKeyMessages = 0;

  constructor(
    private readonly plan: Plan,
    config: SimConfig,
  ) {
    this.traceLines = config.trace === true ? [] : null;
    this.maxEvents = config.maxEvents ?? EVENTS_MAX_DEFAULT;
    this.net = new Network(plan.network, Prng.derive(plan.seed, 'network'));
    this.crashPrng = Prng.derive(plan.seed, 'crash');
    const crypto = makeSimCrypto(plan.seed, plan.membership?.keys ?? plan.n, plan.realCrypto);
    this.validators = crypto.keys.map((k, i) => ({ name: `org${i}`, publicKey: k.publicKey }));
    this.verifier = crypto.verifier;
    const valueId = (v: Uint8Array) => sha256(v);
    this.checker = new InvariantChecker((h) => this.actualSet(h), CHAIN_ID, crypto.verifier, valueId);
    const signers = crypto.keys.map((k) => k.signer);
    const env = this.env();
    for (const pp of plan.peers) {
      const prng = Prng.derive(plan.seed, `peer-${pp.node}`);
      const invalid = pp.behaviour === 'invalid-proposer';
      // A joining validator's node is not in the first set: an observer until it is.
      const first = this.actualSet(0);
      const inFirst = pp.validator < first.length;
      const myKeys = [pp.validator, ...(pp.extraKeys ?? [])];
      const cfg: ConsensusConfig = {
        chainId: CHAIN_ID,
        validators: [...first],
        selfIndex: inFirst ? pp.validator : null,
        signer: inFirst ? crypto.keys[pp.validator]!.signer : null,
        // Byzantine drivers may know every set in advance; correct peers use their own view (setAt).
        ...(plan.membership !== null ? { validatorSetAt: (h: number) => this.setFor(h, Infinity, myKeys, signers) } : {}),
        verifier: crypto.verifier,
        getValue: (h: number) => makeValue(prng, h, pp.node, !invalid),
        isValid: isValidValue,
        valueId,
        timeouts: plan.timeouts,
        ...(config.maxRoundsKept !== undefined ? { maxRoundsKept: config.maxRoundsKept } : {}),
        ...(config.maxPastRoundsKept !== undefined ? { maxPastRoundsKept: config.maxPastRoundsKept } : {}),
        // An injected bug is in the software every peer runs, Byzantine ones included; an
        // amnesiac Byzantine peer ignores its locks on purpose.
        bugs: { ...(plan.bug !== null && plan.bug !== 'staleValidatorSet' ? { [plan.bug]: true } : {}), ...(pp.behaviour === 'amnesiac' ? { noLocking: true } : {}) },
      };
      const peerOpts = {
            node: pp.node,
            validator: pp.validator,
            behaviour: pp.behaviour,
            config: cfg,
            signer: crypto.keys[pp.validator]!.signer,
            valueId,
            prng,
            firstHeight: plan.firstHeight,
            amnesiacTargeted: plan.amnesiacTargeted,
            idleMs: plan.idleMs,
            ...(plan.membership !== null ? { setAt: (h: number, top: number) => this.setFor(h, top, myKeys, signers) } : {}),
      };
      this.peers.push(pp.behaviour === 'correct' ? new RunnerSimPeer(peerOpts, env) : new SimPeer(peerOpts, env));
    }
  }

  private env(): PeerEnv {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const sim = this;
    return {
      now: () => sim.q.now,
      nodeCount: this.plan.network.nodes,
      chainId: CHAIN_ID,
      send: (from, to, payload) => sim.send(from, to, payload),
      timer: (node, incarnation, localDelayMs, timer) =>
        sim.q.after(localDelayMs * sim.net.clockRate(node), { kind: 'timer', node, incarnation, timer }),
      onSigned: (node, m) => {
        if (sim.plan.membership !== null && (setKeysAt(sim.plan.membership, sim.plan.n, m.height)[m.validator] ?? 0) >= sim.plan.n) sim.newKeyMessages++;
        sim.checker.onSigned(node, m, sim.q.now);
      },
      onDecide: (node, d, synced) => sim.onDecide(node, d, synced),
      verifyCertificate: (c) => verifyCommitCertificate(c, sim.actualSet(c.height), CHAIN_ID, sim.verifier),
      crashPoint: (peer, effect) => sim.crashPoint(peer, effect),
      report: (v) => sim.checker.report(v),
      trace: (line) => sim.trace(line),
      tracing: this.traceLines !== null,
      gossipIntervalMs: this.plan.gossipIntervalMs,
    };
  }

  /** The validator set in force at `h` (every change known). */
  private actualSet(h: number): Validator[] {
    return setKeysAt(this.plan.membership, this.plan.n, h).map((k) => this.validators[k]!);
  }

  /**
   * The set of `h` as a node holding `myKeys` sees it with its decided head at `top`: changes
   * decided in blocks <= top are known; the set of h is final when h <= top + 2.
   */
  private setFor(h: number, top: number, myKeys: readonly number[], signers: readonly Ed25519Signer[]): HeightValidators {
    // Bug injection: a peer that never learns a change keeps the first set, believing it final.
    const stale = this.plan.bug === 'staleValidatorSet';
    const keys = setKeysAt(this.plan.membership, this.plan.n, h, stale ? -1 : top);
    const index = keys.findIndex((k) => myKeys.includes(k));
    const known = stale || h <= top + 2;
    const cacheKey = `${keys.join(',')}|${index}|${known}`;
    let s = this.setCache.get(cacheKey);
    if (s === undefined) {
      s = { validators: keys.map((k) => this.validators[k]!), selfIndex: index < 0 ? null : index, signer: index < 0 ? null : signers[keys[index]!]!, known };
      this.setCache.set(cacheKey, s);
    }
    return s;
  }

  async run(): Promise<SimResult> {
    const plan = this.plan;
    for (const p of this.peers) this.q.schedule(this.crashPrng.int(10), { kind: 'boot', node: p.node });
    for (const c of plan.crashes) this.q.schedule(c.atMs, { kind: 'crash', node: c.node, downMs: c.downMs });
    this.q.schedule(plan.network.gstMs, { kind: 'gst' });
    for (;;) {
      const item = this.q.pop();
      if (item === null) break;
      if (item.atMs > this.deadlineMs) break;
      if (++this.events > this.maxEvents) {
        this.checker.report({ kind: 'limit', atMs: this.q.now, detail: `event budget maxEvents=${this.maxEvents} exhausted` });
        break;
      }
      this.dispatch(item.event);
      // A runner peer works through promises (its store and ledger are async ports that resolve
      // at once here): let every queued task finish before the next event, so virtual time does
      // not move while a peer is still handling an input.
      if (!(await this.settle())) break;
      // Runs continue after a safety violation (e.g. a rejected certificate is often followed by
      // the agreement violation it enables); the checker keeps the first VIOLATIONS_KEPT_MAX.
      if (this.done()) break;
    }
    return this.result();
  }

  /** Runs microtasks until no peer is busy; false (and a 'limit' violation) if that never happens. */
  private async settle(): Promise<boolean> {
    for (let turns = 0; turns < SETTLE_TURNS_MAX; turns++) {
      if (!this.peers.some((p) => p.busy)) return true;
      await Promise.resolve();
    }
    this.checker.report({ kind: 'limit', atMs: this.q.now, detail: `a peer did not settle within ${SETTLE_TURNS_MAX} microtask turns` });
    return false;
  }

  private dispatch(e: SimEvent): void {
    const h = this.hash;
    switch (e.kind) {
      case 'boot':
        h.num(1).num(this.q.now).num(e.node);
        this.peers[e.node]!.boot();
        return;
      case 'deliver': {
        h.num(2).num(this.q.now).num(e.from).num(e.to);
        if (e.payload.kind === 'consensus') {
          const b = e.payload.bytes;
          h.num(b.length).bytes(b.subarray(0, 20)).bytes(b.subarray(Math.max(0, b.length - 8)));
        } else if (e.payload.kind === 'status') {
          h.num(e.payload.height).num(e.payload.have.length);
        } else {
          h.num(e.payload.height).bytes(e.payload.certificate.subarray(0, 24));
        }
        this.peers[e.to]!.onDeliver(e.from, e.payload);
        return;
      }
      case 'timer': {
        const p = this.peers[e.node]!;
        if (e.incarnation !== p.incarnation) return; // a timer of a crashed incarnation
        h.num(3).num(this.q.now).num(e.node).str(e.timer.kind);
        p.onTimer(e.timer);
        return;
      }
      case 'crash': {
        const p = this.peers[e.node]!;
        if (!p.up || this.q.now >= this.plan.network.gstMs) return;
        h.num(4).num(this.q.now).num(e.node);
        p.crash();
        this.q.schedule(Math.min(this.q.now + e.downMs, this.plan.network.gstMs - 1), { kind: 'restart', node: e.node });
        return;
      }
      case 'restart':
        h.num(5).num(this.q.now).num(e.node);
        this.peers[e.node]!.restart();
        return;
      case 'gst':
        this.onGst();
        return;
    }
  }

  private send(from: number, to: number, payload: Payload): void {
    const kind: MessageKind = payload.kind === 'consensus' ? payload.type : 'status';
    if (payload.kind === 'consensus') this.consensusMessages++;
    else this.statusMessages++;
    const now = this.q.now;
    for (const d of this.net.route(from, to, now, kind)) {
      this.q.schedule(now + d, { kind: 'deliver', from, to, payload });
    }
  }

  /** Crash injection right after an effect (correct peers, before GST only). */
  private crashPoint(peer: { node: number }, effect: Effect): number {
    if (effect.kind !== 'persist' && effect.kind !== 'broadcast') return -1;
    const p = this.plan.pointCrashProbability[peer.node] ?? 0;
    if (p <= 0 || this.q.now >= this.plan.network.gstMs - this.plan.pointCrashDownMs.max) return -1;
    if (!this.crashPrng.chance(p)) return -1;
    const down = this.crashPrng.range(this.plan.pointCrashDownMs.min, this.plan.pointCrashDownMs.max);
    this.q.schedule(this.q.now + down, { kind: 'restart', node: peer.node });
    // For a broadcast: crash after a random number of recipients got it (a torn broadcast).
    const k = effect.kind === 'broadcast' ? this.crashPrng.int(this.plan.network.nodes) : 0;
    if (this.traceLines !== null) this.trace(`n${peer.node} POINT-CRASH after ${effect.kind}${effect.kind === 'broadcast' ? ` to ${k} peers` : ''}`);
    return k;
  }

  private onDecide(node: number, d: DecideRecord, synced: boolean): void {
    if (synced) this.synced++;
    this.hash.num(6).num(synced ? 1 : 0).num(node).num(d.height).num(d.round).bytes(d.valueId);
    this.checker.onDecide(node, d, this.q.now);
    if (!this.decidedAt.has(d.height)) this.decidedAt.set(d.height, this.q.now);
  }

  private onGst(): void {
    this.gstPassed = true;
    this.trace(`GST at ${this.q.now}ms`);
    const plan = this.plan;
    const rates = plan.network.clockRates;
    const slowest = Math.max(...rates);
    const delta = plan.network.latencyAfterGst.maxMs;
    const t = plan.timeouts;
    // After GST a message a correct peer needs arrives within Δ if it is sent after GST, and
    // within one anti-entropy round trip if it was lost before GST or only reached some peers
    // (Byzantine partial sends): the effective delay bound.
    this.effectiveDelayMs = 2 * plan.gossipIntervalMs * slowest + 4 * delta;
    let startRound = 0;
    let lowest = Infinity;
    for (const p of this.peers) {
      if (!p.isCorrect) continue;
      lowest = Math.min(lowest, p.decidedTop);
      if (p.up) {
        const cur = this.roundAtGst.get(p.height) ?? 0;
        this.roundAtGst.set(p.height, Math.max(cur, p.round));
        startRound = Math.max(startRound, p.round);
      }
    }
    // Virtual deadline: every remaining height may use its whole round bound, each round lasting
    // its three timeouts on the slowest clock plus the effective delay.
    const roundMs = (r: number) => (t.proposeMs + t.prevoteMs + t.precommitMs + 3 * r * t.deltaMs) * slowest + this.effectiveDelayMs;
    const remaining = Math.max(0, plan.firstHeight + plan.heights - 1 - (lowest === Infinity ? 0 : lowest));
    let budget = this.effectiveDelayMs;
    const first = this.roundBound(startRound);
    for (let r = startRound; r <= startRound + first; r++) budget += roundMs(r);
    let perHeight = plan.idleMs * slowest;
    for (let r = 0; r <= this.roundBound(0); r++) perHeight += roundMs(r);
    budget += Math.max(0, remaining - 1) * perHeight;
    this.deadlineMs = this.q.now + budget;
  }

  /**
   * Rounds a height may need after GST, counted from round `from` (paper §4, Termination): rounds
   * until every step timeout (which grows by deltaMs per round) exceeds the effective delay on
   * the fastest clock, plus f rounds with Byzantine proposers, plus LIVENESS_EXTRA_ROUNDS.
   */
  private roundBound(from: number): number {
    const t = this.plan.timeouts;
    const fastest = Math.min(...this.plan.network.clockRates);
    const base = Math.min(t.proposeMs, t.prevoteMs, t.precommitMs);
    let grow = 0;
    while (grow < 10_000 && (base + (from + grow) * t.deltaMs) * fastest < this.effectiveDelayMs) grow++;
    return grow + this.plan.f + LIVENESS_EXTRA_ROUNDS;
  }

  private done(): boolean {
    const target = this.plan.firstHeight + this.plan.heights - 1;
    for (const p of this.peers) if (p.isCorrect && p.decidedTop < target) return false;
    return true;
  }

  private trace(line: string): void {
    if (this.traceLines !== null && this.traceLines.length < TRACE_LINES_MAX) {
      this.traceLines.push(`${this.q.now.toFixed(1).padStart(9)} ${line}`);
    }
  }

  private result(): SimResult {
    const plan = this.plan;
    const target = plan.firstHeight + plan.heights - 1;
    const correct = this.peers.filter((p) => p.isCorrect);
    let decidedTop = target;
    for (const p of correct) decidedTop = Math.min(decidedTop, p.decidedTop);
    const heightsDecided = Math.max(0, decidedTop - plan.firstHeight + 1);
    const decisionRounds: number[] = [];
    for (let h = plan.firstHeight; h <= decidedTop; h++) decisionRounds.push(this.checker.decisionRound(h) ?? -1);

    if (!this.checker.safetyViolated && this.checker.violations.every((v) => v.kind !== 'limit' && v.kind !== 'exception')) {
      this.checkLiveness(correct, target, decidedTop);
    }
    this.hash.num(7).num(heightsDecided).num(this.checker.violations.length);
    const byzantine = plan.peers
      .filter((p) => p.behaviour !== 'correct')
      .map((p) => ({ node: p.node, validator: p.validator, behaviour: p.behaviour }));
    return {
      seed: plan.seed,
      scenario: plan.scenario,
      bug: plan.bug,
      n: plan.n,
      f: plan.f,
      nodes: plan.network.nodes,
      byzantine,
      heightsTarget: plan.heights,
      heightsDecided,
      decisionRounds,
      consensusMessages: this.consensusMessages,
      statusMessages: this.statusMessages,
      events: this.events,
      virtualTimeMs: this.q.now,
      gstMs: plan.network.gstMs,
      crashes: this.peers.reduce((s, p) => s + p.crashes, 0),
      evidence: this.peers.reduce((s, p) => s + p.stats.evidence, 0),
      synced: this.synced,
      newKeyMessages: this.newKeyMessages,
      walRecordsMax: this.peers.reduce((m, p) => Math.max(m, p instanceof RunnerSimPeer ? p.walRecordsMax : 0), 0),
      rejected: this.rejectedCounts(),
      violations: this.checker.violations,
      safetyViolated: this.checker.violations.some((v) => SAFETY_KINDS.has(v.kind)),
      traceHash: this.hash.hex(),
      ...(this.traceLines !== null ? { trace: this.traceLines } : {}),
    };
  }

  private rejectedCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of this.peers) for (const [k, v] of p.stats.rejected) out[k] = (out[k] ?? 0) + v;
    return Object.fromEntries(Object.entries(out).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  }

  private checkLiveness(correct: AnyPeer[], target: number, decidedTop: number): void {
    const plan = this.plan;
    if (decidedTop < target) {
      const lag = correct
        .filter((p) => p.decidedTop < target)
        .map((p) => `n${p.node}@h${p.height}r${p.round}${p.up ? '' : '(down)'}`)
        .join(' ');
      this.checker.report({
        kind: 'liveness',
        atMs: this.q.now,
        detail: `not all correct peers decided ${plan.heights} heights by the post-GST deadline ${this.deadlineMs.toFixed(0)}ms (GST ${plan.network.gstMs}ms): ${lag}`,
      });
      return;
    }
    // Round bound for heights decided after GST.
    if (!this.gstPassed) return;
    for (let h = plan.firstHeight; h <= target; h++) {
      const r = this.checker.decisionRound(h);
      if (r === undefined) continue;
      const from = this.roundAtGst.get(h) ?? 0;
      const bound = this.roundBound(from);
      if (r - from > bound && this.decidedAfterGst(h)) {
        this.checker.report({
          kind: 'liveness',
          atMs: this.q.now,
          height: h,
          detail: `height ${h} needed ${r - from} rounds after GST (decided in round ${r}, round at GST ${from}); bound ${bound} = f + ${LIVENESS_EXTRA_ROUNDS} + rounds until timeouts exceed the effective delay ${this.effectiveDelayMs.toFixed(0)}ms`,
        });
      }
    }
  }

  private decidedAfterGst(h: number): boolean {
    const t = this.decidedAt.get(h);
    return t !== undefined && t >= this.plan.network.gstMs;
  }
}

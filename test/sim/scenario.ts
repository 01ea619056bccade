// Turns (seed, SimConfig) into a concrete Plan: who is Byzantine and how, the network schedule
// (latencies, loss, partitions, GST, clock skew), the crash schedule and the timeouts. All choices
// come from a Prng derived from the seed, so the plan — and hence the run — is reproducible.
//
// Scenarios:
//   random        the default sweep: every fault kind mixed at random (or none with faults off);
//   split-brain   a Twins pair on both sides of a partition of the correct peers, until GST
//                 (each side plus one twin is 2f+1 but not a quorum: bites quorumTwoFPlusOne);
//   lock-race     f amnesiac Byzantine validators playing the targeted lock attack (peer.ts), so
//                 a value gets decided by one correct peer and only locked by another, and a
//                 different value is proposed in the next round (bites noLocking);
//   long-async    a long asynchronous period (GST 30-120 s) with heavy loss and slow links: many
//                 rounds per height, locks taken in early rounds, then GST (round windows, L28 on
//                 old valid rounds);
//   crash-revote  peers crash often right after signing, proposals often arrive after the
//                 propose timeout; a restarted peer replays its WAL (bites noSignerPersistence);
//   junk          crash-revote's crashes plus f Byzantine validators sending validly signed junk
//                 (wal-flooder, junk-proposer, height-liar): correct peers must keep their WAL
//                 bounded and still decide, also across restarts;
//   membership    random faults, crashes and Byzantine validators while the validator set
//                 changes three times, as governance changes it: a correct validator rotates its
//                 key, a new (correct) validator joins, another correct one leaves. Each change is
//                 decided in some block D and in force from E >= D + 2; a peer knows it only once
//                 it decided D (the set of h is final once h − 2 is decided).

import type { Timeouts } from '../../src/consensus/types.js';
import type { Behaviour } from './peer.js';
import type { NetworkConfig, Partition } from './network.js';
import { randomPartitions } from './network.js';
import { Prng } from './prng.js';

/**
 * Driver bugs, and one of the peer's wiring: staleValidatorSet makes every peer keep the first
 * validator set for every height, as a peer that ignores governance would (membership scenario).
 */
export type BugName = 'quorumTwoFPlusOne' | 'noLocking' | 'noSignerPersistence' | 'staleValidatorSet';
export const BUG_NAMES: readonly BugName[] = ['quorumTwoFPlusOne', 'noLocking', 'noSignerPersistence', 'staleValidatorSet'];

export type ScenarioName = 'random' | 'split-brain' | 'lock-race' | 'crash-revote' | 'long-async' | 'junk' | 'membership';
export const SCENARIO_NAMES: readonly ScenarioName[] = ['random', 'split-brain', 'lock-race', 'crash-revote', 'long-async', 'junk', 'membership'];

/** The adversarial scenario used by default when a bug is injected. */
export const BUG_SCENARIO: Record<BugName, ScenarioName> = {
  quorumTwoFPlusOne: 'split-brain',
  noLocking: 'lock-race',
  noSignerPersistence: 'crash-revote',
  staleValidatorSet: 'membership',
};

export const VALIDATORS_MIN = 1;
export const VALIDATORS_MAX_SIM = 31;
export const HEIGHTS_MAX_SIM = 1_000;

export interface SimConfig {
  /** Number of validators. */
  n: number;
  /** Heights every correct peer must decide. */
  heights: number;
  /** Network faults, crashes and Byzantine validators (off: a clean, merely asynchronous network). */
  faults: boolean;
  bug?: BugName | null;
  /** Default: the bug's scenario, else 'random'. */
  scenario?: ScenarioName;
  /** Real Ed25519 (node:crypto) instead of the fast keyed-hash scheme. */
  realCrypto?: boolean;
  /** Collect a human-readable trace (slow; for replaying one seed). */
  trace?: boolean;
  /** Event budget of one run (default 3,000,000). */
  maxEvents?: number;
  /**
   * Validators 0..silent-1 made silent on top of the plan (tests of the liveness detector: more
   * than f silent validators break n >= 3f + 1 on purpose and must be reported as a liveness
   * violation).
   */
  silent?: number;
  /** Passed to every driver as cfg.maxRoundsKept (default: the driver's). */
  maxRoundsKept?: number;
  /** Passed to every driver as cfg.maxPastRoundsKept (default: the driver's). */
  maxPastRoundsKept?: number;
}

export interface PeerPlan {
  node: number;
  /** The validator's key number (its index in the first set; a joining validator's is n). */
  validator: number;
  behaviour: Behaviour;
  /** Further key numbers this node holds (the next key of a rotation). */
  extraKeys?: number[];
}

/** One validator-set change: decided in block `decidedAt`, in force from height `from`. */
export interface MembershipChange {
  kind: 'rotate' | 'add' | 'remove';
  decidedAt: number;
  from: number;
  /** Key number leaving the set (rotate, remove). */
  oldKey?: number;
  /** Key number entering the set (rotate, add). */
  newKey?: number;
}

export interface MembershipPlan {
  /** Key numbers in use (n plus the joining validator's and the rotation's new key). */
  keys: number;
  changes: MembershipChange[];
}

/**
 * The key numbers of the set in force at `h` (validator index = position), counting only the
 * changes decided in blocks <= `decidedThrough` (what a peer whose head is there knows).
 */
export function setKeysAt(m: MembershipPlan | null, n: number, h: number, decidedThrough = Infinity): number[] {
  let keys = Array.from({ length: n }, (_, i) => i);
  for (const c of m?.changes ?? []) {
    if (c.from > h || c.decidedAt > decidedThrough) continue;
    if (c.kind === 'add') keys = [...keys, c.newKey!];
    else if (c.kind === 'remove') keys = keys.filter((k) => k !== c.oldKey);
    else keys = keys.map((k) => (k === c.oldKey ? c.newKey! : k));
  }
  return keys;
}

export interface ScheduledCrash {
  node: number;
  atMs: number;
  downMs: number;
}

export interface Plan {
  seed: number;
  scenario: ScenarioName;
  n: number;
  /** Byzantine validators tolerated: floor((n-1)/3). */
  f: number;
  heights: number;
  bug: BugName | null;
  peers: PeerPlan[];
  network: NetworkConfig;
  timeouts: Timeouts;
  gossipIntervalMs: number;
  /** Local ms a node idles after a decision before starting the next height (unless woken by a message). */
  idleMs: number;
  crashes: ScheduledCrash[];
  /** Per node: probability of crashing right after a persist/broadcast effect (before GST only). */
  pointCrashProbability: number[];
  pointCrashDownMs: { min: number; max: number };
  /** Amnesiac Byzantine peers play the targeted lock attack (lock-race). */
  amnesiacTargeted: boolean;
  realCrypto: boolean;
  firstHeight: number;
  /** Validator-set changes (membership scenario); null = one set for the whole run. */
  membership: MembershipPlan | null;
}

export function faultBound(n: number): number {
  return Math.floor((n - 1) / 3);
}

/** Throws RangeError SIM_BAD_CONFIG on a config the simulator cannot run. */
export function validateSimConfig(c: SimConfig): void {
  const bad = (why: string): never => {
    throw new RangeError(`SIM_BAD_CONFIG: ${why}`);
  };
  if (!Number.isInteger(c.n) || c.n < VALIDATORS_MIN || c.n > VALIDATORS_MAX_SIM) {
    bad(`n must be an integer in [${VALIDATORS_MIN}, VALIDATORS_MAX_SIM=${VALIDATORS_MAX_SIM}], got ${c.n}`);
  }
  if (!Number.isInteger(c.heights) || c.heights < 1 || c.heights > HEIGHTS_MAX_SIM) {
    bad(`heights must be an integer in [1, HEIGHTS_MAX_SIM=${HEIGHTS_MAX_SIM}], got ${c.heights}`);
  }
  if (c.bug != null && !BUG_NAMES.includes(c.bug)) bad(`unknown bug ${String(c.bug)}; known: ${BUG_NAMES.join(', ')}`);
  if (c.silent !== undefined && (!Number.isInteger(c.silent) || c.silent < 0 || c.silent > c.n)) bad(`silent must be an integer in [0, n]`);
  if (c.scenario !== undefined && !SCENARIO_NAMES.includes(c.scenario)) {
    bad(`unknown scenario ${String(c.scenario)}; known: ${SCENARIO_NAMES.join(', ')}`);
  }
  const sc = c.scenario ?? (c.bug != null ? BUG_SCENARIO[c.bug] : 'random');
  if (sc === 'split-brain' && faultBound(c.n) < 1) bad('split-brain needs n >= 4 (one Twins pair)');
  if (sc === 'membership' && c.n < 3) bad('membership needs n >= 3 (a rotation and a removal of two correct validators)');
}

export function scenarioOf(c: SimConfig): ScenarioName {
  return c.scenario ?? (c.bug != null ? BUG_SCENARIO[c.bug] : 'random');
}

export function buildPlan(seed: number, c: SimConfig): Plan {
  validateSimConfig(c);
  const prng = Prng.derive(seed, 'plan');
  const scenario = scenarioOf(c);
  const n = c.n;
  const f = faultBound(n);
  const base: Plan = {
    seed,
    scenario,
    n,
    f,
    heights: c.heights,
    bug: c.bug ?? null,
    peers: Array.from({ length: n }, (_, i) => ({ node: i, validator: i, behaviour: 'correct' as Behaviour })),
    network: {
      nodes: n,
      latency: { minMs: 1, maxMs: 50 },
      tailProbability: 0,
      tailMaxMs: 50,
      latencyAfterGst: { minMs: 1, maxMs: 50 },
      dropRate: 0,
      duplicateRate: 0,
      reorderRate: 0,
      reorderExtraMs: 0,
      partitions: [],
      gstMs: 0,
      clockRates: Array.from({ length: n }, () => 1),
    },
    timeouts: randomTimeouts(prng),
    gossipIntervalMs: prng.range(50, 150),
    idleMs: 0,
    crashes: [],
    pointCrashProbability: Array.from({ length: n }, () => 0),
    pointCrashDownMs: { min: 10, max: 500 },
    amnesiacTargeted: false,
    realCrypto: c.realCrypto === true,
    firstHeight: 1,
    membership: null,
  };
  switch (scenario) {
    case 'random':
      if (c.faults) randomFaults(prng, base);
      else cleanNetwork(prng, base);
      break;
    case 'split-brain':
      splitBrain(prng, base);
      break;
    case 'lock-race':
      lockRace(prng, base);
      break;
    case 'crash-revote':
      crashRevote(prng, base);
      break;
    case 'long-async':
      longAsync(prng, base);
      break;
    case 'membership':
      membership(prng, base);
      break;
    case 'junk':
      crashRevote(prng, base);
      for (const v of prng.shuffled(Array.from({ length: n }, (_, i) => i)).slice(0, base.f)) {
        base.peers[v]!.behaviour = prng.pick(['wal-flooder', 'junk-proposer', 'height-liar'] as const);
      }
      break;
  }
  for (let v = 0; v < (c.silent ?? 0); v++) {
    for (const p of base.peers) if (p.validator === v) p.behaviour = 'silent';
  }
  return base;
}

/**
 * Timeouts in the proportions of a real deployment: larger than the post-GST delay bound Δ
 * (<= 100 ms) and than the anti-entropy interval (<= 150 ms), but shorter than the worst pre-GST
 * delays, so rounds fail before GST and succeed after it.
 */
function randomTimeouts(prng: Prng): Timeouts {
  return {
    proposeMs: prng.range(400, 1_000),
    prevoteMs: prng.range(200, 600),
    precommitMs: prng.range(200, 600),
    deltaMs: prng.range(50, 200),
  };
}

function cleanNetwork(prng: Prng, p: Plan): void {
  const max = prng.range(5, 80);
  p.network.latency = { minMs: prng.range(0, Math.min(5, max)), maxMs: max };
  p.network.latencyAfterGst = { ...p.network.latency };
  p.network.tailMaxMs = max;
}

/** Adds a Twins pair for `validator`: its node becomes a twin and a new node shares its key. */
function addTwin(p: Plan, validator: number): number {
  const twinNode = p.network.nodes;
  p.peers[validator]!.behaviour = 'twin';
  p.peers.push({ node: twinNode, validator, behaviour: 'twin' });
  p.network.nodes++;
  p.network.clockRates.push(1);
  p.pointCrashProbability.push(0);
  return twinNode;
}

function correctNodes(p: Plan): number[] {
  return p.peers.filter((x) => x.behaviour === 'correct').map((x) => x.node);
}

function randomFaults(prng: Prng, p: Plan): void {
  const n = p.n;
  const net = p.network;
  net.gstMs = prng.range(500, 8_000);
  p.idleMs = prng.chance(0.5) ? 0 : prng.range(0, 1_500);
  const lmax = prng.range(20, 300);
  net.latency = { minMs: prng.range(0, 20), maxMs: lmax };
  net.tailProbability = prng.chance(0.5) ? prng.next() * 0.1 : 0;
  net.tailMaxMs = lmax + prng.range(0, 2_000);
  const delta = prng.range(20, 100);
  net.latencyAfterGst = { minMs: prng.range(0, 10), maxMs: delta };
  net.dropRate = prng.chance(0.7) ? prng.next() * 0.3 : 0;
  net.duplicateRate = prng.chance(0.5) ? prng.next() * 0.1 : 0;
  net.reorderRate = prng.chance(0.5) ? prng.next() * 0.3 : 0;
  net.reorderExtraMs = prng.range(0, 500);
  if (prng.chance(0.3)) {
    // Sometimes an adversary that targets one kind of message (as in lock-race / crash-revote).
    const kind = prng.pick(['proposal', 'prevote', 'precommit'] as const);
    net.kinds = { [kind]: { dropRate: prng.next() * 0.5, extraDelayProbability: prng.next() * 0.5, extraDelayMaxMs: prng.range(0, 1_500) } };
  }
  // Byzantine validators: up to f of them (n >= 3f + 1), with random behaviours.
  const byz = prng.int(p.f + 1);
  const chosen = prng.shuffled(Array.from({ length: n }, (_, i) => i)).slice(0, byz);
  const twins: number[] = [];
  for (const v of chosen) {
    const b = prng.pick(['silent', 'equivocator', 'double-voter', 'invalid-proposer', 'amnesiac', 'spammer', 'twin', 'wal-flooder', 'junk-proposer', 'height-liar'] as const);
    if (b === 'twin') twins.push(v);
    else p.peers[v]!.behaviour = b;
  }
  for (const v of twins) {
    const other = addTwin(p, v);
    // Put the two instances in different partitions for a while (the Twins technique).
    const rest = prng.shuffled(p.peers.filter((x) => x.node !== v && x.node !== other).map((x) => x.node));
    const cut = prng.int(rest.length + 1);
    const startMs = prng.chance(0.5) ? 0 : prng.int(Math.floor(net.gstMs / 2));
    p.network.partitions.push({
      kind: 'symmetric',
      startMs,
      endMs: prng.range(startMs, net.gstMs),
      groups: [[v, ...rest.slice(0, cut)], [other, ...rest.slice(cut)]],
    });
  }
  net.partitions.push(...randomPartitions(prng, net.nodes, net.gstMs, prng.int(4)));
  net.clockRates = Array.from({ length: net.nodes }, () => 0.8 + prng.next() * 0.45);
  // Crashes of correct peers (crash-recovery is not Byzantine): scheduled ones and "right after
  // a persist/broadcast" ones, all before GST, each peer back up by GST.
  for (const node of correctNodes(p)) {
    if (!prng.chance(0.3)) continue;
    const count = prng.range(1, 3);
    for (let i = 0; i < count; i++) {
      const atMs = prng.int(net.gstMs);
      p.crashes.push({ node, atMs, downMs: prng.range(1, 1_500) });
    }
    if (prng.chance(0.5)) p.pointCrashProbability[node] = prng.next() * 0.05;
  }
}

function splitBrain(prng: Prng, p: Plan): void {
  const net = p.network;
  net.gstMs = prng.range(3_000, 6_000);
  net.latency = { minMs: 1, maxMs: prng.range(10, 60) };
  net.latencyAfterGst = { minMs: 1, maxMs: prng.range(10, 60) };
  net.tailMaxMs = net.latency.maxMs;
  const twinValidator = prng.int(p.n);
  const other = addTwin(p, twinValidator);
  // The remaining f - 1 Byzantine validators (n >= 7) stay silent.
  const rest = prng.shuffled(correctNodes(p));
  for (let i = 0; i < p.f - 1; i++) p.peers[rest.pop()!]!.behaviour = 'silent';
  const half = Math.floor(rest.length / 2) + (prng.chance(0.5) ? 0 : rest.length % 2);
  const partition: Partition = {
    kind: 'symmetric',
    startMs: 0,
    endMs: net.gstMs,
    groups: [[twinValidator, ...rest.slice(0, half)], [other, ...rest.slice(half)]],
  };
  net.partitions.push(partition);
  net.clockRates = Array.from({ length: net.nodes }, () => 0.9 + prng.next() * 0.2);
}

function lockRace(prng: Prng, p: Plan): void {
  const net = p.network;
  net.gstMs = prng.range(2_000, 6_000);
  net.latency = { minMs: 1, maxMs: prng.range(20, 120) };
  net.latencyAfterGst = { minMs: 1, maxMs: prng.range(10, 60) };
  net.tailMaxMs = net.latency.maxMs;
  // Consensus messages are not lost (the attacker does the hiding); anti-entropy is mostly lost
  // before GST, so peers cannot learn about a decision they missed that way too early.
  net.dropRate = prng.chance(0.5) ? 0 : prng.next() * 0.05;
  net.kinds = { status: { dropRate: 0.7 + prng.next() * 0.3 } };
  p.gossipIntervalMs = prng.range(400, 1_500);
  // f amnesiac Byzantine validators: they vote for whatever is proposed and show their votes to
  // random subsets, so a value can be decided by one correct peer while others only locked it.
  for (const v of prng.shuffled(Array.from({ length: p.n }, (_, i) => i)).slice(0, p.f)) p.peers[v]!.behaviour = 'amnesiac';
  p.amnesiacTargeted = true;
  net.clockRates = Array.from({ length: net.nodes }, () => 0.8 + prng.next() * 0.45);
}

function crashRevote(prng: Prng, p: Plan): void {
  const net = p.network;
  net.gstMs = prng.range(3_000, 6_000);
  net.latency = { minMs: 1, maxMs: prng.range(20, 100) };
  net.latencyAfterGst = { minMs: 1, maxMs: prng.range(10, 60) };
  net.tailMaxMs = net.latency.maxMs;
  // Proposals often arrive after the propose timeout: peers prevote nil, then get the proposal.
  net.kinds = { proposal: { extraDelayProbability: 0.3 + prng.next() * 0.5, extraDelayMaxMs: p.timeouts.proposeMs * 2 } };
  for (const node of correctNodes(p)) {
    let t = prng.int(400);
    while (t < net.gstMs) {
      p.crashes.push({ node, atMs: t, downMs: prng.range(5, 200) });
      t += prng.range(200, 1_200);
    }
    p.pointCrashProbability[node] = 0.05 + prng.next() * 0.1;
  }
  p.pointCrashDownMs = { min: 5, max: 200 };
  net.clockRates = Array.from({ length: net.nodes }, () => 0.8 + prng.next() * 0.45);
}

function longAsync(prng: Prng, p: Plan): void {
  const net = p.network;
  net.gstMs = prng.range(30_000, 120_000);
  net.latency = { minMs: prng.range(1, 50), maxMs: prng.range(100, 800) };
  net.tailProbability = prng.next() * 0.2;
  net.tailMaxMs = net.latency.maxMs + prng.range(0, 3_000);
  net.latencyAfterGst = { minMs: 1, maxMs: prng.range(20, 100) };
  net.dropRate = 0.1 + prng.next() * 0.4;
  net.kinds = { status: { dropRate: 0.9 } };
  p.gossipIntervalMs = prng.range(200, 500); // long runs: keep anti-entropy traffic moderate
  // Short, slowly growing timeouts: many rounds fail before GST.
  p.timeouts = { proposeMs: prng.range(100, 300), prevoteMs: prng.range(50, 200), precommitMs: prng.range(50, 200), deltaMs: prng.range(20, 60) };
  net.clockRates = Array.from({ length: net.nodes }, () => 0.8 + prng.next() * 0.45);
  if (prng.chance(0.5) && p.f > 0) p.peers[prng.int(p.n)]!.behaviour = prng.pick(['silent', 'double-voter', 'amnesiac'] as const);
}

/**
 * Rotation, addition and removal (in a random order, one at a time as governance allows) during
 * random faults. Byzantine validators (at most f of the smallest set) get the lowest indexes,
 * so removing a higher one never renumbers them (their hand-made junk names a fixed index); the
 * rotating, joining and leaving validators are correct. Twins are left out (a pair would need
 * a shared rotation).
 */
function membership(prng: Prng, p: Plan): void {
  const n = p.n;
  randomFaults(prng, p);
  // Undo the Twins pairs and the random Byzantine placement; place Byzantine validators first.
  const byzBehaviours = p.peers.filter((x) => x.behaviour !== 'correct' && x.behaviour !== 'twin').map((x) => x.behaviour);
  p.peers = p.peers.slice(0, n).map((x) => ({ ...x, behaviour: 'correct' as Behaviour }));
  p.network.nodes = n;
  const nodesOf = (part: Partition): number[] => (part.kind === 'symmetric' ? part.groups.flat() : [...part.from, ...part.to]);
  p.network.partitions = p.network.partitions.filter((part) => nodesOf(part).every((node) => node < n));
  p.network.clockRates = p.network.clockRates.slice(0, n);
  p.pointCrashProbability = p.pointCrashProbability.slice(0, n);
  p.crashes = p.crashes.filter((c) => c.node < n);
  const order = prng.shuffled(['rotate', 'add', 'remove'] as const);
  // Byzantine validators: at most f of the smallest set (n − 1 when the removal comes first).
  const smallest = order.indexOf('remove') < order.indexOf('add') ? n - 1 : n;
  const byz = Math.min(faultBound(smallest), byzBehaviours.length);
  for (let v = 0; v < byz; v++) p.peers[v]!.behaviour = byzBehaviours[v]!;
  // The liveness round bound counts f rounds of Byzantine proposers: that of the largest set.
  p.f = faultBound(n + 1);
  const correct = prng.shuffled(Array.from({ length: n - byz }, (_, i) => byz + i));
  const rotating = correct[0]!;
  const leaving = correct[1]!;
  // The joining validator's node: an observer until its first height.
  const joining = p.network.nodes++;
  p.peers.push({ node: joining, validator: n, behaviour: 'correct' });
  p.network.clockRates.push(0.8 + prng.next() * 0.45);
  p.pointCrashProbability.push(0);
  p.peers[rotating]!.extraKeys = [n + 1];
  const changes: MembershipChange[] = [];
  let at = 1 + prng.int(3);
  for (const kind of order) {
    const decidedAt = at;
    const from = decidedAt + 2 + (kind === 'rotate' ? prng.int(3) : 0);
    if (kind === 'rotate') changes.push({ kind, decidedAt, from, oldKey: rotating, newKey: n + 1 });
    else if (kind === 'add') changes.push({ kind, decidedAt, from, newKey: n });
    else changes.push({ kind, decidedAt, from, oldKey: leaving });
    // The next change is decided once this one is in force (one change at a time).
    at = from + prng.int(2);
  }
  p.membership = { keys: n + 2, changes };
  p.heights = Math.max(p.heights, changes[changes.length - 1]!.from + 2);
}

// A liveness bug found by the simulator (test/sim/sim.test.ts keeps its long-async regression): the
// vote keeper used to keep full records only for rounds in [current − K, current + K] (K = 16).
// Once a height's round was more than K above a polka round, the polka's prevotes were gone, so a
// re-proposal of validValue with vr = that round failed L28 ("⟨PROPOSAL, h, round, v, vr⟩ AND
// 2f+1 ⟨PREVOTE, h, vr, id(v)⟩") at every peer: nil prevotes forever, locked peers never unlock
// (L29), fresh proposals refused by the locked ones (L23) -> no decision even after GST.
//
// These tests drive one real ConsensusDriver (validator 0 of n = 4, q = 3, f+1 = 2) with
// hand-signed messages of the other validators and fail on the old keeper.
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/encoding/bytes.js';
import { proposer } from '../../src/consensus/quorum.js';
import { VoteKeeper, idKey } from '../../src/consensus/vote-keeper.js';
import { PAST_ROUNDS_KEPT_DEFAULT, POLKA_ROUNDS_KEPT_MAX, ROUNDS_KEPT_DEFAULT } from '../../src/consensus/limits.js';
import type { ConsensusDriver } from '../../src/consensus/driver.js';
import type { SignerState } from '../../src/consensus/types.js';
import { decisionOf, feed, id, makeNet, proposalsOf, rejectedOf, timeoutsOf, votesOf, type Net } from './consensus-support/harness.js';

const V = utf8('value V (the polka value)');
const W = utf8('value W (a fresh value)');
const H = 1;

/** The validators other than 0 (the driver under test) that are NOT proposer(H, r). */
function nonProposers(r: number, n = 4): number[] {
  return [1, 2, 3].filter((v) => v !== proposer(H, r, n)).slice(0, 2);
}

/** Moves the driver to round r by the L55 skip rule (f+1 = 2 nil precommits of round r). */
function skipTo(net: Net, d: ConsensusDriver, r: number): void {
  feed(d, net.vote(2, 'precommit', H, r, null), net.vote(3, 'precommit', H, r, null));
  expect(d.round).toBe(r);
}

/** Feeds the prevotes + precommits of validators 1 and 2 for V in round r; returns the decision effect. */
function finishRound(net: Net, d: ConsensusDriver, r: number) {
  const e1 = feed(d, net.vote(1, 'prevote', H, r, id(V)), net.vote(2, 'prevote', H, r, id(V)));
  expect(votesOf(e1, 'precommit').map((v) => v.valueId && idKey(v.valueId))).toEqual([idKey(id(V))]); // L36
  return decisionOf(feed(d, net.vote(1, 'precommit', H, r, id(V)), net.vote(2, 'precommit', H, r, id(V))));
}

/** A round whose proposer is validator 1 and that is more than `above` rounds above 0. */
function roundOf1Above(above: number): number {
  let r = above + 1;
  while (proposer(H, r, 4) !== 1) r++;
  return r;
}

describe('liveness regression: a polka more than K rounds old still justifies L28', () => {
  it('unlocked peer (saw the polka of round 0 too late for L36): after > K nil rounds, the re-proposal with vr = 0 is prevoted and decided', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: H });
    // Round 0: our propose timeout fires first (prevote nil), then the other three prevote V.
    // We never got the proposal, so L36 never fired: no lock, no validValue (like n1/n2 of seed 368).
    d.handle({ kind: 'timeout', height: H, round: 0, step: 'propose' });
    feed(d, net.vote(1, 'prevote', H, 0, id(V)), net.vote(2, 'prevote', H, 0, id(V)), net.vote(3, 'prevote', H, 0, id(V)));
    // Many rounds of nothing: far beyond the old window of K = 16.
    const r = roundOf1Above(ROUNDS_KEPT_DEFAULT + 4);
    for (let x = 1; x <= r; x += 3) skipTo(net, d, Math.min(x, r));
    skipTo(net, d, r);
    // The locked validator 1 re-proposes V with vr = 0 (L16).
    const e = feed(d, net.proposal(1, H, r, V, 0));
    expect(rejectedOf(e)).toEqual([]);
    expect(votesOf(e, 'prevote').map((v) => [v.round, v.valueId && idKey(v.valueId)])).toEqual([[r, idKey(id(V))]]); // L28-L30, not nil
    const dec = finishRound(net, d, r);
    expect(dec?.round).toBe(r);
    expect(dec?.value).toEqual(V);
  });

  it('locked peer unlocks (L29: lockedRound ≤ vr) on a re-proposal whose polka round is > K rounds old', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: H });
    // Round 0 (proposer 1): we prevote W, see a polka for W, lock W at round 0 and precommit it.
    feed(d, net.proposal(1, H, 0, W));
    feed(d, net.vote(1, 'prevote', H, 0, id(W)), net.vote(2, 'prevote', H, 0, id(W)));
    expect(d.signerState().lockedRound).toBe(0);
    // Round 2 (proposer 3 proposes V fresh): locked on W, we prevote nil (L23). Only two V
    // prevotes reach us in time, so L61 precommits nil; the others lock V at round 2.
    skipTo(net, d, 2);
    const e2 = feed(d, net.proposal(3, H, 2, V));
    expect(votesOf(e2, 'prevote').map((v) => v.valueId)).toEqual([null]);
    feed(d, net.vote(1, 'prevote', H, 2, id(V)), net.vote(3, 'prevote', H, 2, id(V)));
    d.handle({ kind: 'timeout', height: H, round: 2, step: 'prevote' });
    expect(d.step).toBe('precommit');
    // Long asynchrony: we move far beyond the old window; then 2's prevote of round 2 arrives late.
    const r = roundOf1Above(2 + ROUNDS_KEPT_DEFAULT + 4);
    skipTo(net, d, r);
    expect(rejectedOf(feed(d, net.vote(2, 'prevote', H, 2, id(V))))).toEqual([]);
    // Validator 1 (locked on V at round 2) re-proposes V with vr = 2: our lockedRound 0 ≤ 2.
    const e = feed(d, net.proposal(1, H, r, V, 2));
    expect(votesOf(e, 'prevote').map((v) => [v.round, v.valueId && idKey(v.valueId)])).toEqual([[r, idKey(id(V))]]);
    const dec = finishRound(net, d, r);
    expect(dec?.value).toEqual(V);
  });

  it('a late prevote of a round more than K (but fewer than maxPastRoundsKept) rounds old is accepted', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: H });
    feed(d, net.vote(1, 'prevote', H, 0, id(V)), net.vote(2, 'prevote', H, 0, id(V)));
    skipTo(net, d, ROUNDS_KEPT_DEFAULT + 10);
    // A late prevote of round 0 (now 26 rounds old) is accepted, not ROUND_OUT_OF_WINDOW.
    expect(rejectedOf(feed(d, net.vote(3, 'prevote', H, 0, id(V))))).toEqual([]);
    expect(PAST_ROUNDS_KEPT_DEFAULT).toBeGreaterThan(ROUNDS_KEPT_DEFAULT);
  });
});

describe('beyond the past window (maxPastRoundsKept): pinned rounds', () => {
  const small = { maxRoundsKept: 2, maxPastRoundsKept: 2 };

  it('a full polka round stays pinned; a nil-only round does not', () => {
    const net = makeNet(4);
    const d = net.driver(0, small);
    d.handle({ kind: 'start-height', height: H });
    d.handle({ kind: 'timeout', height: H, round: 0, step: 'propose' });
    feed(d, net.vote(1, 'prevote', H, 0, id(V)), net.vote(2, 'prevote', H, 0, id(V)), net.vote(3, 'prevote', H, 0, id(V)));
    skipTo(net, d, 1);
    feed(d, net.vote(1, 'prevote', H, 1, null)); // round 1: nil only
    const r = roundOf1Above(20);
    skipTo(net, d, r);
    expect(rejectedOf(feed(d, net.vote(3, 'prevote', H, 1, null)))[0]?.code).toBe('ROUND_OUT_OF_WINDOW');
    const e = feed(d, net.proposal(1, H, r, V, 0));
    expect(votesOf(e, 'prevote').map((v) => v.valueId && idKey(v.valueId))).toEqual([idKey(id(V))]);
    expect(finishRound(net, d, r)?.value).toEqual(V);
  });

  it('a partial polka (f+1 prevoters) stays pinned and is completed by a late prevote', () => {
    const net = makeNet(4);
    const d = net.driver(0, small);
    d.handle({ kind: 'start-height', height: H });
    d.handle({ kind: 'timeout', height: H, round: 0, step: 'propose' });
    feed(d, net.vote(1, 'prevote', H, 0, id(V)), net.vote(2, 'prevote', H, 0, id(V)));
    const r = roundOf1Above(20);
    skipTo(net, d, r);
    expect(rejectedOf(feed(d, net.vote(3, 'prevote', H, 0, id(V))))).toEqual([]); // completes the polka
    const e = feed(d, net.proposal(1, H, r, V, 0));
    expect(votesOf(e, 'prevote').map((v) => v.valueId && idKey(v.valueId))).toEqual([idKey(id(V))]);
  });

  it('the validRound of the current proposal: its prevotes are accepted into a round never stored (L28 by re-gossip)', () => {
    const net = makeNet(4);
    const d = net.driver(0, small);
    d.handle({ kind: 'start-height', height: H });
    const r = roundOf1Above(20);
    skipTo(net, d, r);
    // Before the proposal, round 0 is just too old.
    expect(rejectedOf(feed(d, net.vote(1, 'prevote', H, 0, id(V))))[0]?.code).toBe('ROUND_OUT_OF_WINDOW');
    expect(rejectedOf(feed(d, net.vote(1, 'prevote', H, 5, id(V))))[0]?.reason).toMatch(/maxPastRoundsKept/);
    const e = feed(d, net.proposal(1, H, r, V, 0));
    expect(votesOf(e, 'prevote')).toEqual([]); // L28 not yet complete: wait (propose timeout runs)
    const e2 = feed(d, net.vote(1, 'prevote', H, 0, id(V)), net.vote(2, 'prevote', H, 0, id(V)), net.vote(3, 'prevote', H, 0, id(V)));
    expect(rejectedOf(e2)).toEqual([]);
    expect(votesOf(e2, 'prevote').map((v) => [v.round, v.valueId && idKey(v.valueId)])).toEqual([[r, idKey(id(V))]]);
    expect(finishRound(net, d, r)?.value).toEqual(V);
  });

  it('after a restart far beyond the window, the WAL re-feeds the locked round and our own re-proposal passes L28', () => {
    const net = makeNet(4);
    // Round 0 (proposer 1): lock V, then crash at round r (proposer 0 = us) before proposing.
    let r = 24;
    while (proposer(H, r, 4) !== 0) r++;
    const restored: SignerState = {
      version: 1, height: H, round: r, step: 'propose',
      lockedValue: V, lockedRound: 0, validValue: V, validRound: 0, lastSigned: null,
    };
    const d = net.driver(0, small, restored);
    const wal = [net.proposal(1, H, 0, V), net.vote(1, 'prevote', H, 0, id(V)), net.vote(2, 'prevote', H, 0, id(V)), net.vote(0, 'prevote', H, 0, id(V))];
    const replay = feed(d, ...wal);
    expect(rejectedOf(replay)).toEqual([]);
    const e = d.handle({ kind: 'start-height', height: H });
    expect(proposalsOf(e).map((p) => [p.round, p.validRound])).toEqual([[r, 0]]); // L16: re-propose validValue
    expect(votesOf(e, 'prevote').map((v) => v.valueId && idKey(v.valueId))).toEqual([idKey(id(V))]); // own L28
  });

  it('old-round L49: late precommits for a round > K old still decide (its supported proposal was kept)', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: H });
    feed(d, net.proposal(1, H, 0, V), net.vote(1, 'prevote', H, 0, id(V)), net.vote(2, 'prevote', H, 0, id(V)));
    expect(d.step).toBe('precommit');
    skipTo(net, d, ROUNDS_KEPT_DEFAULT + 8);
    const dec = decisionOf(feed(d, net.vote(1, 'precommit', H, 0, id(V)), net.vote(2, 'precommit', H, 0, id(V))));
    expect(dec?.round).toBe(0);
    expect(dec?.certificate.signatures.map((s) => s.validator)).toEqual([0, 1, 2]);
  });
});

describe('future rounds (maxRoundsKept)', () => {
  it('buffered next-height messages of a round above the window count once the L55 skip reaches it', () => {
    const net = makeNet(4);
    const d = net.driver(0, { maxRoundsKept: 2 });
    d.handle({ kind: 'start-height', height: H });
    // While still at height 1: q nil precommits of height 2, round 5 (buffered, verified).
    feed(d, net.vote(1, 'precommit', H + 1, 5, null), net.vote(2, 'precommit', H + 1, 5, null), net.vote(3, 'precommit', H + 1, 5, null));
    expect(d.bufferedCount(H + 1)).toBe(3);
    const e = d.handle({ kind: 'start-height', height: H + 1 });
    expect(d.round).toBe(5); // L55: f+1 senders of round 5 (above the window of round 0 + 2)
    // L47: the three precommits are counted in round 5 (not only as skip evidence): precommit timeout.
    expect(timeoutsOf(e, 'precommit').map((t) => t.round)).toEqual([5]);
  });
});

describe('VoteKeeper bounds', () => {
  const net = makeNet(4);

  it('polka and partial-polka rounds older than the window are each capped at POLKA_ROUNDS_KEPT_MAX, highest kept', () => {
    const P = 2;
    const k = new VoteKeeper(H, 4, 2, 2, P);
    const rounds = 2 * POLKA_ROUNDS_KEPT_MAX + 50;
    for (let r = 0; r < rounds; r++) {
      k.setCurrentRound(r);
      // even rounds: full polka (3 prevoters); odd rounds: partial (2 prevoters); plus nil noise
      const voters = r % 2 === 0 ? [1, 2, 3] : [1, 2];
      for (const v of voters) k.add(net.vote(v, 'prevote', H, r, id(V)));
      k.add(net.vote(0, 'prevote', H, r, null));
    }
    k.setCurrentRound(rounds + 10);
    const stored = k.storedRounds();
    expect(stored.length).toBe(2 * POLKA_ROUNDS_KEPT_MAX);
    const even = stored.filter((r) => r % 2 === 0);
    expect(even.length).toBe(POLKA_ROUNDS_KEPT_MAX);
    expect(even[0]).toBe(rounds - 2 * POLKA_ROUNDS_KEPT_MAX); // the highest 64 even rounds
    expect(k.count(even[0]!, 'prevote', idKey(id(V)))).toBe(3);
    // A round below all pinned ones is refused.
    expect(k.add(net.vote(1, 'prevote', H, 1, id(V)))).toEqual({ status: 'out-of-window' });
  });

  it('pinRounds keeps lockedRound/validRound even without a polka; releasing the pin lets it go', () => {
    const k = new VoteKeeper(H, 4, 2, 2, 2);
    k.add(net.vote(1, 'prevote', H, 0, null));
    k.pinRounds(0, 0);
    k.setCurrentRound(30);
    expect(k.storedRounds()).toEqual([0]);
    expect(k.position(0)).toBe('kept');
    expect(k.position(1)).toBe('too-old');
    k.pinRounds(-1, -1);
    k.setCurrentRound(31);
    expect(k.storedRounds()).toEqual([]);
  });

  it('proposals of rounds more than K below the current one are kept only if f+1 validators voted for their value', () => {
    const k = new VoteKeeper(H, 4, 2, 2, 50);
    k.add(net.proposal(1, H, 0, V), id(V));
    k.add(net.vote(1, 'prevote', H, 0, id(V)));
    k.add(net.vote(2, 'prevote', H, 0, id(V)));
    k.add(net.proposal(2, H, 1, W), id(W)); // nobody voted for W
    k.add(net.vote(3, 'prevote', H, 1, null));
    k.setCurrentRound(10);
    expect(k.proposals(0).map((p) => idKey(p.valueId))).toEqual([idKey(id(V))]);
    expect(k.proposals(1)).toEqual([]);
    expect(k.add(net.proposal(2, H, 1, W), id(W))).toEqual({ status: 'out-of-window' });
    expect(k.add(net.proposal(2, H, 8, W), id(W))).toEqual({ status: 'added' }); // within K
  });
});

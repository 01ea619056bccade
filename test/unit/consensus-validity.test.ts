// What the driver asks about a proposed value, and when: deterministic valid(v) at L22/L28/L36/L49,
// timeliness (local clock) only for a fresh proposal at L22 and never cached, the value's
// attribution (its proposer field) checked against the proposal's round, and StartRound(round_p)
// being a no-op (L11). n = 4: q = 3, proposer(h, r) = (h + r) mod 4.
import { describe, expect, it } from 'vitest';
import { fromUtf8, toHex, utf8 } from '../../src/encoding/bytes.js';
import { ConsensusDriver } from '../../src/consensus/driver.js';
import { initialState, transition } from '../../src/consensus/state-machine.js';
import { attributionOk } from '../../src/consensus/validity.js';
import type { ConsensusConfig, ConsensusMessage, Effect } from '../../src/consensus/types.js';
import { decisionOf, feed, id, makeNet, votesOf } from './consensus-support/harness.js';

/** A value that names its proposer and its proposer's clock, like a block header does. */
function value(h: number, r: number, proposer: number, timeMs: number): Uint8Array {
  return utf8(`h=${h} r=${r} p=${proposer} t=${timeMs}`);
}
function proposerOf(v: Uint8Array): number | null {
  const m = /p=(\d+)/.exec(fromUtf8(v));
  return m === null ? null : Number(m[1]);
}
function timeOf(v: Uint8Array): number {
  return Number(/t=(\d+)/.exec(fromUtf8(v))![1]);
}

const SKEW_MS = 60_000;
const TEN_MINUTES = 600_000;

/**
 * n drivers over a perfect in-memory network with a virtual clock. Peer i's clock reads
 * now + offset[i]; it builds values stamped with its clock and finds a value timely when the
 * stamp is within SKEW_MS of its clock.
 */
function runCluster(offsets: number[], heights: number) {
  const n = offsets.length;
  const net = makeNet(n);
  let now = 1_000_000_000;
  const clock = (i: number) => now + offsets[i]!;
  const drivers = offsets.map(
    (_, i) =>
      new ConsensusDriver(
        net.cfg(i, {
          getValue: (h, r) => value(h, r, (h + r) % n, clock(i)),
          isValid: () => true,
          isTimely: (_h, v) => Math.abs(timeOf(v) - clock(i)) <= SKEW_MS,
          proposerOf,
        }),
      ),
  );
  const decided = drivers.map(() => new Map<number, { value: string; round: number }>());
  const sent: { from: number; m: ConsensusMessage }[] = [];
  const queue: { to: number; m: ConsensusMessage }[] = [];
  const timers: { at: number; seq: number; peer: number; height: number; round: number; step: 'propose' | 'prevote' | 'precommit' }[] = [];
  let seq = 0;
  const run = (peer: number, effects: Effect[]): void => {
    for (const e of effects) {
      if (e.kind === 'broadcast') {
        sent.push({ from: peer, m: e.message });
        for (let j = 0; j < n; j++) if (j !== peer) queue.push({ to: j, m: e.message });
      } else if (e.kind === 'schedule-timeout') {
        timers.push({ at: now + e.durationMs, seq: seq++, peer, height: e.height, round: e.round, step: e.step });
      } else if (e.kind === 'decide') {
        decided[peer]!.set(e.height, { value: fromUtf8(e.value), round: e.round });
        if (e.height < heights) run(peer, drivers[peer]!.handle({ kind: 'start-height', height: e.height + 1 }));
      }
    }
  };
  for (let i = 0; i < n; i++) run(i, drivers[i]!.handle({ kind: 'start-height', height: 1 }));
  for (let guard = 0; guard < 200_000; guard++) {
    if (decided.every((d) => d.size === heights)) break;
    const next = queue.shift();
    if (next !== undefined) {
      run(next.to, drivers[next.to]!.handle({ kind: 'message', message: next.m }));
      continue;
    }
    timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const t = timers.shift();
    if (t === undefined) break;
    now = Math.max(now, t.at);
    run(t.peer, drivers[t.peer]!.handle({ kind: 'timeout', height: t.height, round: t.round, step: t.step }));
  }
  return { decided, sent, net };
}

describe('clock skew: timeliness is not validity', () => {
  it('a peer whose clock is 10 minutes ahead withholds prevotes for new values but precommits and decides every height', () => {
    const HEIGHTS = 8;
    const { decided, sent } = runCluster([0, 0, 0, TEN_MINUTES], HEIGHTS);
    // Every peer decided every height through consensus (decide effects), and all agree.
    for (let i = 0; i < 4; i++) expect(decided[i]!.size, `peer ${i} decided heights`).toBe(HEIGHTS);
    for (let h = 1; h <= HEIGHTS; h++) {
      const v = decided[0]!.get(h)!.value;
      for (let i = 1; i < 4; i++) expect(decided[i]!.get(h)!.value).toBe(v);
      // A value stamped by the skewed clock is untimely for three peers: never decided.
      expect(proposerOf(utf8(v))).not.toBe(3);
    }
    // The skewed peer prevoted nil for every fresh proposal of the others (their stamps are
    // 10 minutes behind its clock) ...
    const skewedPrevotes = sent.filter((s) => s.from === 3 && s.m.type === 'prevote').map((s) => s.m);
    const othersFresh = sent.filter((s) => s.m.type === 'proposal' && s.from !== 3 && s.m.validRound === -1).map((s) => s.m);
    expect(othersFresh.length).toBeGreaterThan(0);
    for (const p of othersFresh) {
      const pv = skewedPrevotes.find((v) => v.height === p.height && v.round === p.round);
      if (pv !== undefined && pv.type === 'prevote') expect(pv.valueId, `prevote of peer 3 at ${p.height}/${p.round}`).toBeNull();
    }
    // ... but precommitted the decided value of each height (L36 does not ask the clock).
    for (let h = 1; h <= HEIGHTS; h++) {
      const want = toHex(id(utf8(decided[0]!.get(h)!.value)));
      const pcs = sent.filter((s) => s.from === 3 && s.m.type === 'precommit' && s.m.height === h && s.m.valueId !== null);
      expect(pcs.map((s) => (s.m.type === 'precommit' ? toHex(s.m.valueId!) : '')), `precommit of peer 3 at height ${h}`).toContain(want);
    }
  });

  it('timeliness is asked afresh (never cached): once the clock agrees, the same value gets a prevote', () => {
    const net = makeNet(4);
    let clockOk = false;
    const calls: number[] = [];
    const d = net.driver(0, { isTimely: (h) => (calls.push(h), clockOk) });
    d.handle({ kind: 'start-height', height: 1 });
    const V = value(1, 0, 1, 5);
    // Round 0 (proposer 1): the fresh value is untimely -> prevote nil.
    expect(votesOf(feed(d, net.proposal(1, 1, 0, V)), 'prevote').map((v) => v.valueId)).toEqual([null]);
    // Round 1 (proposer 2) proposes the same bytes fresh again; now our clock agrees.
    clockOk = true;
    feed(d, ...[1, 2, 3].map((i) => net.vote(i, 'prevote', 1, 0, null)));
    feed(d, ...[1, 2, 3].map((i) => net.vote(i, 'precommit', 1, 0, null)));
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'precommit' });
    expect(d.round).toBe(1);
    const V1 = value(1, 1, 2, 5);
    expect(votesOf(feed(d, net.proposal(2, 1, 1, V1)), 'prevote').map((v) => v.valueId)).toEqual([id(V1)]);
    expect(calls.length).toBe(2);
  });

  it('timeliness is not asked at L28, L36 or L49: a locked-in value is precommitted and decided', () => {
    const net = makeNet(4);
    const d = net.driver(0, { isTimely: () => false });
    d.handle({ kind: 'start-height', height: 1 });
    const V = value(1, 0, 1, 5);
    expect(votesOf(feed(d, net.proposal(1, 1, 0, V)), 'prevote').map((v) => v.valueId)).toEqual([null]);
    const e = feed(d, ...[1, 2, 3].map((i) => net.vote(i, 'prevote', 1, 0, id(V))));
    expect(votesOf(e, 'precommit').map((v) => v.valueId)).toEqual([id(V)]); // L36
    const dec = decisionOf(feed(d, ...[1, 2, 3].map((i) => net.vote(i, 'precommit', 1, 0, id(V)))));
    expect(dec?.value).toEqual(V); // L49
  });
});

describe('attribution: a value names the proposer that first proposed it', () => {
  const cfg: Partial<ConsensusConfig> = { proposerOf };

  it('L22: a fresh value naming another validator than proposer(h, r) gets a nil prevote', () => {
    const net = makeNet(4);
    const wrong = net.driver(0, cfg);
    wrong.handle({ kind: 'start-height', height: 1 });
    const W = value(1, 0, 2, 5); // signed by proposer(1, 0) = 1 but names 2
    expect(votesOf(feed(wrong, net.proposal(1, 1, 0, W)), 'prevote').map((v) => v.valueId)).toEqual([null]);
    const right = net.driver(0, cfg);
    right.handle({ kind: 'start-height', height: 1 });
    const V = value(1, 0, 1, 5);
    expect(votesOf(feed(right, net.proposal(1, 1, 0, V)), 'prevote').map((v) => v.valueId)).toEqual([id(V)]);
  });

  it('L49: q precommits for a wrongly attributed fresh value decide nothing', () => {
    const net = makeNet(4);
    const d = net.driver(0, cfg);
    d.handle({ kind: 'start-height', height: 1 });
    const W = value(1, 0, 3, 5);
    const e = [...feed(d, net.proposal(1, 1, 0, W)), ...feed(d, ...[1, 2, 3].map((i) => net.vote(i, 'precommit', 1, 0, id(W))))];
    expect(decisionOf(e)).toBeUndefined();
    expect(d.decided).toBe(false);
  });

  it('L28: a re-proposal keeps the name of the round that first proposed it (r\' <= vr), nothing later', () => {
    const net = makeNet(4);
    // Round 1's proposer is 2; it re-proposes with vr = 0 a value first proposed in round 0 by 1.
    const ok = net.driver(0, cfg);
    ok.handle({ kind: 'start-height', height: 1 });
    const V = value(1, 0, 1, 5);
    feed(ok, ...[1, 2, 3].map((i) => net.vote(i, 'prevote', 1, 0, id(V))));
    ok.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' }); // we prevoted nil in round 0
    feed(ok, ...[1, 2, 3].map((i) => net.vote(i, 'precommit', 1, 0, null)));
    ok.handle({ kind: 'timeout', height: 1, round: 0, step: 'precommit' });
    expect(ok.round).toBe(1);
    expect(votesOf(feed(ok, net.proposal(2, 1, 1, V, 0)), 'prevote').map((v) => v.valueId)).toEqual([id(V)]);

    // Same, but the value names validator 3: proposer(1, r') = 3 only for r' = 2, 6, ... > vr = 0.
    const bad = net.driver(0, cfg);
    bad.handle({ kind: 'start-height', height: 1 });
    const X = value(1, 0, 3, 5);
    feed(bad, ...[1, 2, 3].map((i) => net.vote(i, 'prevote', 1, 0, id(X))));
    bad.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' });
    feed(bad, ...[1, 2, 3].map((i) => net.vote(i, 'precommit', 1, 0, null)));
    bad.handle({ kind: 'timeout', height: 1, round: 0, step: 'precommit' });
    expect(votesOf(feed(bad, net.proposal(2, 1, 1, X, 0)), 'prevote').map((v) => v.valueId)).toEqual([null]);
  });

  it('attributionOk: fresh = exactly proposer(h, r); re-proposed = proposer of some r\' <= vr', () => {
    expect(attributionOk(null, 1, 0, -1, 4)).toBe(true);
    expect(attributionOk(1, 1, 0, -1, 4)).toBe(true);
    expect(attributionOk(2, 1, 0, -1, 4)).toBe(false);
    expect(attributionOk(3, 1, 2, -1, 4)).toBe(true);
    expect(attributionOk(4, 1, 3, 2, 4)).toBe(false); // not a validator
    expect(attributionOk(1, 1, 5, 0, 4)).toBe(true);
    expect(attributionOk(2, 1, 5, 0, 4)).toBe(false);
    expect(attributionOk(2, 1, 5, 1, 4)).toBe(true);
    expect(attributionOk(0, 1, 9, 2, 4)).toBe(false); // proposer(1, 3) = 0, and 3 > vr
    expect(attributionOk(0, 1, 9, 3, 4)).toBe(true);
    for (let c = 0; c < 4; c++) expect(attributionOk(c, 7, 9, 3, 4)).toBe(true); // vr >= n - 1: any
  });
});

describe('L11: StartRound(round_p) is a no-op', () => {
  it('starting the round the peer is already in does not reset its step', () => {
    let s = transition(initialState(1), { line: 'L11', round: 0, proposer: false }).state;
    s = transition(s, { line: 'L57', height: 1, round: 0 }).state; // prevote nil, step prevote
    expect(s.step).toBe('prevote');
    const again = transition(s, { line: 'L11', round: 0, proposer: false });
    expect(again.applied).toBe(false);
    expect(again.state.step).toBe('prevote');
    expect(again.outputs).toEqual([]);
    // A higher round still starts; the first StartRound(0) of a height still runs.
    expect(transition(s, { line: 'L11', round: 1, proposer: true }).applied).toBe(true);
    expect(transition(initialState(1), { line: 'L11', round: 0, proposer: false }).applied).toBe(true);
  });

  it('the driver starts round 0 once per height and keeps a restored round started', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' });
    expect(d.step).toBe('prevote');
    // Restored in round 0 / prevote: resuming must not start round 0 over.
    const r = net.driver(0, {}, d.signerState());
    const e = r.handle({ kind: 'start-height', height: 1 });
    expect(r.step).toBe('prevote');
    expect(votesOf(e, 'prevote').map((v) => v.valueId)).toEqual([null]); // re-emitted, not re-decided
  });
});

// One test (or more) per rule of Algorithm 1 ("The latest gossip on BFT consensus", arXiv
// 1807.04938), driving the driver with hand-made messages signed with real Ed25519 keys.
// n = 4 unless said otherwise: q = 3, skip threshold = 2, proposer(h, r) = (h + r) mod 4.
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/encoding/bytes.js';
import { verifyCommitCertificate } from '../../src/consensus/certificate.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { CHAIN, decisionOf, feed, id, makeNet, persistBeforeBroadcast, proposalsOf, timeoutsOf, votesOf } from './consensus-support/harness.js';

const V = utf8('value V');
const W = utf8('value W');

describe('L11/L22/L36/L49: the happy path', () => {
  it('decides a round-0 proposal in one round with a valid certificate', () => {
    const net = makeNet(4);
    const d = net.driver(0); // height 1, round 0: proposer is 1
    const start = d.handle({ kind: 'start-height', height: 1 });
    // L21: non-proposer schedules OnTimeoutPropose(1, 0) = proposeMs + 0·δ.
    expect(timeoutsOf(start, 'propose')).toEqual([{ kind: 'schedule-timeout', height: 1, round: 0, step: 'propose', durationMs: 1000 }]);

    // L22-L24: valid proposal, not locked -> prevote id(V); persist precedes the broadcast.
    const e1 = feed(d, net.proposal(1, 1, 0, V));
    expect(votesOf(e1, 'prevote').map((v) => v.valueId)).toEqual([id(V)]);
    expect(e1[0]!.kind).toBe('persist');
    expect(persistBeforeBroadcast(e1)).toBe(true);
    expect(d.step).toBe('prevote');

    // L36-L41: q = 3 prevotes (ours + 2) for id(V) -> lock and precommit id(V).
    const e2 = feed(d, net.vote(1, 'prevote', 1, 0, id(V)));
    expect(votesOf(e2, 'precommit')).toHaveLength(0);
    const e3 = feed(d, net.vote(2, 'prevote', 1, 0, id(V)));
    expect(timeoutsOf(e3, 'prevote')).toHaveLength(1); // L34
    expect(votesOf(e3, 'precommit').map((v) => v.valueId)).toEqual([id(V)]);
    expect(d.signerState().lockedRound).toBe(0);
    expect(d.signerState().lockedValue).toEqual(V);
    expect(d.signerState().validRound).toBe(0);

    // L49: q precommits -> decide V.
    const e4 = feed(d, net.vote(1, 'precommit', 1, 0, id(V)));
    expect(decisionOf(e4)).toBeUndefined();
    const e5 = feed(d, net.vote(3, 'precommit', 1, 0, id(V)));
    const dec = decisionOf(e5)!;
    expect(dec).toBeDefined();
    expect(dec.height).toBe(1);
    expect(dec.round).toBe(0);
    expect(dec.value).toEqual(V);
    expect(dec.certificate.signatures.map((s) => s.validator)).toEqual([0, 1, 3]);
    expect(verifyCommitCertificate(dec.certificate, net.validators, CHAIN, nodeVerifier)).toEqual({ ok: true });
    expect(d.decided).toBe(true);
  });

  it('the proposer proposes getValue() at L18 and counts its own proposal', () => {
    const net = makeNet(4);
    const d = net.driver(1, { getValue: () => V });
    const e = d.handle({ kind: 'start-height', height: 1 });
    expect(proposalsOf(e)).toHaveLength(1);
    expect(proposalsOf(e)[0]!.value).toEqual(V);
    expect(proposalsOf(e)[0]!.validRound).toBe(-1);
    // its own proposal triggers L22 at once: prevote id(V)
    expect(votesOf(e, 'prevote').map((v) => v.valueId)).toEqual([id(V)]);
    expect(timeoutsOf(e, 'propose')).toHaveLength(0);
    expect(e.map((x) => x.kind)).toEqual(['persist', 'broadcast', 'persist', 'broadcast']);
  });

  it('an observer (selfIndex null) never signs but still decides', () => {
    const net = makeNet(4);
    const d = net.driver(null);
    const effects = [
      ...d.handle({ kind: 'start-height', height: 1 }),
      ...feed(d, net.proposal(1, 1, 0, V)),
      ...feed(d, ...[0, 1, 2].map((i) => net.vote(i, 'prevote', 1, 0, id(V)))),
      ...feed(d, ...[0, 1, 2].map((i) => net.vote(i, 'precommit', 1, 0, id(V)))),
    ];
    expect(effects.filter((e) => e.kind === 'broadcast' || e.kind === 'persist')).toEqual([]);
    expect(decisionOf(effects)?.value).toEqual(V);
  });
});

describe('L22: invalid value', () => {
  it('prevotes nil for a proposal the ledger rejects and does not decide it', () => {
    const net = makeNet(4);
    const d = net.driver(0, { isValid: (_h, v) => v !== V });
    d.handle({ kind: 'start-height', height: 1 });
    const e = feed(d, net.proposal(1, 1, 0, V));
    expect(votesOf(e, 'prevote').map((v) => v.valueId)).toEqual([null]);
    // even q precommits for an invalid value do not make it decided (L50 valid(v))
    const e2 = feed(d, ...[1, 2, 3].map((i) => net.vote(i, 'precommit', 1, 0, id(V))));
    expect(decisionOf(e2)).toBeUndefined();
  });

  it('prevotes nil when locked on a different value (L23 lockedValue ≠ v)', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    // lock V in round 0
    feed(d, net.proposal(1, 1, 0, V), net.vote(1, 'prevote', 1, 0, id(V)), net.vote(2, 'prevote', 1, 0, id(V)));
    expect(d.signerState().lockedRound).toBe(0);
    // round 1 (proposer 2) proposes a fresh W with validRound -1 -> prevote nil
    feed(d, net.vote(1, 'precommit', 1, 0, null), net.vote(2, 'precommit', 1, 0, null));
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'precommit' });
    expect(d.round).toBe(1);
    const e = feed(d, net.proposal(2, 1, 1, W));
    expect(votesOf(e, 'prevote').map((v) => v.valueId)).toEqual([null]);
  });
});

describe('L28: proposal with validRound and a polka', () => {
  it('prevotes a re-proposed value once q prevotes for it at vr are seen', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    // Round 0: we saw no proposal; time out and prevote nil; others prevoted V (a polka we learn of late).
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' });
    feed(d, net.vote(1, 'precommit', 1, 0, null), net.vote(2, 'precommit', 1, 0, null), net.vote(3, 'precommit', 1, 0, null));
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'precommit' });
    expect(d.round).toBe(1);
    // Round 1: proposer 2 re-proposes V with validRound 0. Without the polka: no L28, stay in propose.
    const e1 = feed(d, net.proposal(2, 1, 1, V, 0));
    expect(votesOf(e1, 'prevote')).toEqual([]);
    expect(d.step).toBe('propose');
    // Polka for V at round 0 arrives: L28 -> prevote id(V).
    const e2 = feed(d, net.vote(1, 'prevote', 1, 0, id(V)), net.vote(2, 'prevote', 1, 0, id(V)), net.vote(3, 'prevote', 1, 0, id(V)));
    expect(votesOf(e2, 'prevote').map((v) => [v.round, v.valueId])).toEqual([[1, id(V)]]);
  });

  it('proposer re-proposes validValue with validRound (L15-L16)', () => {
    const net = makeNet(4);
    const d = net.driver(2, { getValue: () => W }); // proposer of height 1 round 1
    d.handle({ kind: 'start-height', height: 1 });
    // Round 0: proposal V and a polka -> validValue = V, validRound = 0.
    feed(d, net.proposal(1, 1, 0, V), net.vote(1, 'prevote', 1, 0, id(V)), net.vote(3, 'prevote', 1, 0, id(V)));
    expect(d.signerState().validRound).toBe(0);
    feed(d, net.vote(1, 'precommit', 1, 0, null), net.vote(3, 'precommit', 1, 0, null));
    const e = d.handle({ kind: 'timeout', height: 1, round: 0, step: 'precommit' });
    const p = proposalsOf(e);
    expect(p).toHaveLength(1);
    expect(p[0]!.value).toEqual(V);
    expect(p[0]!.validRound).toBe(0);
  });
});

describe('L36 + L28: locking, unlocking and relocking', () => {
  it('locks on a polka, refuses other values while locked, unlocks on a higher polka and relocks', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    // Round 0: lock V.
    const e0 = feed(d, net.proposal(1, 1, 0, V), net.vote(1, 'prevote', 1, 0, id(V)), net.vote(2, 'prevote', 1, 0, id(V)));
    expect(votesOf(e0, 'precommit').map((v) => v.valueId)).toEqual([id(V)]);
    expect(d.signerState()).toMatchObject({ lockedRound: 0, lockedValue: V });
    feed(d, net.vote(1, 'precommit', 1, 0, null), net.vote(2, 'precommit', 1, 0, null));
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'precommit' });

    // Round 1 (proposer 2): W proposed fresh -> nil (locked on V). Others form a polka for W at round 1.
    const e1 = feed(d, net.proposal(2, 1, 1, W));
    expect(votesOf(e1, 'prevote').map((v) => v.valueId)).toEqual([null]);
    const e1b = feed(d, net.vote(1, 'prevote', 1, 1, id(W)), net.vote(2, 'prevote', 1, 1, id(W)), net.vote(3, 'prevote', 1, 1, id(W)));
    // L36 with step = prevote: a polka for W in our round -> relock on W at round 1 and precommit it.
    expect(votesOf(e1b, 'precommit').map((v) => v.valueId)).toEqual([id(W)]);
    expect(d.signerState()).toMatchObject({ lockedRound: 1, lockedValue: W, validRound: 1, validValue: W });
  });

  it('L28 unlock: locked on V at round 0, prevotes W re-proposed with vr = 1 > lockedRound', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    feed(d, net.proposal(1, 1, 0, V), net.vote(1, 'prevote', 1, 0, id(V)), net.vote(2, 'prevote', 1, 0, id(V)));
    expect(d.signerState().lockedRound).toBe(0);
    feed(d, net.vote(1, 'precommit', 1, 0, null), net.vote(2, 'precommit', 1, 0, null));
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'precommit' });
    // Round 1: we time out on the proposal (prevote nil); others had a polka for W in round 1.
    d.handle({ kind: 'timeout', height: 1, round: 1, step: 'propose' });
    feed(d, net.vote(1, 'prevote', 1, 1, id(W)), net.vote(2, 'prevote', 1, 1, id(W)), net.vote(3, 'prevote', 1, 1, id(W)));
    // no proposal for W seen in round 1 -> no L36; L61 precommit nil on timeout, then round 2
    d.handle({ kind: 'timeout', height: 1, round: 1, step: 'prevote' });
    feed(d, net.vote(1, 'precommit', 1, 1, null), net.vote(2, 'precommit', 1, 1, null));
    d.handle({ kind: 'timeout', height: 1, round: 1, step: 'precommit' });
    expect(d.round).toBe(2);
    expect(d.signerState().lockedRound).toBe(0);
    // Round 2 (proposer 3) re-proposes W with validRound 1: lockedRound 0 ≤ vr 1 -> prevote id(W).
    const e = feed(d, net.proposal(3, 1, 2, W, 1));
    expect(votesOf(e, 'prevote').map((v) => v.valueId)).toEqual([id(W)]);
  });

  it('L29: a re-proposal with vr below our lockedRound gets nil', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    // Polka for W at round 0 (we did not see the proposal, so we prevoted nil on timeout).
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' });
    feed(d, net.vote(1, 'prevote', 1, 0, id(W)), net.vote(2, 'prevote', 1, 0, id(W)), net.vote(3, 'prevote', 1, 0, id(W)));
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'prevote' });
    feed(d, net.vote(1, 'precommit', 1, 0, null), net.vote(2, 'precommit', 1, 0, null));
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'precommit' });
    // Round 1: lock V.
    feed(d, net.proposal(2, 1, 1, V), net.vote(1, 'prevote', 1, 1, id(V)), net.vote(2, 'prevote', 1, 1, id(V)));
    expect(d.signerState().lockedRound).toBe(1);
    feed(d, net.vote(1, 'precommit', 1, 1, null), net.vote(2, 'precommit', 1, 1, null));
    d.handle({ kind: 'timeout', height: 1, round: 1, step: 'precommit' });
    // Round 2: W re-proposed with vr = 0 < lockedRound 1 -> nil.
    const e = feed(d, net.proposal(3, 1, 2, W, 0));
    expect(votesOf(e, 'prevote').map((v) => v.valueId)).toEqual([null]);
  });

  it('L36 with step = precommit updates validValue but does not relock or re-precommit', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' }); // we prevote nil
    feed(d, ...[1, 2, 3].map((i) => net.vote(i, 'prevote', 1, 0, id(V)))); // polka for V, proposal unseen
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'prevote' }); // L61: precommit nil
    expect(d.step).toBe('precommit');
    // the late proposal completes L36 while step = precommit: only L42-L43 run
    const e = feed(d, net.proposal(1, 1, 0, V));
    expect(votesOf(e, 'precommit')).toEqual([]);
    expect(d.signerState()).toMatchObject({ lockedRound: -1, lockedValue: null, validRound: 0, validValue: V });
  });
});

describe('L44: precommit nil on a nil polka', () => {
  it('precommits nil after q prevotes for nil', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' });
    const e = feed(d, net.vote(1, 'prevote', 1, 0, null), net.vote(2, 'prevote', 1, 0, null));
    expect(votesOf(e, 'precommit').map((v) => v.valueId)).toEqual([null]);
  });
});

describe('L55: round skipping', () => {
  it('jumps to round r after f+1 = n - q + 1 messages from round r > round_p', () => {
    const net = makeNet(4); // skip threshold 2
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    const e1 = feed(d, net.vote(2, 'prevote', 1, 5, null));
    expect(d.round).toBe(0); // one message is not enough (could be Byzantine)
    expect(e1).toEqual([]);
    const e2 = feed(d, net.vote(3, 'precommit', 1, 5, null));
    expect(d.round).toBe(5);
    expect(d.step).toBe('propose');
    // proposer(1, 5) = 2: we schedule the propose timeout of round 5 = 1000 + 5·100
    expect(timeoutsOf(e2, 'propose')).toEqual([{ kind: 'schedule-timeout', height: 1, round: 5, step: 'propose', durationMs: 1500 }]);
  });

  it('two messages from the same validator do not count twice', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    feed(d, net.vote(2, 'prevote', 1, 3, null), net.vote(2, 'precommit', 1, 3, null));
    expect(d.round).toBe(0);
  });

  it('n = 7: needs 3 distinct senders (n - q + 1 with q = 5)', () => {
    const net = makeNet(7);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    feed(d, net.vote(3, 'prevote', 1, 2, null), net.vote(4, 'prevote', 1, 2, null));
    expect(d.round).toBe(0);
    feed(d, net.vote(5, 'prevote', 1, 2, null));
    expect(d.round).toBe(2);
  });

  it('skips to a round beyond the kept window using per-validator highest rounds', () => {
    const net = makeNet(4);
    const d = net.driver(0, { maxRoundsKept: 4 });
    d.handle({ kind: 'start-height', height: 1 });
    feed(d, net.vote(2, 'prevote', 1, 100, null));
    expect(d.round).toBe(0);
    feed(d, net.vote(3, 'prevote', 1, 50, null));
    // at least 2 validators reached round >= 50 -> jump to 50 (the 2nd-highest)
    expect(d.round).toBe(50);
  });
});

describe('L57/L61/L65: timeouts', () => {
  it('L57: prevote nil on propose timeout; stale timeouts ignored', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    expect(d.handle({ kind: 'timeout', height: 1, round: 3, step: 'propose' })).toEqual([]);
    expect(d.handle({ kind: 'timeout', height: 2, round: 0, step: 'propose' })).toEqual([]);
    const e = d.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' });
    expect(votesOf(e, 'prevote').map((v) => [v.round, v.valueId])).toEqual([[0, null]]);
    expect(persistBeforeBroadcast(e)).toBe(true);
    expect(d.step).toBe('prevote');
    // a second firing does nothing (step is no longer propose)
    expect(d.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' })).toEqual([]);
  });

  it('L34 + L61: after q mixed prevotes the prevote timeout fires a nil precommit', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    feed(d, net.proposal(1, 1, 0, V)); // we prevote V
    const e = feed(d, net.vote(1, 'prevote', 1, 0, null), net.vote(2, 'prevote', 1, 0, id(W)));
    // 3 prevotes, no value with q: L34 schedules the timeout (500 ms + 0)
    expect(timeoutsOf(e, 'prevote')).toEqual([{ kind: 'schedule-timeout', height: 1, round: 0, step: 'prevote', durationMs: 500 }]);
    expect(votesOf(e, 'precommit')).toEqual([]);
    const e2 = d.handle({ kind: 'timeout', height: 1, round: 0, step: 'prevote' });
    expect(votesOf(e2, 'precommit').map((v) => v.valueId)).toEqual([null]);
  });

  it('L47 + L65: q mixed precommits schedule the precommit timeout, which starts round + 1', () => {
    const net = makeNet(4);
    const d = net.driver(3); // proposer of height 1 round 2
    d.handle({ kind: 'start-height', height: 1 });
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' });
    const e = feed(d, net.vote(0, 'precommit', 1, 0, null), net.vote(1, 'precommit', 1, 0, id(V)), net.vote(2, 'precommit', 1, 0, null));
    expect(timeoutsOf(e, 'precommit')).toEqual([{ kind: 'schedule-timeout', height: 1, round: 0, step: 'precommit', durationMs: 500 }]);
    const e2 = d.handle({ kind: 'timeout', height: 1, round: 0, step: 'precommit' });
    expect(d.round).toBe(1);
    expect(timeoutsOf(e2, 'propose')[0]!.durationMs).toBe(1100); // grows linearly with the round
    feed(d, net.vote(0, 'precommit', 1, 1, null), net.vote(1, 'precommit', 1, 1, null), net.vote(2, 'precommit', 1, 1, null));
    const e3 = d.handle({ kind: 'timeout', height: 1, round: 1, step: 'precommit' });
    expect(d.round).toBe(2);
    // we are the proposer of round 2: a proposal, no propose timeout
    expect(proposalsOf(e3).map((p) => p.round)).toEqual([2]);
  });
});

describe('L49: decision in a later round and catch-up', () => {
  it('decides in round 2 after two failed rounds', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    for (const r of [0, 1]) {
      d.handle({ kind: 'timeout', height: 1, round: r, step: 'propose' });
      feed(d, net.vote(1, 'precommit', 1, r, null), net.vote(2, 'precommit', 1, r, null), net.vote(3, 'precommit', 1, r, null));
      d.handle({ kind: 'timeout', height: 1, round: r, step: 'precommit' });
    }
    expect(d.round).toBe(2);
    const e = feed(
      d,
      net.proposal(3, 1, 2, V),
      ...[1, 2, 3].map((i) => net.vote(i, 'prevote', 1, 2, id(V))),
      ...[1, 2].map((i) => net.vote(i, 'precommit', 1, 2, id(V))),
    );
    const dec = decisionOf(e)!;
    expect(dec.round).toBe(2);
    expect(dec.value).toEqual(V);
    expect(verifyCommitCertificate(dec.certificate, net.validators, CHAIN, nodeVerifier).ok).toBe(true);
  });

  it('decides an older round r < round_p from its proposal and q precommits (catch-up)', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    feed(d, net.vote(2, 'prevote', 1, 3, null), net.vote(3, 'prevote', 1, 3, null)); // skip to round 3
    expect(d.round).toBe(3);
    const e = feed(d, ...[1, 2, 3].map((i) => net.vote(i, 'precommit', 1, 1, id(W))));
    expect(decisionOf(e)).toBeUndefined(); // no proposal yet
    const e2 = feed(d, net.proposal(2, 1, 1, W));
    expect(decisionOf(e2)?.round).toBe(1);
    expect(decisionOf(e2)?.value).toEqual(W);
  });

  it('after decide, start-height(h+1) resets the lock and replays buffered messages of h+1', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    d.handle({ kind: 'start-height', height: 1 });
    feed(d, net.proposal(1, 1, 0, V), ...[1, 2].map((i) => net.vote(i, 'prevote', 1, 0, id(V))));
    // a height-2 proposal arrives early: buffered, not counted, no rejection
    const early = feed(d, net.proposal(2, 2, 0, W));
    expect(early).toEqual([]);
    expect(d.bufferedCount(2)).toBe(1);
    const e = feed(d, ...[1, 2].map((i) => net.vote(i, 'precommit', 1, 0, id(V))));
    expect(decisionOf(e)).toBeDefined();
    // late messages for the decided height are stale
    expect(feed(d, net.vote(3, 'precommit', 1, 0, id(V)))[0]).toMatchObject({ kind: 'rejected', code: 'STALE_HEIGHT' });
    const s = d.handle({ kind: 'start-height', height: 2 });
    expect(d.height).toBe(2);
    expect(d.signerState().lockedRound).toBe(-1);
    // the buffered proposal of height 2 is replayed: we prevote W at once
    expect(votesOf(s, 'prevote').map((v) => [v.height, v.valueId])).toEqual([[2, id(W)]]);
  });
});

// Untrusted input never counts unless it is well-formed, from a known validator, correctly
// signed for this chain, and (for proposals) from the round's proposer. Equivocation yields
// evidence and only the first message counts. Bad configuration fails loudly at construction.
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/encoding/bytes.js';
import { ConsensusDriver } from '../../src/consensus/driver.js';
import { ConsensusError } from '../../src/consensus/errors.js';
import type { Proposal, SignerState, Vote } from '../../src/consensus/types.js';
import { decisionOf, evidenceOf, feed, id, makeNet, rejectedOf, timeoutsOf, votesOf } from './consensus-support/harness.js';

const V = utf8('value V');
const W = utf8('value W');

function started(self: number | null = 0, over = {}) {
  const net = makeNet(4);
  const d = net.driver(self, over);
  d.handle({ kind: 'start-height', height: 1 });
  return { net, d };
}

describe('malformed, unauthenticated and misattributed messages are ignored', () => {
  it('rejects malformed objects with MALFORMED and never throws', () => {
    const { net, d } = started();
    const good = net.vote(1, 'prevote', 1, 0, id(V));
    const garbage: unknown[] = [
      null,
      undefined,
      42,
      'prevote',
      {},
      { ...good, type: 'vote' },
      { ...good, height: -1 },
      { ...good, height: 1.5 },
      { ...good, height: Number.MAX_SAFE_INTEGER + 2 },
      { ...good, round: Number.NaN },
      { ...good, round: 2 ** 31 },
      { ...good, round: '0' },
      { ...good, validator: 0.5 },
      { ...good, signature: new Uint8Array(63) },
      { ...good, signature: Array.from(good.signature) },
      { ...good, valueId: new Uint8Array(0) },
      { ...good, valueId: new Uint8Array(65) },
      { ...good, valueId: 'abc' },
      { ...net.proposal(1, 1, 0, V), value: 'not bytes' },
      { ...net.proposal(1, 1, 0, V), validRound: 0 }, // vr must be < round (L28)
      { ...net.proposal(1, 1, 0, V), validRound: -2 },
    ];
    for (const g of garbage) {
      const e = d.handle({ kind: 'message', message: g as Vote });
      expect(e).toHaveLength(1);
      expect(e[0]).toMatchObject({ kind: 'rejected', code: 'MALFORMED' });
    }
    expect(rejectedOf(d.handle(null as never))[0]!.code).toBe('MALFORMED');
    expect(rejectedOf(d.handle({ kind: 'nope' } as never))[0]!.code).toBe('MALFORMED');
    expect(rejectedOf(d.handle({ kind: 'timeout', height: 'x', round: 0, step: 'propose' } as never))[0]!.code).toBe('MALFORMED');
    expect(rejectedOf(d.handle({ kind: 'start-height', height: -1 }))[0]!.code).toBe('BAD_HEIGHT');
  });

  it('wrong signature, unknown validator, wrong chainId, tampered value, wrong proposer: rejected and never counted', () => {
    const { net, d } = started();
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' }); // we prevote nil
    const forged: Vote = { ...net.vote(2, 'precommit', 1, 0, id(V)), validator: 1 }; // 2's signature, claims 1
    const otherChain = net.vote(1, 'precommit', 1, 0, id(V), 'other.chain/log');
    const unknown: Vote = { ...net.vote(1, 'precommit', 1, 0, id(V)), validator: 4 };
    const tampered: Proposal = { ...net.proposal(1, 1, 0, V), value: W };
    const wrongProposer = net.proposal(2, 1, 0, V); // proposer of (1, 0) is 1
    const bitFlip = net.vote(3, 'precommit', 1, 0, id(V));
    bitFlip.signature[5]! ^= 1;
    const codes = [forged, otherChain, unknown, tampered, wrongProposer, bitFlip].map((m) => rejectedOf(feed(d, m))[0]?.code);
    expect(codes).toEqual(['BAD_SIGNATURE', 'BAD_SIGNATURE', 'UNKNOWN_VALIDATOR', 'BAD_SIGNATURE', 'WRONG_PROPOSER', 'BAD_SIGNATURE']);
    // None was counted: the valid proposal + ONE good precommit (with the rejected ones it would be q) must not decide.
    const e = feed(d, net.proposal(1, 1, 0, V), net.vote(2, 'precommit', 1, 0, id(V)));
    expect(decisionOf(e)).toBeUndefined();
    // ...and no L47 either: only 1 precommit counted
    expect(timeoutsOf(e, 'precommit')).toEqual([]);
    // The genuine messages from 1 and 3 still count afterwards: q precommits -> decide.
    const e2 = feed(d, net.vote(1, 'precommit', 1, 0, id(V)), net.vote(3, 'precommit', 1, 0, id(V)));
    expect(decisionOf(e2)?.value).toEqual(V);
  });

  it('exact duplicates produce no effects and count once', () => {
    const { net, d } = started();
    const p = net.vote(1, 'prevote', 1, 5, null);
    expect(feed(d, p)).toEqual([]);
    expect(feed(d, p, { ...p, signature: p.signature.slice() })).toEqual([]);
    expect(d.round).toBe(0); // one sender only: no L55
  });
});

describe('equivocation', () => {
  it('a second different prevote yields evidence once and counts toward its own value', () => {
    const { net, d } = started();
    feed(d, net.proposal(1, 1, 0, V)); // we prevote V
    const first = net.vote(1, 'prevote', 1, 0, id(W));
    const second = net.vote(1, 'prevote', 1, 0, id(V));
    expect(feed(d, first)).toEqual([]);
    const e = feed(d, second);
    expect(evidenceOf(e)).toEqual([{ kind: 'evidence', evidence: { height: 1, round: 0, type: 'prevote', validator: 1, first, second } }]);
    expect(evidenceOf(feed(d, net.vote(1, 'prevote', 1, 0, null)))).toEqual([]); // reported once
    // The paper counts messages from distinct senders: 1's V prevote counts for V, so 0 + 1 + 3 = q.
    const e3 = feed(d, net.vote(3, 'prevote', 1, 0, id(V)));
    expect(votesOf(e3, 'precommit').map((v) => v.valueId)).toEqual([id(V)]);
  });

  it('an equivocator counts once in "any value" totals (L34) and its extra votes are bounded', () => {
    const { net, d } = started();
    d.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' }); // we prevote nil
    // validator 1 floods prevotes for 6 different junk values: evidence once, and the "any value"
    // total counts it once (us + 1 = 2 < q: no L34)
    const junk = [1, 2, 3, 4, 5, 6].map((i) => net.vote(1, 'prevote', 1, 0, Uint8Array.of(i)));
    const e = feed(d, ...junk);
    expect(evidenceOf(e)).toHaveLength(1);
    expect(timeoutsOf(e, 'prevote')).toEqual([]);
    // beyond the cap (first + 2 extra), 1's nil prevote is not counted: nil had only 1 supporter (us)
    feed(d, net.vote(1, 'prevote', 1, 0, null));
    const e2 = feed(d, net.vote(2, 'prevote', 1, 0, null));
    expect(votesOf(e2, 'precommit')).toEqual([]); // nil: 0 and 2 only -> no L44
    expect(timeoutsOf(e2, 'prevote')).toHaveLength(1); // 3 distinct validators: L34
    const e2b = feed(d, net.vote(3, 'prevote', 1, 0, null));
    expect(votesOf(e2b, 'precommit').map((v) => v.valueId)).toEqual([null]); // 0, 2, 3 -> L44
    // ...but a conflicting vote for a value with f+1 supporters is always counted
    const e3 = feed(d, net.vote(2, 'precommit', 1, 0, id(W)), net.vote(3, 'precommit', 1, 0, id(W)));
    expect(decisionOf(e3)).toBeUndefined();
    for (const j of [7, 8]) feed(d, net.vote(1, 'precommit', 1, 0, Uint8Array.of(j)));
    const e4 = feed(d, net.proposal(1, 1, 0, W), net.vote(1, 'precommit', 1, 0, id(W)));
    expect(decisionOf(e4)?.value).toEqual(W); // 1's third precommit counted: W had 2 ≥ f+1 supporters
  });

  it('an equivocating proposer yields evidence; its second proposal can still be decided (catch-up)', () => {
    const { net, d } = started();
    const p1 = net.proposal(1, 1, 0, V);
    const p2 = net.proposal(1, 1, 0, W);
    const e1 = feed(d, p1);
    expect(votesOf(e1, 'prevote').map((v) => v.valueId)).toEqual([id(V)]);
    const e2 = feed(d, p2);
    expect(evidenceOf(e2)[0]!.evidence).toMatchObject({ type: 'proposal', validator: 1, first: p1, second: p2 });
    expect(votesOf(e2, 'prevote')).toEqual([]);
    const e3 = feed(d, ...[1, 2, 3].map((i) => net.vote(i, 'precommit', 1, 0, id(W))));
    expect(decisionOf(e3)?.value).toEqual(W);
  });

  it('a precommit equivocation with a bad signature is not evidence', () => {
    const { net, d } = started();
    feed(d, net.vote(1, 'precommit', 1, 0, id(V)));
    const bad = net.vote(1, 'precommit', 1, 0, id(W));
    bad.signature[0]! ^= 0xff;
    const e = feed(d, bad);
    expect(evidenceOf(e)).toEqual([]);
    expect(rejectedOf(e)[0]!.code).toBe('BAD_SIGNATURE');
  });
});

describe('heights, windows and buffers', () => {
  it('before the first start-height messages are NOT_STARTED', () => {
    const net = makeNet(4);
    const d = net.driver(0);
    expect(rejectedOf(feed(d, net.vote(1, 'prevote', 1, 0, null)))[0]!.code).toBe('NOT_STARTED');
  });

  it('future heights: buffered within the window (per-validator quota), rejected beyond', () => {
    const { net, d } = started(0, { futureHeightWindow: 2, maxBufferedPerHeight: 8 }); // 2 per validator
    expect(feed(d, net.vote(1, 'prevote', 2, 0, null))).toEqual([]);
    expect(feed(d, net.vote(1, 'precommit', 2, 0, null))).toEqual([]);
    expect(feed(d, net.vote(1, 'precommit', 2, 0, null))).toEqual([]); // duplicate, not a quota use
    expect(rejectedOf(feed(d, net.vote(1, 'prevote', 2, 1, null)))[0]!.code).toBe('BUFFER_FULL');
    expect(feed(d, net.vote(2, 'prevote', 2, 1, null))).toEqual([]); // other validators keep their quota
    expect(feed(d, net.vote(1, 'prevote', 3, 0, null))).toEqual([]);
    expect(rejectedOf(feed(d, net.vote(1, 'prevote', 4, 0, null)))[0]!.code).toBe('FUTURE_HEIGHT_TOO_FAR');
    const bad = net.vote(3, 'prevote', 2, 0, null);
    bad.signature[1]! ^= 1;
    expect(rejectedOf(feed(d, bad))[0]!.code).toBe('BAD_SIGNATURE'); // verified before buffering
    expect(d.bufferedCount(2)).toBe(3);
    expect(d.bufferedCount(3)).toBe(1);
  });

  it('stale heights and rounds below the kept window are rejected', () => {
    const net = makeNet(4);
    const d = net.driver(0, { maxRoundsKept: 2, maxPastRoundsKept: 2 });
    d.handle({ kind: 'start-height', height: 5 });
    expect(rejectedOf(feed(d, net.vote(1, 'prevote', 4, 0, null)))[0]!.code).toBe('STALE_HEIGHT');
    feed(d, net.vote(2, 'prevote', 5, 10, null), net.vote(3, 'prevote', 5, 10, null)); // skip to 10
    expect(d.round).toBe(10);
    expect(rejectedOf(feed(d, net.vote(1, 'prevote', 5, 7, null)))[0]!.code).toBe('ROUND_OUT_OF_WINDOW');
    expect(feed(d, net.vote(1, 'prevote', 5, 8, null))).toEqual([]);
    expect(rejectedOf(d.handle({ kind: 'start-height', height: 5 }))[0]!.code).toBe('BAD_HEIGHT');
    expect(rejectedOf(d.handle({ kind: 'start-height', height: 3 }))[0]!.code).toBe('BAD_HEIGHT');
    d.handle({ kind: 'start-height', height: 9 }); // catch-up: a higher height may be started at any time
    expect(d.height).toBe(9);
    expect(d.round).toBe(0);
  });
});

describe('callbacks and configuration', () => {
  it('a throwing getValue is reported and the proposer falls back to the propose timeout', () => {
    const net = makeNet(4);
    const d = net.driver(1, {
      getValue: () => {
        throw new Error('mempool offline');
      },
    });
    const e = d.handle({ kind: 'start-height', height: 1 });
    expect(rejectedOf(e)[0]!.code).toBe('GET_VALUE_FAILED');
    expect(timeoutsOf(e, 'propose')).toHaveLength(1);
    expect(votesOf(d.handle({ kind: 'timeout', height: 1, round: 0, step: 'propose' }), 'prevote')[0]!.valueId).toBeNull();
  });

  it('a throwing isValid means invalid: prevote nil', () => {
    const { net, d } = started(0, {
      isValid: () => {
        throw new Error('ledger bug');
      },
    });
    expect(votesOf(feed(d, net.proposal(1, 1, 0, V)), 'prevote')[0]!.valueId).toBeNull();
  });

  it('bad configuration and bad SignerState throw ConsensusError with a code', () => {
    const net = makeNet(4);
    const cases: [() => unknown, string][] = [
      [() => new ConsensusDriver(net.cfg(0, { validators: [] })), 'BAD_CONFIG'],
      [() => new ConsensusDriver(net.cfg(0, { chainId: '' })), 'BAD_CONFIG'],
      [() => new ConsensusDriver(net.cfg(4)), 'BAD_CONFIG'],
      [() => new ConsensusDriver(net.cfg(0, { signer: net.signers[1]! })), 'BAD_CONFIG'],
      [() => new ConsensusDriver(net.cfg(0, { timeouts: { proposeMs: -1, prevoteMs: 1, precommitMs: 1, deltaMs: 1 } })), 'BAD_CONFIG'],
      [() => new ConsensusDriver(net.cfg(0, { maxRoundsKept: 0 })), 'BAD_CONFIG'],
      [() => new ConsensusDriver(net.cfg(0, { maxPastRoundsKept: 0 })), 'BAD_CONFIG'],
      [() => new ConsensusDriver(net.cfg(0), { version: 2 } as unknown as SignerState), 'BAD_SIGNER_STATE'],
      [
        () =>
          new ConsensusDriver(net.cfg(0), {
            version: 1, height: 1, round: 0, step: 'prevote', lockedValue: V, lockedRound: -1, validValue: null, validRound: -1, lastSigned: null,
          }),
        'BAD_SIGNER_STATE',
      ],
    ];
    for (const [make, code] of cases) {
      let err: unknown;
      try {
        make();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConsensusError);
      expect((err as ConsensusError).code).toBe(code);
    }
  });
});

describe('bug-injection switches (simulator only) really change behaviour', () => {
  it('quorumTwoFPlusOne: with n = 5 three precommits decide (q would be 4)', () => {
    for (const bug of [false, true]) {
      const net = makeNet(5);
      const d = net.driver(0, { bugs: { quorumTwoFPlusOne: bug } });
      d.handle({ kind: 'start-height', height: 1 });
      const e = feed(d, net.proposal(1, 1, 0, V), ...[1, 2, 3].map((i) => net.vote(i, 'precommit', 1, 0, id(V))));
      expect(decisionOf(e) !== undefined).toBe(bug);
    }
  });

  it('noLocking: prevotes a fresh value despite a lock', () => {
    for (const bug of [false, true]) {
      const net = makeNet(4);
      const d = net.driver(0, { bugs: { noLocking: bug } });
      d.handle({ kind: 'start-height', height: 1 });
      feed(d, net.proposal(1, 1, 0, V), net.vote(1, 'prevote', 1, 0, id(V)), net.vote(2, 'prevote', 1, 0, id(V)));
      feed(d, net.vote(1, 'precommit', 1, 0, null), net.vote(2, 'precommit', 1, 0, null));
      d.handle({ kind: 'timeout', height: 1, round: 0, step: 'precommit' });
      const e = feed(d, net.proposal(2, 1, 1, W));
      expect(votesOf(e, 'prevote')[0]!.valueId).toEqual(bug ? id(W) : null);
    }
  });
});

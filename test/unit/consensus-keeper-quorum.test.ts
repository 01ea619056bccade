// Quorum arithmetic and the vote keeper's counting, dedup, equivocation and memory bounds.
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/encoding/bytes.js';
import { proposer, quorum, quorumTwoFPlusOne, skipThreshold } from '../../src/consensus/quorum.js';
import { VoteKeeper, idKey } from '../../src/consensus/vote-keeper.js';
import { id, makeNet } from './consensus-support/harness.js';

describe('quorum, skip threshold and proposer', () => {
  it('q = floor(2n/3)+1 and skip = n - q + 1 (table)', () => {
    const table = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => [n, quorum(n), skipThreshold(n)]);
    expect(table).toEqual([
      [1, 1, 1],
      [2, 2, 1],
      [3, 3, 1],
      [4, 3, 2],
      [5, 4, 2],
      [6, 5, 2],
      [7, 5, 3],
      [8, 6, 3],
      [9, 7, 3],
      [10, 7, 4],
    ]);
  });

  it('any two quorums share at least skip = f+1 validators (one correct), for n up to 1024', () => {
    for (let n = 1; n <= 1024; n++) {
      const q = quorum(n);
      const f = n - q; // largest number of faults tolerated
      expect(3 * f < n).toBe(true);
      expect(2 * q - n).toBeGreaterThanOrEqual(f + 1);
      expect(skipThreshold(n)).toBe(f + 1);
    }
  });

  it('2f+1 differs from q when n != 3f+1 (why the bug switch exists)', () => {
    expect(quorumTwoFPlusOne(4)).toBe(quorum(4));
    expect(quorumTwoFPlusOne(5)).toBe(3);
    expect(quorum(5)).toBe(4);
    expect(quorumTwoFPlusOne(6)).toBe(3);
    expect(quorum(6)).toBe(5);
  });

  it('proposer rotates round-robin by (height + round) mod n', () => {
    expect([0, 1, 2, 3, 4].map((r) => proposer(1, r, 4))).toEqual([1, 2, 3, 0, 1]);
    expect(proposer(10, 0, 4)).toBe(2);
  });
});

describe('VoteKeeper', () => {
  const net = makeNet(4);
  const V = utf8('V');

  it('counts distinct signers per value; totals count each validator once; duplicates ignored', () => {
    const k = new VoteKeeper(1, 4, 8);
    expect(k.add(net.vote(1, 'prevote', 1, 0, id(V)))).toEqual({ status: 'added' });
    expect(k.add(net.vote(1, 'prevote', 1, 0, id(V)))).toEqual({ status: 'duplicate' });
    const eq = k.add(net.vote(1, 'prevote', 1, 0, null));
    expect(eq).toMatchObject({ status: 'equivocation', counted: true });
    expect(eq.status === 'equivocation' && eq.evidence?.validator).toBe(1);
    expect(k.add(net.vote(1, 'prevote', 1, 0, Uint8Array.of(9)))).toEqual({ status: 'equivocation', evidence: null, counted: true });
    expect(k.add(net.vote(1, 'prevote', 1, 0, Uint8Array.of(8)))).toEqual({ status: 'equivocation', evidence: null, counted: false }); // cap
    k.add(net.vote(2, 'prevote', 1, 0, null));
    k.add(net.vote(2, 'precommit', 1, 0, id(V)));
    expect(k.count(0, 'prevote', idKey(id(V)))).toBe(1);
    expect(k.count(0, 'prevote', 'nil')).toBe(2);
    expect(k.count(0, 'prevote', idKey(Uint8Array.of(8)))).toBe(0);
    expect(k.total(0, 'prevote')).toBe(2);
    expect(k.total(0, 'precommit')).toBe(1);
    expect(k.count(1, 'prevote', 'nil')).toBe(0);
    expect(k.precommitsFor(0, id(V)).map((v) => v.validator)).toEqual([2]);
    expect(k.isExactDuplicate(net.vote(1, 'prevote', 1, 0, null))).toBe(true);
  });

  it('keeps K future and P past rounds in full (nil-only rounds are not pinned), per-validator highest rounds above', () => {
    const K = 3;
    const P = 2;
    const k = new VoteKeeper(1, 4, K, 2, P);
    for (let r = 0; r < 50; r++) {
      k.setCurrentRound(r);
      for (let v = 0; v < 4; v++) k.add(net.vote(v, 'prevote', 1, r + K, null));
      expect(k.roundsStored()).toBeLessThanOrEqual(P + 1 + K);
    }
    expect(k.add(net.vote(0, 'precommit', 1, 49 + K + 1, null))).toEqual({ status: 'far-future' });
    expect(k.add(net.vote(0, 'precommit', 1, 49 - P - 1, null))).toEqual({ status: 'out-of-window' });
    expect(k.storedRounds()).toEqual([47, 48, 49, 50, 51, 52]);
  });

  it('skipRound: distinct senders of one higher round (L55), or the skip-th highest far round', () => {
    const k = new VoteKeeper(1, 4, 4);
    k.add(net.vote(1, 'prevote', 1, 2, null));
    k.add(net.vote(1, 'precommit', 1, 2, null));
    expect(k.skipRound(2)).toBeNull();
    k.add(net.vote(2, 'precommit', 1, 2, null));
    expect(k.skipRound(2)).toBe(2);
    k.add(net.vote(3, 'prevote', 1, 90, null));
    expect(k.skipRound(2)).toBe(2);
    k.add(net.vote(1, 'prevote', 1, 70, null));
    expect(k.skipRound(2)).toBe(70);
  });
});

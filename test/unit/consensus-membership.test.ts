// The driver across validator-set changes (cfg.validatorSetAt): each height's set gives n, the
// quorum, proposer(h, r) and our index and signer; a message counts only against the set of its
// own height; a future-height message checked against a set that was not final yet is checked
// again when its height starts. Real Ed25519 keys (node:crypto).
import { describe, expect, it } from 'vitest';
import { nodeSigner, nodeVerifier } from '../../src/crypto/node.js';
import { sha256 } from '../../src/crypto/hash.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { ConsensusDriver, proposer, proposalSignBytes, verifyCommitCertificate, voteSignBytes, type ConsensusConfig, type HeightValidators, type Proposal, type Validator, type Vote } from '../../src/consensus/index.js';
import { CHAIN, TIMEOUTS, decisionOf, feed, proposalsOf, rejectedOf } from './consensus-support/harness.js';

/** Six keys; validators are picked from them per set. */
const keys = Array.from({ length: 6 }, (_, i) => nodeSigner(new Uint8Array(32).fill(0x40 + i)));
const val = (k: number): Validator => ({ name: `org${k}`, publicKey: keys[k]!.publicKey });

/** A schedule: the set (as key numbers) in force from each height on. */
type Schedule = { from: number; keys: number[] }[];

function setAt(schedule: Schedule, self: number | null, h: number, knownThrough = Infinity): HeightValidators {
  let cur = schedule[0]!;
  for (const s of schedule) if (s.from <= h) cur = s;
  const i = self === null ? -1 : cur.keys.indexOf(self);
  return { validators: cur.keys.map(val), selfIndex: i < 0 ? null : i, signer: i < 0 ? null : keys[self!]!, known: h <= knownThrough };
}

function driver(schedule: Schedule, self: number | null, over: Partial<ConsensusConfig> = {}): ConsensusDriver {
  return new ConsensusDriver({
    chainId: CHAIN,
    validators: schedule[0]!.keys.map(val),
    selfIndex: self === null ? null : schedule[0]!.keys.indexOf(self),
    signer: self === null ? null : keys[self]!,
    verifier: nodeVerifier,
    getValue: (h, r) => utf8(`block h=${h} r=${r}`),
    isValid: () => true,
    timeouts: TIMEOUTS,
    validatorSetAt: (h) => setAt(schedule, self, h),
    ...over,
  });
}

/** A message signed by key `k`, naming validator index `index`. */
function proposal(k: number, index: number, h: number, r: number, value: Uint8Array): Proposal {
  return { type: 'proposal', height: h, round: r, value, validRound: -1, validator: index, signature: keys[k]!.sign(proposalSignBytes(CHAIN, h, r, sha256(value), -1)) };
}
function vote(k: number, index: number, type: 'prevote' | 'precommit', h: number, r: number, valueId: Uint8Array | null): Vote {
  return { type, height: h, round: r, valueId, validator: index, signature: keys[k]!.sign(voteSignBytes(CHAIN, type, h, r, valueId)) };
}

describe('consensus across validator-set changes', () => {
  it("a removed validator's vote is not counted at a height after its removal (quorum of the smaller set)", () => {
    // Keys 0..3 until height 12; key 3 removed from height 13 (n = 3, q = 3). At height 13,
    // proposer(13, 0) is index 1 in both sets, so only the counting differs.
    const schedule: Schedule = [{ from: 0, keys: [0, 1, 2, 3] }, { from: 13, keys: [0, 1, 2] }];
    expect(proposer(13, 0, 3)).toBe(proposer(13, 0, 4));
    const d = driver(schedule, null);
    d.handle({ kind: 'start-height', height: 13 });
    const v = utf8('block 13');
    const id = sha256(v);
    const out = feed(d, proposal(1, 1, 13, 0, v), vote(0, 0, 'precommit', 13, 0, id), vote(2, 2, 'precommit', 13, 0, id), vote(3, 3, 'precommit', 13, 0, id));
    expect(rejectedOf(out).map((e) => e.code)).toContain('UNKNOWN_VALIDATOR');
    expect(decisionOf(out)).toBeUndefined();
    const done = feed(d, vote(1, 1, 'precommit', 13, 0, id));
    const dec = decisionOf(done);
    expect(dec?.height).toBe(13);
    expect(dec!.certificate.signatures.map((s) => s.validator)).toEqual([0, 1, 2]);
    // The certificate verifies against the set of height 13, not against the genesis set's quorum.
    expect(verifyCommitCertificate(dec!.certificate, schedule[1]!.keys.map(val), CHAIN, nodeVerifier).ok).toBe(true);
  });

  it("a removal that shifts indexes: the old index now names another key, the removed key's signature fails", () => {
    const schedule: Schedule = [{ from: 0, keys: [0, 1, 2, 3] }, { from: 5, keys: [0, 2, 3] }];
    const d = driver(schedule, null);
    d.handle({ kind: 'start-height', height: 6 });
    const out = feed(d, vote(1, 1, 'prevote', 6, 0, null));
    expect(rejectedOf(out).map((e) => e.code)).toEqual(['BAD_SIGNATURE']);
  });

  it("a new validator's vote counts from its effective height (quorum 4 of 5)", () => {
    // Key 4 joins at height 10. At height 21 proposer(21, 0) is index 1 for n = 4 and n = 5.
    const schedule: Schedule = [{ from: 0, keys: [0, 1, 2, 3] }, { from: 10, keys: [0, 1, 2, 3, 4] }];
    expect(proposer(21, 0, 5)).toBe(proposer(21, 0, 4));
    const before = driver(schedule, null);
    before.handle({ kind: 'start-height', height: 9 });
    expect(rejectedOf(feed(before, vote(4, 4, 'prevote', 9, 0, null))).map((e) => e.code)).toEqual(['UNKNOWN_VALIDATOR']);

    const d = driver(schedule, null);
    d.handle({ kind: 'start-height', height: 21 });
    const v = utf8('block 21');
    const id = sha256(v);
    const three = feed(d, proposal(1, 1, 21, 0, v), vote(0, 0, 'precommit', 21, 0, id), vote(2, 2, 'precommit', 21, 0, id), vote(3, 3, 'precommit', 21, 0, id));
    expect(decisionOf(three)).toBeUndefined(); // 3 of 5 is not a quorum
    const dec = decisionOf(feed(d, vote(4, 4, 'precommit', 21, 0, id)));
    expect(dec?.certificate.signatures.map((s) => s.validator)).toEqual([0, 2, 3, 4]);
  });

  it('proposer rotation follows the set of each height', () => {
    // Key 3 removed from height 5: proposer(5, 0) is index 2 of 3 (it was index 1 of 4).
    const schedule: Schedule = [{ from: 0, keys: [0, 1, 2, 3] }, { from: 5, keys: [0, 1, 2] }];
    const me = driver(schedule, 2);
    const proposed = proposalsOf(me.handle({ kind: 'start-height', height: 5 }));
    expect(proposed).toHaveLength(1);
    expect(proposed[0]!.validator).toBe(2);
    const other = driver(schedule, 1);
    expect(proposalsOf(other.handle({ kind: 'start-height', height: 5 }))).toHaveLength(0);
    // A proposal from the genesis set's proposer of (5, 0) is now from the wrong proposer.
    expect(rejectedOf(feed(other, proposal(1, 1, 5, 0, utf8('x')))).map((e) => e.code)).toEqual(['WRONG_PROPOSER']);
    // Before the change, the genesis rotation holds.
    const early = driver(schedule, 1);
    expect(proposalsOf(early.handle({ kind: 'start-height', height: 4 }))).toHaveLength(0);
    expect(proposalsOf(driver(schedule, 0).handle({ kind: 'start-height', height: 4 }))).toHaveLength(1);
  });

  it("a rotated key signs from the effective height; the old key's votes stop counting there", () => {
    // Organization at index 1 rotates from key 1 to key 5 at height 8.
    const schedule: Schedule = [{ from: 0, keys: [0, 1, 2, 3] }, { from: 8, keys: [0, 5, 2, 3] }];
    const d = driver(schedule, null);
    d.handle({ kind: 'start-height', height: 8 });
    expect(rejectedOf(feed(d, vote(1, 1, 'prevote', 8, 0, null))).map((e) => e.code)).toEqual(['BAD_SIGNATURE']);
    expect(rejectedOf(feed(d, vote(5, 1, 'prevote', 8, 0, null)))).toEqual([]);
    // A peer holding both keys signs height 7 with the old key and height 8 with the new one.
    const both = new ConsensusDriver({
      chainId: CHAIN,
      validators: schedule[0]!.keys.map(val),
      selfIndex: 1,
      signer: keys[1]!,
      verifier: nodeVerifier,
      getValue: (h) => utf8(`b${h}`),
      isValid: () => true,
      timeouts: TIMEOUTS,
      validatorSetAt: (h) => {
        const s = setAt(schedule, h >= 8 ? 5 : 1, h);
        return s;
      },
    });
    // proposer(7, 0, 4) = 3 and proposer(9, 0, 4) = 1: at 9 we propose, with the new key.
    const p9 = proposalsOf(both.handle({ kind: 'start-height', height: 9 }));
    expect(p9).toHaveLength(1);
    expect(nodeVerifier.verify(keys[5]!.publicKey, proposalSignBytes(CHAIN, 9, 0, sha256(p9[0]!.value), -1), p9[0]!.signature)).toBe(true);
  });

  it('future-height messages checked against a set not final yet are checked again at their height', () => {
    // At height 3 the set of 5 is not final (knownThrough 4): the driver believes the genesis set.
    // Key 3 is in fact replaced by key 4 at height 5.
    const believed: Schedule = [{ from: 0, keys: [0, 1, 2, 3] }];
    const actual: Schedule = [{ from: 0, keys: [0, 1, 2, 3] }, { from: 5, keys: [0, 1, 2, 4] }];
    let schedule = believed;
    let knownThrough = 4;
    const d = driver(believed, null, { validatorSetAt: (h) => setAt(schedule, null, h, knownThrough) });
    d.handle({ kind: 'start-height', height: 3 });
    // A vote of the new key 4 fails against the believed set: not the sender's fault.
    expect(rejectedOf(feed(d, vote(4, 3, 'prevote', 5, 0, null))).map((e) => e.code)).toEqual(['SET_NOT_KNOWN']);
    // A vote of key 3 passes against the believed set and is buffered...
    expect(rejectedOf(feed(d, vote(3, 3, 'prevote', 5, 0, null)))).toEqual([]);
    expect(d.bufferedCount(5)).toBe(1);
    // ...then blocks 3 and 4 decide the change: at height 5 the buffered vote fails the real set.
    schedule = actual;
    knownThrough = 6;
    d.handle({ kind: 'start-height', height: 4 });
    const start5 = d.handle({ kind: 'start-height', height: 5 });
    expect(rejectedOf(start5).map((e) => e.code)).toEqual(['SET_NOT_KNOWN']);
  });

  it('without validatorSetAt, every height uses the one configured set (unchanged behaviour)', () => {
    const d = new ConsensusDriver({
      chainId: CHAIN,
      validators: [0, 1, 2, 3].map(val),
      selfIndex: 0,
      signer: keys[0]!,
      verifier: nodeVerifier,
      getValue: (h) => utf8(`b${h}`),
      isValid: () => true,
      timeouts: TIMEOUTS,
    });
    expect(proposalsOf(d.handle({ kind: 'start-height', height: 4 }))).toHaveLength(1);
    expect(d.validatorCount).toBe(4);
  });
});

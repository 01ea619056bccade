// The consensus runner's bounded bookkeeping (node/peer/runner/*): which versions of a message
// slot are admitted, per-validator WAL shares, held future proposals, compact evidence.
import { describe, expect, it } from 'vitest';
import type { ConsensusMessage, Proposal, Vote } from '../../src/consensus/index.js';
import { decodeEvidence } from '../../node/peer/codec.js';
import { HeightAdmission } from '../../node/peer/runner/admission.js';
import { EVIDENCE_PER_VALIDATOR_HEIGHT_MAX, EvidenceBudget, encodeCompactEvidence } from '../../node/peer/runner/evidence.js';
import { HeldProposals } from '../../node/peer/runner/held.js';
import { fastSha256 } from '../../node/peer/consensus-runner.js';

const vote = (validator: number, round: number, id: string | null, type: 'prevote' | 'precommit' = 'prevote'): Vote => ({
  type,
  height: 5,
  round,
  valueId: id === null ? null : new TextEncoder().encode(id.padEnd(32, '.')),
  validator,
  signature: new Uint8Array(64),
});
const idOf = (m: ConsensusMessage) => (m.type === 'proposal' ? 'p' : m.valueId === null ? 'nil' : new TextDecoder().decode(m.valueId));
const proposal = (validator: number, height: number, round: number, size = 10): Proposal => ({
  type: 'proposal',
  height,
  round,
  value: new Uint8Array(size).fill(round),
  validRound: -1,
  validator,
  signature: new Uint8Array(64),
});

describe('HeightAdmission', () => {
  it('admits the first version and two conflicting ones per slot; more only when f+1 validators voted that value', () => {
    const a = new HeightAdmission(4, { recordsPerValidator: 100, bytesPerValidator: 1e6 });
    a.reset(5);
    const handle = (m: Vote) => {
      const c = a.classify(m, idOf(m));
      if (c === 'new' || c === 'conflict') a.commit(m, idOf(m), 100);
      return c;
    };
    expect(handle(vote(3, 0, 'junk1'))).toBe('new');
    expect(handle(vote(3, 0, 'junk1'))).toBe('duplicate');
    expect(handle(vote(3, 0, 'junk2'))).toBe('conflict');
    expect(handle(vote(3, 0, 'junk3'))).toBe('conflict');
    expect(handle(vote(3, 0, 'junk4'))).toBe('excess');
    // The same slot type in another round, and the other vote type, are other slots.
    expect(handle(vote(3, 1, 'junk4'))).toBe('new');
    expect(handle(vote(3, 0, 'junk4', 'precommit'))).toBe('new');
    // Validator 3's vote for X matters once f+1 = 2 validators voted X in round 0 (a correct one did).
    expect(handle(vote(0, 0, 'X'))).toBe('new');
    expect(a.classify(vote(3, 0, 'X'), 'X')).toBe('excess');
    expect(handle(vote(1, 0, 'X'))).toBe('new');
    expect(handle(vote(3, 0, 'X'))).toBe('conflict');
    expect(a.usage()).toEqual({ records: 8, bytes: 800 });
    // A new height forgets everything.
    a.reset(6);
    expect(a.usage()).toEqual({ records: 0, bytes: 0 });
    expect(a.classify(vote(3, 0, 'junk1'), 'junk1')).toBe('new');
  });

  it('gives each validator its own WAL share (records and bytes)', () => {
    const a = new HeightAdmission(4, { recordsPerValidator: 3, bytesPerValidator: 250 });
    a.reset(1);
    for (let r = 0; r < 2; r++) a.commit(vote(3, r, 'v'), 'v', 100);
    expect(a.fits(3, 100)).toBe(false); // 300 bytes > 250
    expect(a.fits(3, 50)).toBe(true);
    a.commit(vote(3, 2, 'v'), 'v', 50);
    expect(a.fits(3, 1)).toBe(false); // 4 records > 3
    expect(a.fits(0, 100)).toBe(true); // another validator is unaffected
  });
});

describe('HeldProposals', () => {
  it('holds at most a few proposals per (height, validator), one per round, bounded in bytes', () => {
    const h = new HeldProposals(2, 1_000);
    expect(h.hold(proposal(2, 7, 0))).toBe(true);
    expect(h.hold(proposal(2, 7, 0))).toBe(false); // same round
    expect(h.hold(proposal(2, 7, 4))).toBe(true);
    expect(h.hold(proposal(2, 7, 8))).toBe(false); // validator 2 has 2 already
    expect(h.hold(proposal(3, 7, 1))).toBe(true); // another validator still has room
    expect(h.hold(proposal(0, 8, 3, 995))).toBe(false); // would pass 1,000 bytes held
    expect(h.heldBytes).toBe(30);
    expect(h.take(7).map((p) => [p.validator, p.round])).toEqual([
      [2, 0],
      [3, 1],
      [2, 4],
    ]);
    expect(h.heldBytes).toBe(0);
  });
});

describe('evidence', () => {
  it('stores a proposal equivocation with value ids instead of the blocks', () => {
    const a = { ...proposal(1, 5, 0, 1_000_000) };
    const b = { ...proposal(1, 5, 0, 1_000_000), value: new Uint8Array(1_000_000).fill(9) };
    const bytes = encodeCompactEvidence({ height: 5, round: 0, type: 'proposal', validator: 1, first: a, second: b }, fastSha256);
    expect(bytes.length).toBeLessThan(600);
    const d = decodeEvidence(bytes);
    expect(d.ok).toBe(true);
    if (d.ok && d.first.type === 'proposal' && d.second.type === 'proposal') {
      expect(d.first.value).toEqual(fastSha256(a.value));
      expect(d.second.value).toEqual(fastSha256(b.value));
    }
  });

  it('caps stored evidence per validator and height', () => {
    const e = new EvidenceBudget(4);
    for (let i = 0; i < EVIDENCE_PER_VALIDATOR_HEIGHT_MAX; i++) expect(e.take(5, 3)).toBe(true);
    expect(e.take(5, 3)).toBe(false);
    expect(e.take(5, 2)).toBe(true);
    expect(e.take(6, 3)).toBe(true);
  });
});

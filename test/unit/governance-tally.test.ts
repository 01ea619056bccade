import { describe, expect, it } from 'vitest';
import { genesisGovState, signGov, tallyBallots, withSigs } from '../../src/governance/index.js';
import { add, genesisOf, org, OPTS, parsed, remove } from './support/governance-fixture.js';

const [a, b, c, d] = ['org1', 'org2', 'org3', 'org4'].map((n) => org(n)) as [ReturnType<typeof org>, ReturnType<typeof org>, ReturnType<typeof org>, ReturnType<typeof org>];
const s0 = genesisGovState(genesisOf([a, b, c, d]));

describe('tallyBallots (what `cairn gov vote` / `list` show)', () => {
  it('counts valid ballots of members, lists the missing ones and the verdict', () => {
    const one = remove('org4', [a], 20);
    const t1 = tallyBallots(s0, parsed(one), 5, OPTS.verifier);
    expect(t1).toMatchObject({ approved: ['org1'], missing: ['org2', 'org3', 'org4'], needed: 3, verdict: 'gov_quorum_not_met', ignored: [] });
    const full = withSigs(one, [...one.sigs, signGov(one, b.gov), signGov(one, c.gov)]);
    expect(tallyBallots(s0, parsed(full), 5, OPTS.verifier)).toMatchObject({ approved: ['org1', 'org2', 'org3'], missing: ['org4'], verdict: null });
  });

  it('names the ballots that do not count and why', () => {
    const rec = remove('org4', [a, b, c], 20);
    const other = remove('org3', [d], 20);
    const outsider = org('org9');
    const bad = { ...rec.sigs[2]!, sig: rec.sigs[1]!.sig };
    const mixed = withSigs(rec, [rec.sigs[0]!, rec.sigs[0]!, rec.sigs[1]!, bad, other.sigs[0]!, signGov(rec, outsider.gov)]);
    const t = tallyBallots(s0, parsed(mixed), 5, OPTS.verifier);
    expect(t.approved).toEqual(['org1', 'org2']);
    expect(t.ignored.map((i) => [i.index, i.reason])).toEqual([
      [1, 'gov_ballot_duplicate'],
      [3, 'gov_sig_invalid'],
      [4, 'gov_ballot_wrong_proposal'],
      [5, 'gov_sig_not_member'],
    ]);
    expect(t.verdict).toBe('gov_ballot_wrong_proposal'); // the record as a whole: proposal ids are checked first
  });

  it('reports the consent of an added organization separately', () => {
    const e = org('org5');
    const t = tallyBallots(s0, parsed(add(e, [a, b, c], 20)), 5, OPTS.verifier);
    expect(t).toMatchObject({ approved: ['org1', 'org2', 'org3'], consent: true, verdict: null });
  });
});

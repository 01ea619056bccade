import { describe, expect, it } from 'vitest';
import { verifierKey } from '../../src/checkpoint/keys.js';
import { nobleVerifier } from '../../src/crypto/noble.js';
import {
  applyGovernance,
  clientAuthorizedAt,
  genesisGovState,
  govStateHash,
  membershipAt,
  paramsAt,
  signGov,
  validatorsAt,
  withSigs,
  type GovRecord,
  type GovState,
} from '../../src/governance/index.js';
import { add, clientKey, genesisOf, grant, org, OPTS, paramsSet, parsed, remove, revoke, rotate } from './support/governance-fixture.js';

const [a, b, c, d] = ['org1', 'org2', 'org3', 'org4'].map((n) => org(n)) as [ReturnType<typeof org>, ReturnType<typeof org>, ReturnType<typeof org>, ReturnType<typeof org>];
const e = org('org5');
const genesis = genesisOf([a, b, c, d]);
const s0 = genesisGovState(genesis);

function apply(state: GovState, record: GovRecord, h: number) {
  return applyGovernance(state, parsed(record), h, OPTS);
}
function ok(state: GovState, record: GovRecord, h: number): GovState {
  const r = apply(state, record, h);
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.state;
}
/** Every verdict is checked with both Ed25519 implementations: all peers must agree. */
function rejects(state: GovState, record: GovRecord, h: number, code: string): void {
  const before = govStateHash(state);
  const viaNode = apply(state, record, h);
  const viaNoble = applyGovernance(state, parsed(record), h, { verifier: nobleVerifier });
  expect(viaNode).toMatchObject({ ok: false, code });
  expect(viaNoble).toMatchObject({ ok: false, code });
  expect(govStateHash(state), 'a rejection changes nothing').toBe(before);
}

describe('ballot-decided changes (org.add, org.remove, params.set)', () => {
  it('accepts a quorum (3 of 4) plus the consent of the added organization; effective at H+2', () => {
    const r = apply(s0, add(e, [a, b, c], 20), 10);
    if (!r.ok) throw new Error(r.message);
    expect(r.effect).toMatchObject({ type: 'org.add', effectiveHeight: 12 });
    expect(validatorsAt(r.state, 11).orgs.map((o) => o.name)).toEqual(['org1', 'org2', 'org3', 'org4']);
    expect(validatorsAt(r.state, 12).orgs.map((o) => o.name)).toEqual(['org1', 'org2', 'org3', 'org4', 'org5']);
    expect(validatorsAt(r.state, 12).quorum).toBe(4);
  });

  it('too few ballots: 2 of 4 is rejected (gov_quorum_not_met)', () => {
    rejects(s0, add(e, [a, b], 20), 10, 'gov_quorum_not_met');
    rejects(s0, remove('org4', [a, b], 20), 10, 'gov_quorum_not_met');
    rejects(s0, paramsSet({ maxBlockEntries: 10 }, [c, d], 20), 10, 'gov_quorum_not_met');
  });

  it('a forged signature is rejected (gov_sig_invalid), also beyond the quorum', () => {
    const good = remove('org4', [a, b, c, d], 20);
    const forged = structuredClone(good);
    forged.sigs[3]!.sig = forged.sigs[3]!.sig.slice(0, 10) + (forged.sigs[3]!.sig[10] === '0' ? '1' : '0') + forged.sigs[3]!.sig.slice(11);
    rejects(s0, forged, 10, 'gov_sig_invalid');
    // A signature by the right key over a different statement.
    const other = remove('org3', [a, b, c], 20);
    const mixed = structuredClone(good);
    mixed.sigs[0]!.sig = other.sigs[0]!.sig;
    rejects(s0, mixed, 10, 'gov_sig_invalid');
  });

  it('an expired deadline is rejected (gov_deadline_passed); a too-distant one too', () => {
    rejects(s0, add(e, [a, b, c], 9), 10, 'gov_deadline_passed');
    rejects(s0, add(e, [a, b, c], 10 + 100_001), 10, 'gov_deadline_too_far');
    expect(apply(s0, add(e, [a, b, c], 10), 10).ok).toBe(true); // the deadline height itself is in time
  });

  it('a replayed ballot is rejected: the same ballot twice, or a ballot for another proposal', () => {
    const rec = remove('org4', [a, b], 20);
    const twice = withSigs(rec, [...rec.sigs, rec.sigs[0]!]);
    rejects(s0, twice, 10, 'gov_ballot_duplicate');
    const otherProposal = remove('org3', [c], 20);
    const foreign = withSigs(rec, [...rec.sigs, otherProposal.sigs[0]!]);
    rejects(s0, foreign, 10, 'gov_ballot_wrong_proposal');
    // The same ballot made to look like it is for this proposal fails its signature instead.
    rejects(s0, withSigs(rec, [...rec.sigs, { ...otherProposal.sigs[0]!, proposal: rec.sigs[0]!.proposal }]), 10, 'gov_sig_invalid');
  });

  it('a replayed record is rejected until its deadline passes (then it is refused as expired)', () => {
    const rec = paramsSet({ maxBlockEntries: 500 }, [a, b, c], 30);
    const s1 = ok(s0, rec, 10);
    rejects(s1, rec, 10, 'gov_replay');
    rejects(s1, rec, 25, 'gov_replay');
    rejects(s1, rec, 31, 'gov_deadline_passed');
  });

  it('ballots from non-members and with a non-current key are rejected', () => {
    const outsider = org('org9');
    rejects(s0, remove('org4', [a, b, outsider], 20), 10, 'gov_sig_not_member');
    const rec = remove('org4', [a, b, c], 20);
    const impostor = { name: 'org3', signer: org('org3', 7).signer };
    rejects(s0, withSigs(rec, [rec.sigs[0]!, rec.sigs[1]!, signGov(rec, impostor)]), 10, 'gov_sig_key_mismatch');
  });

  it('org.add without the consent of the added key is rejected', () => {
    const rec = add(e, [a, b, c], 20);
    rejects(s0, withSigs(rec, rec.sigs.slice(0, 3)), 10, 'gov_consent_missing');
  });

  it('one change at a time; existing names, keys and peer ids are refused', () => {
    const s1 = ok(s0, add(e, [a, b, c], 20), 10);
    rejects(s1, remove('org4', [a, b, c], 20), 11, 'gov_change_pending');
    rejects(s1, remove('org4', [a, b, c, e], 20, 1), 12, 'gov_epoch_mismatch'); // epoch 1 is taken by the add
    const s2 = ok(s1, remove('org4', [a, b, c, e], 20, 2), 12); // org5 votes from 12 on: 4 of 5
    expect(validatorsAt(s2, 14).orgs.map((o) => o.name)).toEqual(['org1', 'org2', 'org3', 'org5']);
    rejects(s0, add(org('org1', 3), [a, b, c], 20), 10, 'gov_org_exists');
    rejects(s0, add({ ...org('org6'), key: org('org6').key, peerId: a.peerId }, [a, b, c], 20), 10, 'gov_peer_id_in_use');
    rejects(s0, remove('org7', [a, b, c], 20), 10, 'gov_org_unknown');
  });

  it('params.set: merged params must stay consistent; paramsAt follows the effective height', () => {
    rejects(s0, paramsSet({ mempoolMaxEntries: 100 }, [a, b, c], 20), 10, 'gov_params_invalid');
    const s1 = ok(s0, paramsSet({ maxBlockEntries: 500, timeouts: { proposeMs: 5_000 } }, [a, b, c], 20), 10);
    expect(paramsAt(s1, 11).maxBlockEntries).toBe(2_000);
    expect(paramsAt(s1, 12)).toMatchObject({ maxBlockEntries: 500, timeouts: { proposeMs: 5_000, prevoteMs: 1_000 } });
  });

  it('heights never go back', () => {
    const s1 = ok(s0, paramsSet({ maxBlockEntries: 500 }, [a, b, c], 30), 10);
    rejects(s1, remove('org4', [a, b, c], 30), 9, 'gov_height_regress');
  });
});

describe('client.grant / client.revoke', () => {
  const k = clientKey('app1');
  const app = { name: 'app1', hex: k.hex };

  it('grant is effective from the next block; revoke too; old heights keep their answer', () => {
    const s1 = ok(s0, grant(b, app, 10), 5);
    expect(clientAuthorizedAt(s1, k.hex, 5)).toBe(false);
    expect(clientAuthorizedAt(s1, k.hex, 6)).toBe(true);
    const s2 = ok(s1, revoke(b, k.hex, 20), 8);
    expect(clientAuthorizedAt(s2, k.hex, 8)).toBe(true);
    expect(clientAuthorizedAt(s2, k.hex, 9)).toBe(false);
    expect(clientAuthorizedAt(s2, k.hex, 7)).toBe(true);
    const s3 = ok(s2, grant(b, app, 20), 12); // re-grant after revocation
    expect(clientAuthorizedAt(s3, k.hex, 11)).toBe(false);
    expect(clientAuthorizedAt(s3, k.hex, 13)).toBe(true);
  });

  it('expiry ends the grant; an expiry not after the start is refused', () => {
    const s1 = ok(s0, grant(a, app, 10, { expiresAt: 9 }), 5);
    expect([5, 6, 8, 9].map((h) => clientAuthorizedAt(s1, k.hex, h))).toEqual([false, true, true, false]);
    rejects(s0, grant(a, app, 10, { expiresAt: 6 }), 5, 'gov_expiry_invalid');
  });

  it('rejects: a voucher that is not a member, a signature by another org, a forged one, a second grant, a revoke by the wrong org', () => {
    const outsider = org('org9');
    rejects(s0, grant(outsider, app, 10), 5, 'gov_voucher_not_member');
    rejects(s0, grant(a, app, 10, { signers: [b.gov] }), 5, 'gov_voucher_signature');
    rejects(s0, grant(a, app, 10, { signers: [a.gov, b.gov] }), 5, 'gov_sig_unexpected');
    const forged = grant(a, app, 10);
    forged.body.deadline = 11; // the signature no longer covers the body; re-point the ballot at the new id
    const p = parsed(forged);
    forged.sigs[0]!.proposal = p.id;
    rejects(s0, forged, 5, 'gov_sig_invalid');
    const s1 = ok(s0, grant(a, app, 10), 5);
    rejects(s1, grant(a, app, 10), 6, 'gov_client_active');
    rejects(s1, revoke(b, k.hex, 10), 6, 'gov_voucher_signature');
    rejects(s0, revoke(a, k.hex, 10), 6, 'gov_client_unknown');
    rejects(s0, grant(a, { name: 'x', hex: Buffer.from(a.key.publicKey).toString('hex') }, 10), 5, 'gov_client_is_org');
    rejects(s1, grant(b, { name: 'app1', hex: clientKey('other').hex }, 10), 6, 'gov_client_name_in_use');
  });
});

describe('org.key.rotate', () => {
  const a2 = org('org1', 1);
  it('needs the old AND the new key; effective at the stated height >= H+2', () => {
    rejects(s0, rotate(a, a2, 20, 30, [a.gov]), 10, 'gov_rotate_signatures');
    rejects(s0, rotate(a, a2, 20, 30, [a2.gov]), 10, 'gov_rotate_signatures');
    rejects(s0, rotate(a, a2, 20, 30, [a.gov, a.gov]), 10, 'gov_rotate_signatures');
    rejects(s0, rotate(a, a2, 11, 30), 10, 'gov_effective_too_soon');
    const stolen = { ...a2, key: verifierKey('org1', b.signer.publicKey), gov: { name: 'org1', signer: b.signer } };
    rejects(s0, rotate(a, stolen, 20, 30), 10, 'gov_key_in_use');
    const s1 = ok(s0, rotate(a, a2, 15, 30), 10);
    expect(validatorsAt(s1, 14).orgs[0]!.key.text).toBe(a.key.text);
    expect(validatorsAt(s1, 15).orgs[0]!.key.text).toBe(a2.key.text);
    expect(validatorsAt(s1, 15).orgs[0]!.peerId).toBe(a2.peerId);
    // After the rotation is in force, a ballot with the old key no longer counts.
    rejects(s1, remove('org4', [a, b, c], 40, 2), 16, 'gov_sig_key_mismatch');
    expect(apply(s1, remove('org4', [a2, b, c], 40, 2), 16).ok).toBe(true);
  });
});

describe('membershipAt', () => {
  it('computes validators, clients and params at every height from the genesis and the records', () => {
    const k1 = clientKey('c1');
    const k2 = clientKey('c2');
    const g = genesisOf([a, b, c, d], [{ name: 'c1', hex: k1.hex, vouchedBy: 'org4' }]);
    const a2 = org('org1', 1);
    const records = [
      { parsed: parsed(grant(b, { name: 'c2', hex: k2.hex }, 10)), height: 3 },
      { parsed: parsed(add(e, [a, b, c], 10)), height: 4 }, // in force at 6
      { parsed: parsed(rotate(a, a2, 9, 20, undefined, 2)), height: 6 }, // in force at 9
      { parsed: parsed(remove('org4', [a2, b, c, e], 20, 3)), height: 10 }, // in force at 12; closes c1
      { parsed: parsed(revoke(b, k2.hex, 30)), height: 14 }, // c2 refused from 15
    ];
    const at = (h: number) => {
      const r = membershipAt(g, records, h, OPTS);
      if (!r.ok) throw new Error(r.message);
      return { orgs: r.membership.validators.map((v) => `${v.name}:${v.key.text === a2.key.text ? 'new' : 'k'}`).join(','), q: r.membership.quorum, clients: [...r.membership.clients.values()].map((x) => x.name).sort().join(',') };
    };
    expect(at(3)).toEqual({ orgs: 'org1:k,org2:k,org3:k,org4:k', q: 3, clients: 'c1' });
    expect(at(4).clients).toBe('c1,c2');
    expect(at(5).orgs).toBe('org1:k,org2:k,org3:k,org4:k');
    expect(at(6)).toMatchObject({ orgs: 'org1:k,org2:k,org3:k,org4:k,org5:k', q: 4 });
    expect(at(9).orgs).toBe('org1:new,org2:k,org3:k,org4:k,org5:k');
    expect(at(11).clients).toBe('c1,c2');
    expect(at(12)).toEqual({ orgs: 'org1:new,org2:k,org3:k,org5:k', q: 3, clients: 'c2' });
    expect(at(15)).toEqual({ orgs: 'org1:new,org2:k,org3:k,org5:k', q: 3, clients: '' });
  });

  it('reports the first rejected record with its index', () => {
    const r = membershipAt(genesis, [{ parsed: parsed(add(e, [a], 10)), height: 2 }], 5, OPTS);
    expect(r).toMatchObject({ ok: false, code: 'gov_quorum_not_met', index: 0 });
  });
});

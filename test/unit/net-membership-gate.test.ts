// Which peer ids a peer admits as the validator set changes (node/net/membership-gate.ts): the
// set in force at the next height plus the decided next set; removed ids are refused as
// "removed", never-admitted ones as outsiders.
import { describe, expect, it } from 'vitest';
import { applyGovernance, genesisGovState, type GovRecord, type GovState } from '../../src/governance/index.js';
import { admittedPeers, MembershipGate, REMOVED_REMEMBERED_MAX } from '../../node/net/membership-gate.js';
import { add, fakePeerId, genesisOf, org, OPTS, parsed, remove, rotate } from './support/governance-fixture.js';

const [a, b, c, d] = ['org1', 'org2', 'org3', 'org4'].map((n) => org(n)) as [ReturnType<typeof org>, ReturnType<typeof org>, ReturnType<typeof org>, ReturnType<typeof org>];
const e = org('org5');
const s0 = genesisGovState(genesisOf([a, b, c, d]));

function ok(state: GovState, record: GovRecord, h: number): GovState {
  const r = applyGovernance(state, parsed(record), h, OPTS);
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.state;
}
const ids = (state: GovState, next: number) => admittedPeers(state, next).map((m) => `${m.name}:${m.role}:${m.peerId.slice(-6)}`);

describe('admittedPeers', () => {
  it('the genesis set without records', () => {
    expect(admittedPeers(s0, 1).map((m) => [m.name, m.role, m.peerId])).toEqual([a, b, c, d].map((o) => [o.name, 'member', o.peerId]));
  });

  it('an added organization is admitted from the deciding block on (scheduled), a member from its effective height', () => {
    const s = ok(s0, add(e, [a, b, c], 100), 10); // effective at 12
    expect(admittedPeers(s, 10).map((m) => m.name)).toEqual(['org1', 'org2', 'org3', 'org4', 'org5']);
    expect(admittedPeers(s, 11).at(-1)).toEqual({ name: 'org5', peerId: e.peerId, role: 'scheduled' });
    expect(admittedPeers(s, 12).at(-1)).toEqual({ name: 'org5', peerId: e.peerId, role: 'member' });
    expect(admittedPeers(s, 12)).toHaveLength(5);
  });

  it('a removed organization stays admitted until its removal takes effect, then is gone', () => {
    const s = ok(s0, remove('org4', [a, b, c], 100), 20); // effective at 22
    expect(ids(s, 21)).toContain(`org4:member:${d.peerId.slice(-6)}`);
    expect(admittedPeers(s, 22).map((m) => m.name)).toEqual(['org1', 'org2', 'org3']);
    expect(admittedPeers(s, 500).map((m) => m.peerId)).not.toContain(d.peerId);
  });

  it('a rotated libp2p identity: old and new both admitted until the effective height, only the new one after', () => {
    const d2 = org('org4', 1);
    const s = ok(s0, rotate(d, d2, 40, 38), 30);
    const before = admittedPeers(s, 31);
    expect(before.filter((m) => m.name === 'org4').map((m) => [m.peerId, m.role])).toEqual([
      [d.peerId, 'member'],
      [d2.peerId, 'scheduled'],
    ]);
    const after = admittedPeers(s, 40);
    expect(after.filter((m) => m.name === 'org4').map((m) => [m.peerId, m.role])).toEqual([[d2.peerId, 'member']]);
    expect(after.map((m) => m.peerId)).not.toContain(d.peerId);
  });

  it('a rotation that keeps the peer id lists it once', () => {
    const d2 = { ...org('org4', 2), peerId: d.peerId };
    const s = ok(s0, rotate(d, d2, 40, 38), 30);
    expect(admittedPeers(s, 31).filter((m) => m.peerId === d.peerId)).toHaveLength(1);
  });
});

describe('MembershipGate', () => {
  const m = (peerId: string, name: string) => ({ peerId, name, role: 'member' as const });

  it('admits the listed peers but never itself; tells removed peers from outsiders', () => {
    const g = new MembershipGate(a.peerId, 10);
    const first = g.set([m(a.peerId, 'org1'), m(b.peerId, 'org2'), m(c.peerId, 'org3')]);
    expect(first.added.map((x) => x.name)).toEqual(['org2', 'org3']);
    expect(g.admits(a.peerId)).toBe(false);
    expect(g.admits(b.peerId)).toBe(true);
    const second = g.set([m(b.peerId, 'org2'), m(e.peerId, 'org5')]);
    expect(second).toEqual({ added: [m(e.peerId, 'org5')], removed: [{ peerId: c.peerId, name: 'org3' }] });
    expect(g.refusal(c.peerId)).toEqual({ kind: 'removed', name: 'org3' });
    expect(g.refusal(fakePeerId('stranger'))).toEqual({ kind: 'outsider' });
    expect(g.refusal(b.peerId)).toBeNull();
    // Admitted again: no longer remembered as removed.
    g.set([m(b.peerId, 'org2'), m(c.peerId, 'org3')]);
    expect(g.refusal(c.peerId)).toBeNull();
    expect(g.size).toBe(2);
  });

  it('refuses more than its bound and changes nothing then', () => {
    const g = new MembershipGate(a.peerId, 2);
    g.set([m(b.peerId, 'org2')]);
    expect(() => g.set([m(b.peerId, 'org2'), m(c.peerId, 'org3'), m(d.peerId, 'org4')])).toThrow(/exceed maxGenesisPeers=2/);
    expect(g.peers().map((p) => p.name)).toEqual(['org2']);
  });

  it('remembers at most REMOVED_REMEMBERED_MAX removed ids (oldest forgotten first)', () => {
    const g = new MembershipGate(a.peerId, REMOVED_REMEMBERED_MAX + 10);
    const many = Array.from({ length: REMOVED_REMEMBERED_MAX + 5 }, (_, i) => m(fakePeerId(`p${i}`), `o${i}`));
    g.set(many);
    g.set([]);
    expect(g.refusal(many[0]!.peerId)).toEqual({ kind: 'outsider' });
    expect(g.refusal(many.at(-1)!.peerId)).toEqual({ kind: 'removed', name: `o${many.length - 1}` });
  });
});

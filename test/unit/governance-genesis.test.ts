// The seams the peer wiring relies on: the peer's parsed Genesis is a GovGenesis as it is, real
// libp2p peer ids pass the record parser, and params.set accepts exactly the ranges the genesis does.
import { describe, expect, it } from 'vitest';
import { buildGenesis, DEFAULT_LIMITS, type Genesis } from '../../node/peer/genesis.js';
import {
  applyGovernance,
  genesisGovState,
  GOV_PARAM_RANGES,
  membershipAt,
  parseGovRecord,
  signGovRecord,
  unsignedGovRecord,
  type GovGenesis,
} from '../../src/governance/index.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { OPTS } from './support/governance-fixture.js';
import { verifierKey } from '../../src/checkpoint/keys.js';

const orgs = await makeOrgs(4);
const clients = makeClients(2);

describe('governance and the peer genesis', () => {
  it('the parsed Genesis is a GovGenesis; its validators, clients and limits are the state at height 0', () => {
    const g: Genesis = makeGenesis(orgs, clients);
    const asGov: GovGenesis = g; // compile-time: no adapter needed in the wiring
    const m = membershipAt(asGov, [], 1, OPTS);
    if (!m.ok) throw new Error(m.message);
    expect(m.membership.validators.map((v) => [v.name, v.peerId])).toEqual(g.validators.map((v) => [v.name, v.peerId]));
    expect(m.membership.quorum).toBe(g.quorum);
    expect([...m.membership.clients.keys()].sort()).toEqual([...g.clients.keys()].sort());
    expect(m.membership.params).toEqual(g.limits);
  });

  it('real libp2p peer ids are accepted in rotate and add records', async () => {
    const g = makeGenesis(orgs, clients);
    const [fresh] = await makeOrgs(1, 'fresh');
    const newKey = verifierKey('org0', fresh!.publicKey).text;
    const u = unsignedGovRecord('org.key.rotate', { epoch: 1, org: 'org0', key: newKey, peerId: fresh!.peerId, effectiveHeight: 10, deadline: 20, nonce: 'r1' });
    const rec = signGovRecord(u, [{ name: 'org0', signer: orgs[0]!.signer }, { name: 'org0', signer: fresh!.signer }]);
    const p = parseGovRecord(rec);
    if (!p.ok) throw new Error(p.message);
    const r = applyGovernance(genesisGovState(g), p.parsed, 5, OPTS);
    expect(r).toMatchObject({ ok: true, effect: { effectiveHeight: 10 } });
  });

  it('params.set accepts exactly the ranges the genesis accepts', () => {
    const top = ['maxBlockEntries', 'maxBlockBytes', 'blockIntervalMs', 'maxClockSkewMs', 'mempoolMaxEntries', 'mempoolMaxBytes'];
    const genesisAccepts = (name: string, value: number): boolean => {
      const limits: Record<string, unknown> = { ...DEFAULT_LIMITS, timeouts: { ...DEFAULT_LIMITS.timeouts } };
      if (top.includes(name)) limits[name] = value;
      else (limits.timeouts as Record<string, number>)[name] = value;
      // Keep the cross-field rules (mempool >= block) out of the way of single-field bounds.
      if (name === 'maxBlockEntries') limits.mempoolMaxEntries = 10_000_000;
      if (name === 'maxBlockBytes') limits.mempoolMaxBytes = 4 * 1024 * 1024 * 1024;
      if (name === 'mempoolMaxEntries') limits.maxBlockEntries = 1;
      if (name === 'mempoolMaxBytes') limits.maxBlockBytes = 65_536;
      try {
        buildGenesis({ origin: 'cairn.example/ranges', validators: orgs.map((o) => ({ name: o.name, verifierKey: o.verifierKey, peerId: o.peerId, addrs: [] })), limits: limits as never });
        return true;
      } catch {
        return false;
      }
    };
    const recordAccepts = (name: string, value: number): boolean => {
      const params = top.includes(name) ? { [name]: value } : { timeouts: { [name]: value } };
      const rec = { v: 1, type: 'params.set', body: { params, deadline: 5, nonce: 'p' }, sigs: [{ by: 'org0', key: '00'.repeat(32), proposal: '00'.repeat(32), sig: '00'.repeat(64) }] };
      return parseGovRecord(rec).ok;
    };
    expect(Object.keys(GOV_PARAM_RANGES).sort()).toEqual([...top, 'proposeMs', 'prevoteMs', 'precommitMs', 'deltaMs'].sort());
    for (const [name, [min, max]] of Object.entries(GOV_PARAM_RANGES)) {
      for (const v of [min - 1, min, max, max + 1]) {
        expect(recordAccepts(name, v), `${name}=${v}`).toBe(genesisAccepts(name, v));
      }
    }
  });
});

// How a peer reaches organizations added after the genesis (the config's `peers` list and the
// address book built from it), and which p2p key it may start with as the validator set changes.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../node/peer/config.js';
import { checkOwnPeerId, peerAddressBook } from '../../node/peer/membership.js';
import { applyGovernance, genesisGovState, type GovState } from '../../src/governance/index.js';
import { makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { add, fakePeerId, genesisOf, org, OPTS, parsed, rotate } from './support/governance-fixture.js';

const base = { dataDir: 'd', genesis: 'g.json', signingKey: 'k', p2pKey: 'p' };

describe('config: peers (bootstrap addresses)', () => {
  it('accepts multiaddrs ending in /p2p/<peer id>, at most 64; absent means none', () => {
    const id = fakePeerId('x');
    const ok = parseConfig({ ...base, peers: [`/ip4/10.0.0.5/tcp/4001/p2p/${id}`] }, '/base');
    expect(ok.ok && ok.config.peers).toEqual([`/ip4/10.0.0.5/tcp/4001/p2p/${id}`]);
    const none = parseConfig(base, '/base');
    expect(none.ok && none.config.peers).toEqual([]);
  });

  it('refuses anything else with config_bad_peers naming the entry', () => {
    const id = fakePeerId('x');
    for (const [peers, field] of [
      ['/ip4/10.0.0.5/tcp/4001', 'peers'],
      [['/ip4/10.0.0.5/tcp/4001'], 'peers[0]'],
      [[`/ip4/10.0.0.5/tcp/4001/p2p/${id}`, 7], 'peers[1]'],
      [[`not-a-multiaddr/p2p/${id}`], 'peers[0]'],
      [Array.from({ length: 65 }, () => `/ip4/10.0.0.5/tcp/4001/p2p/${id}`), 'peers'],
    ] as const) {
      expect(parseConfig({ ...base, peers }, '/base')).toMatchObject({ ok: false, code: 'config_bad_peers', field });
    }
  });

  it('the address book: genesis addresses, the config first for the same peer, new peers added', async () => {
    const orgs = await makeOrgs(2, 'book');
    const g = makeGenesis(orgs, []);
    const other = fakePeerId('added');
    const book = peerAddressBook(g, [`/ip4/10.0.0.9/tcp/1/p2p/${orgs[1]!.peerId}`, `/ip4/10.0.0.7/tcp/2/p2p/${other}`]);
    expect(book.get(orgs[0]!.peerId)).toEqual([`/ip4/127.0.0.1/tcp/${orgs[0]!.port}`]);
    expect(book.get(orgs[1]!.peerId)).toEqual([`/ip4/10.0.0.9/tcp/1/p2p/${orgs[1]!.peerId}`, `/ip4/127.0.0.1/tcp/${orgs[1]!.port}`]);
    expect(book.get(other)).toEqual([`/ip4/10.0.0.7/tcp/2/p2p/${other}`]);
  });
});

describe('the p2p key a peer may start with', () => {
  const [a, b, c, d] = ['o1', 'o2', 'o3', 'o4'].map((n) => org(n)) as [ReturnType<typeof org>, ReturnType<typeof org>, ReturnType<typeof org>, ReturnType<typeof org>];
  const s0 = genesisGovState(genesisOf([a, b, c, d]));
  const ok = (s: GovState, r: Parameters<typeof parsed>[0], h: number): GovState => {
    const x = applyGovernance(s, parsed(r), h, OPTS);
    if (!x.ok) throw new Error(x.message);
    return x.state;
  };

  it('a genesis validator: exactly its genesis peer id', () => {
    expect(() => checkOwnPeerId(s0, a.signer.publicKey, a.peerId, 1)).not.toThrow();
    expect(() => checkOwnPeerId(s0, a.signer.publicKey, b.peerId, 1)).toThrow(expect.objectContaining({ code: 'config_p2p_key_mismatch' }));
  });

  it('a key no set lists (an organization not added yet) starts as a follower with any p2p key', () => {
    const e = org('o5');
    expect(() => checkOwnPeerId(s0, e.signer.publicKey, fakePeerId('anything'), 1)).not.toThrow();
    // Once its addition is decided, only its listed peer id.
    const s = ok(s0, add(e, [a, b, c], 100), 10);
    expect(() => checkOwnPeerId(s, e.signer.publicKey, e.peerId, 11)).not.toThrow();
    expect(() => checkOwnPeerId(s, e.signer.publicKey, fakePeerId('anything'), 11)).toThrow(/lists .* for o5/);
  });

  it('a rotated organization: the new key with the new peer id from the decision on', () => {
    const d2 = org('o4', 1);
    const s = ok(s0, rotate(d, d2, 40, 38), 30);
    expect(() => checkOwnPeerId(s, d2.signer.publicKey, d2.peerId, 31)).not.toThrow();
    expect(() => checkOwnPeerId(s, d2.signer.publicKey, d.peerId, 31)).toThrow(expect.objectContaining({ code: 'config_p2p_key_mismatch' }));
    expect(() => checkOwnPeerId(s, d2.signer.publicKey, d2.peerId, 45)).not.toThrow();
  });
});

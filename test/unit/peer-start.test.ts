// startPeer refuses configurations that could never work, with a coded error, before opening anything.
import { describe, expect, it } from 'vitest';
import { startPeer } from '../../node/peer/peer.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';

describe('startPeer', () => {
  it('refuses a p2p key whose peer id is not the one the genesis lists for this validator', async () => {
    const orgs = await makeOrgs(4, 'st');
    const genesis = makeGenesis(orgs, makeClients(1, 'stc'));
    await expect(
      startPeer({ genesis, signingSeed: orgs[0]!.seed, p2pKey: orgs[1]!.p2pKey, dataDir: '/nonexistent/never-created', listen: ['/ip4/127.0.0.1/tcp/0'] }),
    ).rejects.toMatchObject({ code: 'config_p2p_key_mismatch' });
  });
});

// startPeer refuses configurations that could never work, with a coded error. The p2p key is
// checked against the validator set in force, which the store's governance records decide, so
// the store is opened first.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startPeer } from '../../node/peer/peer.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';

describe('startPeer', () => {
  it('refuses a p2p key whose peer id is not the one the genesis lists for this validator', async () => {
    const orgs = await makeOrgs(4, 'st');
    const genesis = makeGenesis(orgs, makeClients(1, 'stc'));
    const dataDir = await mkdtemp(join(tmpdir(), 'cairn-peer-start-'));
    try {
      await expect(
        startPeer({ genesis, signingSeed: orgs[0]!.seed, p2pKey: orgs[1]!.p2pKey, dataDir, listen: ['/ip4/127.0.0.1/tcp/0'] }),
      ).rejects.toMatchObject({ code: 'config_p2p_key_mismatch' });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

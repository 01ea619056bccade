import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatP2PKey, loadConfig } from '../../node/peer/config.js';
import { formatGenesis } from '../../node/peer/genesis.js';
import { startPeerFromConfig } from '../../node/peer/peer.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { CONFIG_BASE, configField, expectConfigRefused } from './support/config-fixture.js';

const syncVerify = configField('syncVerifyClientSignatures');

describe('peer config: syncVerifyClientSignatures (catch-up checks client signatures too)', () => {
  it('is off by default; the file and CAIRN_SYNC_VERIFY_CLIENT_SIGNATURES=on turn it on', () => {
    expect(syncVerify(CONFIG_BASE)).toBeUndefined();
    expect(syncVerify({ ...CONFIG_BASE, syncVerifyClientSignatures: true })).toBe(true);
    expect(syncVerify({ ...CONFIG_BASE, syncVerifyClientSignatures: false })).toBeUndefined();
    expect(syncVerify(CONFIG_BASE, { CAIRN_SYNC_VERIFY_CLIENT_SIGNATURES: 'on' })).toBe(true);
    expect(syncVerify({ ...CONFIG_BASE, syncVerifyClientSignatures: true }, { CAIRN_SYNC_VERIFY_CLIENT_SIGNATURES: 'off' })).toBeUndefined();
  });

  it('refuses anything but a boolean (on/off in the environment), naming its source', () => {
    expectConfigRefused({ ...CONFIG_BASE, syncVerifyClientSignatures: 'yes' }, {}, 'config_bad_sync_verify_client_signatures', 'syncVerifyClientSignatures');
    expectConfigRefused(CONFIG_BASE, { CAIRN_SYNC_VERIFY_CLIENT_SIGNATURES: '1' }, 'config_bad_sync_verify_client_signatures', 'CAIRN_SYNC_VERIFY_CLIENT_SIGNATURES');
  });

  it('reaches the ledger of a peer started from its config file (startPeerFromConfig → startPeer → Ledger)', async () => {
    const orgs = await makeOrgs(4, 'svc');
    const genesis = makeGenesis(orgs, makeClients(1, 'svcc'));
    const dir = await mkdtemp(join(tmpdir(), 'cairn-sync-verify-'));
    try {
      await writeFile(join(dir, 'genesis.json'), formatGenesis(genesis));
      await writeFile(join(dir, 'org.key'), orgs[0]!.signerKeyText + '\n', { mode: 0o600 });
      await writeFile(join(dir, 'p2p.key'), formatP2PKey(orgs[0]!.p2pSeed), { mode: 0o600 });
      const config = { ...CONFIG_BASE, listen: ['/ip4/127.0.0.1/tcp/0'] };
      for (const [extra, want] of [[{ syncVerifyClientSignatures: true }, true], [{}, false]] as const) {
        await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, ...extra }));
        const peer = await startPeerFromConfig(await loadConfig(join(dir, 'config.json'), {}));
        try {
          expect(peer.internals.ledger.verifiesSyncedSignatures).toBe(want);
        } finally {
          await peer.stop();
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

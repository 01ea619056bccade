import { describe, expect, it } from 'vitest';
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
});

// A peer's memory bounds that do not grow with its log: the search proof cache is bounded at
// PEER_PROOF_CACHE_BYTES unless the config's proofCacheMiB (or CAIRN_PROOF_CACHE_MIB) says
// otherwise, and its warm-up fills it within that bound and stops when told to.
import { describe, expect, it } from 'vitest';
import { PEER_PROOF_CACHE_BYTES, startProofCacheWarm } from '../../node/peer/proof-warm.js';
import { proofCacheStats } from '../../node/search/proofs.js';
import { openStore } from '../../node/storage/index.js';
import { CONFIG_BASE as base, configField, expectConfigRefused, storesClosedAfterEach } from './support/config-fixture.js';
import { SeededRandom } from './support/seeded-random.js';
import { SearchLog } from './support/search-fixture.js';

const { dirs, open } = storesClosedAfterEach();

describe('proofCacheMiB config', () => {
  it('is absent by default; the file and CAIRN_PROOF_CACHE_MIB set it; a bad value is refused naming its source', () => {
    const get = configField('proofCacheMiB');
    expect(get(base)).toBeUndefined();
    expect(get({ ...base, proofCacheMiB: 64 })).toBe(64);
    expect(get({ ...base, proofCacheMiB: 0 })).toBe(0);
    expect(get({ ...base, proofCacheMiB: 64 }, { CAIRN_PROOF_CACHE_MIB: '8' })).toBe(8);
    for (const v of [-1, 1.5, '16', 5000]) expectConfigRefused({ ...base, proofCacheMiB: v }, {}, 'config_bad_proof_cache', 'proofCacheMiB');
    expectConfigRefused(base, { CAIRN_PROOF_CACHE_MIB: 'lots' }, 'config_bad_proof_cache', 'CAIRN_PROOF_CACHE_MIB');
  });
});

describe('peer proof cache', () => {
  it('is bounded at PEER_PROOF_CACHE_BYTES by default (or as configured) and warmed within it; stop() ends the warm-up', async () => {
    const store = await openStore(await dirs.make());
    open.push(store);
    const log = new SearchLog(store, new SeededRandom('peer-proof-cache'));
    for (let b = 0; b < 3; b++) await log.appendBlock(200);
    const size = store.head()!.treeSize;
    expect(size).toBe(600);
    const logs: string[] = [];
    const warm = startProofCacheWarm(store, () => size, { warmDelayMs: 0 }, (_l, m) => logs.push(m));
    expect(proofCacheStats(store).maxBytes).toBe(PEER_PROOF_CACHE_BYTES);
    expect(PEER_PROOF_CACHE_BYTES).toBeLessThanOrEqual(16 * 1024 * 1024);
    const deadline = Date.now() + 10_000;
    while (proofCacheStats(store).entries < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await warm.stop();
    expect(proofCacheStats(store).entries).toBe(2); // the two full level-0 tiles of 600 entries
    expect(logs).toContain('proof cache warmed');

    // A configured bound replaces the default; a stopped warm-up before its delay reads nothing.
    const other = startProofCacheWarm(store, () => size, { maxBytes: 1024 * 1024, warmDelayMs: 50 }, () => undefined);
    await other.stop();
    await new Promise((r) => setTimeout(r, 150));
    expect(proofCacheStats(store).maxBytes).toBe(1024 * 1024);
    expect(proofCacheStats(store).entries).toBe(0);
  });
});

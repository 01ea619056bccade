// A peer's memory bounds that do not grow with its log: the search proof cache is bounded at
// PEER_PROOF_CACHE_BYTES unless the config's proofCacheMiB (or CAIRN_PROOF_CACHE_MIB) says
// otherwise, and its warm-up fills it within that bound and stops when told to; V8's heap may
// grow only heapGrowingPercent beyond its live set between full collections.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { applyHeapGrowth, HEAP_GROWING_PERCENT_DEFAULT, HEAP_GROWING_PERCENT_MAX, PEER_NODE_OPTIONS, peerMemoryEnv, peerNodeOptions, semiSpaceMiB } from '../../node/peer/v8-memory.js';
import { PEER_PROOF_CACHE_BYTES, startProofCacheWarm } from '../../node/peer/proof-warm.js';
import { proofCacheStats } from '../../node/search/proofs.js';
import { openStore } from '../../node/storage/index.js';
import { CONFIG_BASE as base, configField, expectConfigRefused, storesClosedAfterEach } from './support/config-fixture.js';
import { SeededRandom } from './support/seeded-random.js';
import { SearchLog } from './support/search-fixture.js';

const { dirs, open } = storesClosedAfterEach();
const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MIB = 1024 * 1024;

// The memory settings that are integers in a range: absent by default, set by the file and by
// their environment variable, a bad value refused naming where it came from.
const INTEGER_FIELDS = [
  { field: 'proofCacheMiB' as const, envName: 'CAIRN_PROOF_CACHE_MIB', code: 'config_bad_proof_cache', set: 64, fromEnv: 8, bad: [-1, 1.5, '16', 5000], badEnv: 'lots' },
  { field: 'heapGrowingPercent' as const, envName: 'CAIRN_HEAP_GROWING_PERCENT', code: 'config_bad_heap_growing_percent', set: 25, fromEnv: 100, bad: [-1, 2.5, '50', HEAP_GROWING_PERCENT_MAX + 1], badEnv: 'small' },
];

describe.each(INTEGER_FIELDS)('$field config', ({ field, envName, code, set, fromEnv, bad, badEnv }) => {
  it(`is absent by default; the file and ${envName} set it; a bad value is refused naming its source`, () => {
    const get = configField(field);
    expect(get(base)).toBeUndefined();
    expect(get({ ...base, [field]: set })).toBe(set);
    expect(get({ ...base, [field]: 0 })).toBe(0);
    expect(get({ ...base, [field]: set }, { [envName]: String(fromEnv) })).toBe(fromEnv);
    for (const v of bad) expectConfigRefused({ ...base, [field]: v }, {}, code, field);
    expectConfigRefused(base, { [envName]: badEnv }, code, envName);
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

describe('applyHeapGrowth', () => {
  /** Runs the child under `percent` and returns what it measured. */
  async function measure(percent: string): Promise<{ growth: { percent: number | null; source: string } | null; peakHeapTotal: number; liveBytes: number; kept: number }> {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/unit/support/heap-growth-child.ts', percent], { cwd: REPO_ROOT, timeout: 60_000 });
    return JSON.parse(stdout) as never;
  }

  it('reserves far less heap above the same live set while garbage is allocated fast than V8 left to itself', async () => {
    const fixed = await measure('50');
    const own = await measure('none');
    expect(fixed.growth).toEqual({ percent: 50, source: 'config' });
    expect(own.growth).toBeNull();
    // The same program and live set (~50 MiB after a full GC)...
    expect(fixed.kept).toBe(own.kept);
    expect(Math.abs(fixed.liveBytes - own.liveBytes)).toBeLessThan(8 * MIB);
    // ...and V8's own factor reserved about twice the heap (320 against 160 MiB on the 2-core CI machine).
    expect(fixed.peakHeapTotal).toBeLessThan(own.peakHeapTotal * 0.7);
  }, 120_000);

  it('reports 0 as V8 choosing, and leaves a --heap-growing-percent on node\'s command line alone', () => {
    expect(applyHeapGrowth(undefined, ['--heap-growing-percent=20'])).toEqual({ percent: 20, source: 'node command line' });
    expect(applyHeapGrowth(40, ['--max-semi-space-size=4', '--heap-growing-percent=0'])).toEqual({ percent: null, source: 'node command line' });
    // V8's other spellings of the same flag.
    expect(applyHeapGrowth(undefined, ['--heap_growing_percent=30'])).toEqual({ percent: 30, source: 'node command line' });
    expect(applyHeapGrowth(undefined, ['--heap-growing-percent', '70', 'main.js'])).toEqual({ percent: 70, source: 'node command line' });
    expect(HEAP_GROWING_PERCENT_DEFAULT).toBe(50);
  });
});

describe('the young generation of peers started by the devnet and the bench', () => {
  it('adds 4 MiB semi-spaces to NODE_OPTIONS unless they already size it; the start log reads what the process got', () => {
    expect(PEER_NODE_OPTIONS).toBe('--max-semi-space-size=4');
    expect(peerNodeOptions(undefined)).toBe('--max-semi-space-size=4');
    expect(peerNodeOptions(' --enable-source-maps ')).toBe('--enable-source-maps --max-semi-space-size=4');
    expect(peerNodeOptions('--max-semi-space-size=32 --trace-warnings')).toBe('--max-semi-space-size=32 --trace-warnings');
    expect(peerNodeOptions('--max_semi_space_size=2')).toBe('--max_semi_space_size=2');
    expect(peerNodeOptions('--max-semi-space-size 8')).toBe('--max-semi-space-size 8');
    expect(semiSpaceMiB([], undefined)).toBeNull();
    expect(semiSpaceMiB([], peerNodeOptions(undefined))).toBe(4);
    // node's own command line comes after NODE_OPTIONS and wins.
    expect(semiSpaceMiB(['--max-semi-space-size=8'], '--max-semi-space-size=4')).toBe(8);
    expect(semiSpaceMiB([], '--max-semi-space-size 8 --trace-warnings')).toBe(8);
    expect(semiSpaceMiB([], '--max-semi-space-size=lots')).toBeNull();
    // With MALLOC_ARENA_MAX, what the launchers give a peer; what the environment already sets stays.
    expect(peerMemoryEnv({})).toEqual({ MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--max-semi-space-size=4' });
    expect(peerMemoryEnv({ MALLOC_ARENA_MAX: '4', NODE_OPTIONS: '--max-semi-space-size=16' })).toEqual({ MALLOC_ARENA_MAX: '4', NODE_OPTIONS: '--max-semi-space-size=16' });
  });
});

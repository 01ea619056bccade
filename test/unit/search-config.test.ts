// The peer config switch that turns search indexing off (for the benchmark's with/without
// comparison): `searchIndexes` in the config file, CAIRN_SEARCH_INDEXES=on|off in the environment,
// passed down to the store; a store opened so writes no index record and its searches answer
// INDEX_INCOMPLETE.
import { describe, expect, it } from 'vitest';
import { SearchEngine } from '../../node/search/query.js';
import { SearchError } from '../../node/search/errors.js';
import { openStore, type Store } from '../../node/storage/index.js';
import { CONFIG_BASE as base, configField, expectConfigRefused, storesClosedAfterEach } from './support/config-fixture.js';
import { SeededRandom } from './support/seeded-random.js';
import { SearchLog } from './support/search-fixture.js';

const { dirs, open } = storesClosedAfterEach();

describe('searchIndexes config switch', () => {
  it('defaults to on; the file and the environment (on/off) set it; anything else is refused naming the field', () => {
    const get = configField('searchIndexes');
    expect(get(base)).toBe(true);
    expect(get({ ...base, searchIndexes: false })).toBe(false);
    expect(get({ ...base, searchIndexes: true })).toBe(true);
    expect(get(base, { CAIRN_SEARCH_INDEXES: 'off' })).toBe(false);
    expect(get({ ...base, searchIndexes: false }, { CAIRN_SEARCH_INDEXES: 'on' })).toBe(true);
    expectConfigRefused({ ...base, searchIndexes: 'no' }, {}, 'config_bad_search_indexes', 'searchIndexes');
    expectConfigRefused(base, { CAIRN_SEARCH_INDEXES: 'false' }, 'config_bad_search_indexes', 'CAIRN_SEARCH_INDEXES');
  });

  it('a store opened with indexes off writes no index record and its searches answer INDEX_INCOMPLETE', async () => {
    const count = async (store: Store): Promise<number> => {
      const a = store.searchAccess();
      return (await a.records({ gte: Uint8Array.of(0x78, 0x01), lt: Uint8Array.of(0x79), limit: 100_000 })).length;
    };
    const results: Record<string, number | string> = {};
    for (const on of [true, false]) {
      const store = await openStore(await dirs.make(), { searchIndexes: on });
      open.push(store);
      const log = new SearchLog(store, new SeededRandom('indexes-switch'));
      for (let b = 0; b < 3; b++) await log.appendBlock(20);
      const engine = await SearchEngine.open(store);
      let answer: number | string;
      try {
        answer = (await engine.search({}, { limit: 1000 })).results.length;
      } catch (e) {
        answer = e instanceof SearchError ? e.code : String(e);
      }
      results[on ? 'on' : 'off'] = answer;
      results[on ? 'onRecords' : 'offRecords'] = await count(store);
    }
    expect(results.on).toBe(60);
    expect(results.onRecords as number).toBeGreaterThan(60);
    expect(results.off).toBe('INDEX_INCOMPLETE');
    expect(results.offRecords).toBe(0);
  });
});

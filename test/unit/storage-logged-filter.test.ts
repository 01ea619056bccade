// The store's Bloom filter of logged index keys: never a false negative (the store's answers
// must stay exactly LevelDB's), a low false-positive rate at its design load, and a store
// reopened from disk rebuilds it (entries logged before the restart are still found).
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { utf8 } from '../../src/encoding/bytes.js';
import { leafHash } from '../../src/merkle/index.js';
import { LoggedFilter } from '../../node/storage/logged-filter.js';
import { openStore, type Store } from '../../node/storage/store.js';
import { TempDirs, appendBlock } from './support/storage-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

describe('LoggedFilter', () => {
  it('has no false negatives and few false positives', () => {
    const f = new LoggedFilter(2 ** 20, 10); // 1 Mibit: ~50k keys at design load
    const pool = new Uint8Array(randomBytes(33 * 100_000));
    const key = (i: number) => pool.subarray(33 * i, 33 * i + 33);
    for (let i = 0; i < 50_000; i++) f.add(key(i));
    expect(f.size).toBe(50_000);
    let missed = 0;
    for (let i = 0; i < 50_000; i++) if (!f.mightContain(key(i))) missed++;
    expect(missed).toBe(0);
    let fp = 0;
    const probes = 50_000;
    for (let i = 50_000; i < 50_000 + probes; i++) if (f.mightContain(key(i))) fp++;
    expect(fp / probes).toBeLessThan(0.01);
    expect(() => new LoggedFilter(1000)).toThrow(RangeError);
  });
});

describe('store lookups through the filter', () => {
  it('finds entries logged before a restart and misses the others, exactly like LevelDB', async () => {
    const dir = await dirs.make();
    let store = await openStore(dir);
    const leaves = Array.from({ length: 600 }, (_, i) => utf8(`entry-${i}`));
    const ids = leaves.map((_, i) => ({ client: `c${i % 5}`, id: `id-${i}` }));
    await appendBlock(store, leaves.slice(0, 300), ids.slice(0, 300));
    await store.close();
    store = await openStore(dir);
    open.push(store);
    await appendBlock(store, leaves.slice(300, 400), ids.slice(300, 400));
    const q = leaves.map((l, i) => ({ leafHash: leafHash(l), ...ids[i]! }));
    const got = await store.lookupLogged(q);
    for (let i = 0; i < leaves.length; i++) {
      if (i < 400) {
        expect(got[i]!.index).toBe(i);
        expect(got[i]!.logged?.index).toBe(i);
        expect(await store.indexOfLeafHash(q[i]!.leafHash)).toBe(i);
        expect((await store.lookupClientId(q[i]!.client, q[i]!.id))?.index).toBe(i);
      } else {
        expect(got[i]).toEqual({ index: undefined, logged: undefined });
        expect(await store.indexOfLeafHash(q[i]!.leafHash)).toBeUndefined();
      }
    }
    // A leaf logged twice keeps its FIRST index (the filter must not hide the existing key).
    await appendBlock(store, [leaves[5]!], [{ client: 'c0', id: 'id-5' }]);
    expect(await store.indexOfLeafHash(leafHash(leaves[5]!))).toBe(5);
    expect((await store.lookupClientId('c0', 'id-5'))?.index).toBe(5);
  });
});

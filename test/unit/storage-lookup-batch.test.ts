// Store.lookupLogged (one LevelDB multi-get for many entries) must answer exactly what
// indexOfLeafHash + lookupClientId answer one by one: logged, not logged, duplicates, and mixed
// batches; and it refuses a batch over LOOKUP_BATCH_MAX with the limit named.
import { afterEach, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/crypto/hash.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { leafHash } from '../../src/merkle/index.js';
import { LOOKUP_BATCH_MAX, openStore, type Store } from '../../node/storage/store.js';
import { StoreError } from '../../node/storage/errors.js';
import { TempDirs, appendBlock } from './support/storage-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

describe('Store.lookupLogged', () => {
  it('agrees with indexOfLeafHash and lookupClientId for logged, unknown and repeated entries', async () => {
    const store = await openStore(await dirs.make());
    open.push(store);
    const leaves = Array.from({ length: 300 }, (_, i) => utf8(`leaf-${i}`));
    const ids = leaves.map((_, i) => ({ client: `c${i % 7}`, id: `id-${i}` }));
    await appendBlock(store, leaves.slice(0, 200), ids.slice(0, 200));
    await appendBlock(store, leaves.slice(200, 250), ids.slice(200, 250));
    // Queries: every logged leaf, unknown leaves, a known id with an unknown leaf, and repeats.
    const q = [
      ...leaves.map((l, i) => ({ leafHash: leafHash(l), ...ids[i]! })),
      { leafHash: sha256(utf8('never logged')), client: 'c1', id: 'id-8' },
      { leafHash: leafHash(leaves[3]!), client: 'c3', id: 'id-3' },
    ];
    const got = await store.lookupLogged(q);
    expect(got.length).toBe(q.length);
    let logged = 0;
    for (let i = 0; i < q.length; i++) {
      const one = { index: await store.indexOfLeafHash(q[i]!.leafHash), logged: await store.lookupClientId(q[i]!.client, q[i]!.id) };
      expect(got[i]).toEqual(one);
      if (one.index !== undefined) logged++;
    }
    expect(logged).toBe(251); // 250 logged leaves, leaf 3 asked twice
    expect(got[250]).toEqual({ index: undefined, logged: undefined });
    expect(got[300]!.index).toBeUndefined();
    expect(got[300]!.logged).toEqual({ index: 8, leafHash: leafHash(leaves[8]!) });
    expect(await store.lookupLogged([])).toEqual([]);
  });

  it('refuses more than LOOKUP_BATCH_MAX entries and malformed hashes', async () => {
    const store = await openStore(await dirs.make());
    open.push(store);
    const one = { leafHash: sha256(utf8('x')), client: 'c', id: 'i' };
    const err = await store.lookupLogged(new Array(LOOKUP_BATCH_MAX + 1).fill(one)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('LIMIT_EXCEEDED');
    expect((err as Error).message).toContain('LOOKUP_BATCH_MAX');
    const bad = await store.lookupLogged([{ ...one, leafHash: new Uint8Array(31) }]).catch((e: unknown) => e);
    expect((bad as StoreError).code).toBe('BAD_ARGUMENT');
  });
});

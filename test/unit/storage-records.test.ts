// The peer store's records beside the log, over real LevelDB in temp dirs: signer state, the
// consensus WAL and its limits, evidence, checkpoints (final ones never downgraded, the latest
// answered from memory) and meta, across close/reopen.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClassicLevel } from 'classic-level';
import { utf8 } from '../../src/encoding/bytes.js';
import { TempStores, appendBlock, expectCode } from './support/storage-fixture.js';

const stores = new TempStores();
afterEach(() => stores.closeAll());
const fresh = stores.fresh.bind(stores);
const reopen = stores.reopen.bind(stores);

describe('storage: signer state, WAL, evidence, checkpoints, meta', () => {
  it('signer state round-trips across reopen and is overwritten by the latest put', async () => {
    const { dir, store } = await fresh();
    expect(await store.getSignerState()).toBeUndefined();
    await store.putSignerState(utf8('state 1'));
    await store.putSignerState(utf8('state 2'));
    const s = await reopen(dir, store);
    expect(await s.getSignerState()).toEqual(utf8('state 2'));
    await expectCode(s.putSignerState(new Uint8Array(0)), 'BAD_ARGUMENT');
  });

  it('WAL: records come back in append order per height, appends continue after reopen, prune removes lower heights', async () => {
    const { dir, store } = await fresh();
    await store.walAppend(5, [utf8('a'), utf8('b')]);
    await store.walAppend(6, [utf8('x')]);
    await store.walAppend(5, [utf8('c')], { sync: false });
    await store.walAppend(5, []);
    expect(await store.walRead(5)).toEqual([utf8('a'), utf8('b'), utf8('c')]);
    const s = await reopen(dir, store);
    // After a restart, new records go AFTER the old ones (the sequence is recovered from disk).
    await s.walAppend(5, [utf8('d')]);
    expect(await s.walRead(5)).toEqual([utf8('a'), utf8('b'), utf8('c'), utf8('d')]);
    expect(await s.walRead(6)).toEqual([utf8('x')]);
    expect(await s.walRead(7)).toEqual([]);
    await s.walAppend(7, [utf8('y')]);
    await s.walPrune(6);
    expect(await s.walRead(5)).toEqual([]);
    expect(await s.walRead(6)).toEqual([utf8('x')]);
    await s.walPrune(8);
    expect(await s.walRead(6)).toEqual([]);
    expect(await s.walRead(7)).toEqual([]);
    // A pruned height starts again from sequence 0 without mixing in old records.
    await s.walAppend(5, [utf8('new')]);
    expect(await s.walRead(5)).toEqual([utf8('new')]);
  });

  it('WAL limits: records per height, bytes per height, record size, records per append', async () => {
    const { store } = await fresh({ limits: { maxWalRecordsPerHeight: 3, maxWalBytesPerHeight: 10, maxWalRecordBytes: 6, maxWalRecordsPerAppend: 2 } });
    await store.walAppend(1, [utf8('12'), utf8('34')]);
    await expectCode(store.walAppend(1, [utf8('5'), utf8('6')]), 'WAL_FULL');
    await expectCode(store.walAppend(2, [utf8('1'), utf8('2'), utf8('3')]), 'LIMIT_EXCEEDED');
    await expectCode(store.walAppend(2, [utf8('1234567')]), 'LIMIT_EXCEEDED');
    await store.walAppend(2, [utf8('123456')]);
    await expectCode(store.walAppend(2, [utf8('12345')]), 'WAL_FULL');
    expect(await store.walRead(1)).toEqual([utf8('12'), utf8('34')]);
    expect(await store.walRead(2)).toEqual([utf8('123456')]);
  });

  it('signer state with WAL records: one write after the appends before it; past a WAL cap neither is written', async () => {
    const limits = { maxWalRecordsPerHeight: 4, maxWalBytesPerHeight: 100, maxWalRecordBytes: 50, maxWalRecordsPerAppend: 3 };
    const { dir, store } = await fresh({ limits });
    // An unsynced append not awaited: the combined write still lands after it, in order.
    const first = store.walAppend(3, [utf8('a')], { sync: false });
    await store.putSignerStateWithWal(utf8('state 1'), 3, [utf8('b'), utf8('c')]);
    await first;
    await store.putSignerStateWithWal(utf8('state 2'), 3, []);
    const s = await reopen(dir, store, { limits });
    expect(await s.getSignerState()).toEqual(utf8('state 2'));
    expect(await s.walRead(3)).toEqual([utf8('a'), utf8('b'), utf8('c')]);
    // Two more records would pass the height's cap of 4: neither the state nor a record is written.
    await expectCode(s.putSignerStateWithWal(utf8('state 3'), 3, [utf8('d'), utf8('e')]), 'WAL_FULL');
    await expectCode(s.putSignerStateWithWal(utf8('state 3'), 3, [utf8('1'), utf8('2'), utf8('3'), utf8('4')]), 'LIMIT_EXCEEDED');
    await expectCode(s.putSignerStateWithWal(new Uint8Array(0), 3, [utf8('d')]), 'BAD_ARGUMENT');
    expect(await s.getSignerState()).toEqual(utf8('state 2'));
    expect(await s.walRead(3)).toEqual([utf8('a'), utf8('b'), utf8('c')]);
    await s.putSignerStateWithWal(utf8('state 4'), 3, [utf8('d')]);
    expect(await s.walRead(3)).toEqual([utf8('a'), utf8('b'), utf8('c'), utf8('d')]);
    expect(await s.getSignerState()).toEqual(utf8('state 4'));
  });

  it('evidence: deduplicated, listed oldest first up to a bounded limit, refused when full', async () => {
    const { dir, store } = await fresh({ limits: { maxEvidenceRecords: 3, maxListEvidence: 2 } });
    await store.putEvidence(utf8('e1'));
    await store.putEvidence(utf8('e2'));
    await store.putEvidence(utf8('e1'));
    expect(await store.listEvidence(2)).toEqual([utf8('e1'), utf8('e2')]);
    expect(await store.listEvidence(1)).toEqual([utf8('e1')]);
    await expectCode(store.listEvidence(3), 'LIMIT_EXCEEDED');
    const s = await reopen(dir, store, { limits: { maxEvidenceRecords: 3, maxListEvidence: 10 } });
    await s.putEvidence(utf8('e3'));
    await expectCode(s.putEvidence(utf8('e4')), 'EVIDENCE_FULL');
    await s.putEvidence(utf8('e2')); // a duplicate is not an error even when full
    expect(await s.listEvidence(10)).toEqual([utf8('e1'), utf8('e2'), utf8('e3')]);
  });

  it('checkpoints: final ones are never downgraded, the latest final is tracked, sizes beyond the head refused', async () => {
    const { dir, store } = await fresh();
    expect(await store.latestFinalCheckpoint()).toBeUndefined();
    await appendBlock(store, [utf8('a')]);
    await appendBlock(store, [utf8('b'), utf8('c')]);
    await store.putCheckpoint(1, utf8('note 1 (1 sig)'), false);
    expect(await store.getCheckpoint(1)).toEqual({ note: utf8('note 1 (1 sig)'), final: false });
    expect(await store.latestFinalCheckpoint()).toBeUndefined();
    await store.putCheckpoint(3, utf8('note 3 final'), true);
    await store.putCheckpoint(1, utf8('note 1 final'), true);
    expect(await store.latestFinalCheckpoint()).toEqual(utf8('note 3 final'));
    await store.putCheckpoint(3, utf8('note 3 one sig'), false);
    expect(await store.getCheckpoint(3)).toEqual({ note: utf8('note 3 final'), final: true });
    await store.putCheckpoint(3, utf8('note 3 final, 4 sigs'), true);
    await expectCode(store.putCheckpoint(4, utf8('too far'), true), 'BAD_ARGUMENT');
    const s = await reopen(dir, store);
    expect(await s.latestFinalCheckpoint()).toEqual(utf8('note 3 final, 4 sigs'));
    expect(await s.getCheckpoint(1)).toEqual({ note: utf8('note 1 final'), final: true });
    expect(await s.getCheckpoint(2)).toBeUndefined();
  });

  it('the latest final checkpoint is answered from memory once read or written; a caller writing into the answer changes nothing', async () => {
    const { dir, store } = await fresh();
    await appendBlock(store, [utf8('a')]);
    await appendBlock(store, [utf8('b')]);
    await store.putCheckpoint(1, utf8('note 1 final'), true);
    const gets = vi.spyOn(ClassicLevel.prototype, 'get');
    try {
      const first = (await store.latestFinalCheckpoint())!;
      expect(first).toEqual(utf8('note 1 final'));
      first.fill(0);
      expect(await store.latestFinalCheckpoint()).toEqual(utf8('note 1 final'));
      // A newer final note moves it; an older one does not.
      await store.putCheckpoint(2, utf8('note 2 final'), true);
      await store.putCheckpoint(1, utf8('note 1 final, 4 sigs'), true);
      expect(await store.latestFinalCheckpoint()).toEqual(utf8('note 2 final'));
      expect(gets).toHaveBeenCalledTimes(0);
    } finally {
      gets.mockRestore();
    }
    // After a restart it is read from disk once, then from memory.
    const s = await reopen(dir, store);
    const again = vi.spyOn(ClassicLevel.prototype, 'get');
    try {
      expect(await s.latestFinalCheckpoint()).toEqual(utf8('note 2 final'));
      const reads = again.mock.calls.length;
      expect(reads).toBeGreaterThan(0);
      expect(await s.latestFinalCheckpoint()).toEqual(utf8('note 2 final'));
      expect(again.mock.calls.length).toBe(reads);
    } finally {
      again.mockRestore();
    }
  });

  it('meta round-trips; keys and values are bounded', async () => {
    const { dir, store } = await fresh();
    await store.putMeta('genesis', utf8('{"x":1}'));
    await store.putMeta('ünïcode', Uint8Array.of(0, 255));
    const s = await reopen(dir, store);
    expect(await s.getMeta('genesis')).toEqual(utf8('{"x":1}'));
    expect(await s.getMeta('ünïcode')).toEqual(Uint8Array.of(0, 255));
    expect(await s.getMeta('absent')).toBeUndefined();
    await expectCode(s.putMeta('', utf8('x')), 'BAD_ARGUMENT');
    await expectCode(s.putMeta('k'.repeat(257), utf8('x')), 'LIMIT_EXCEEDED');
    await expectCode(s.putMeta('k', new Uint8Array(1024 * 1024 + 1)), 'LIMIT_EXCEEDED');
  });
});

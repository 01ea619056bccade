// Which halt a throw during catch-up raises: our store failing (LevelDB's own errors, store errors
// other than a state disagreement) is STORE_FAILED; the store refusing what the ledger handed it,
// or any other throw, is DIVERGENCE. The real-peer test (test/net/peer-catchup-failstop.test.ts)
// covers the LevelDB error and a refused certified block; this covers every class of throw.
import { describe, expect, it } from 'vitest';
import { haltCodeOf } from '../../node/peer/sync.js';
import { StoreError } from '../../node/storage/errors.js';

describe('catch-up halt code', () => {
  it('names a failing store STORE_FAILED and a disagreement or anything else DIVERGENCE', () => {
    expect(haltCodeOf(Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' }))).toBe('STORE_FAILED');
    expect(haltCodeOf(new StoreError('CLOSED', 'store is closed'))).toBe('STORE_FAILED');
    expect(haltCodeOf(new StoreError('CORRUPT_RECORD', 'leaf 7 does not decode'))).toBe('STORE_FAILED');
    expect(haltCodeOf(new StoreError('NOT_NEXT_BLOCK', 'block height 5 does not follow the head'))).toBe('DIVERGENCE');
    expect(haltCodeOf(new StoreError('BAD_BLOCK', 'root is not the Merkle tree hash'))).toBe('DIVERGENCE');
    expect(haltCodeOf(new Error('a block listener threw'))).toBe('DIVERGENCE');
    expect(haltCodeOf(Object.assign(new Error('x'), { code: 'ERR_SOMETHING' }))).toBe('DIVERGENCE');
    expect(haltCodeOf(null)).toBe('DIVERGENCE');
  });
});

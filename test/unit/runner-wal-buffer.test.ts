// The consensus runner's held WAL records (node/peer/runner/wal-buffer.ts): one height at a time,
// handed over once, bounded in count and bytes, and dropped when their height is decided.
import { describe, expect, it } from 'vitest';
import { WAL_BUFFER_BYTES_MAX, WAL_BUFFER_RECORDS_MAX, WalBuffer } from '../../node/peer/runner/wal-buffer.js';

const rec = (n: number, size = 1) => new Uint8Array(size).fill(n);

describe('consensus runner: WAL buffer', () => {
  it('hands over the records of its height once, in order; another height gets none and the records are gone', () => {
    const b = new WalBuffer();
    expect(b.height).toBe(-1);
    b.add(5, rec(1));
    b.add(5, rec(2));
    expect([b.size, b.height]).toEqual([2, 5]);
    expect(b.take(4)).toEqual([]);
    expect(b.size).toBe(0);
    b.add(5, rec(3));
    expect(b.take(5)).toEqual([rec(3)]);
    expect(b.take(5)).toEqual([]);
  });

  it('a record of a new height drops those of the earlier one, as does dropBelow past its height', () => {
    const b = new WalBuffer();
    b.add(5, rec(1));
    b.add(6, rec(2));
    expect(b.take(6)).toEqual([rec(2)]);
    b.add(6, rec(3));
    b.dropBelow(6);
    expect(b.size).toBe(1);
    b.dropBelow(7);
    expect([b.size, b.height]).toEqual([0, 7]);
  });

  it('is full at its record count or its byte bound, and empty again after a take', () => {
    const b = new WalBuffer();
    for (let i = 0; i < WAL_BUFFER_RECORDS_MAX - 1; i++) b.add(1, rec(i & 255));
    expect(b.full()).toBe(false);
    b.add(1, rec(0));
    expect(b.full()).toBe(true);
    expect(b.take(1)).toHaveLength(WAL_BUFFER_RECORDS_MAX);
    expect(b.full()).toBe(false);
    b.add(1, rec(1, WAL_BUFFER_BYTES_MAX - 1));
    expect(b.full()).toBe(false);
    b.add(1, rec(2));
    expect(b.full()).toBe(true);
  });
});

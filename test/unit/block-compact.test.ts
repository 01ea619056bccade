// Compact blocks (header + leaf hashes): size, strict decoding with cheap checks first, and
// rebuilding the byte-identical block (same hash = same consensus value id) from held leaves.
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { blockHash, decodeBlock, encodeBlock, entriesHashOf, type Block } from '../../node/peer/block.js';
import { compactBytes, decodeCompact, encodeCompact, rebuildBlock, type CompactBlock } from '../../node/peer/block-compact.js';
import { fastLeafHash } from '../../node/peer/entries.js';
import { toHex } from '../../src/encoding/bytes.js';

function makeBlock(count: number, leafBytes: number): { block: Block; bytes: Uint8Array; hashes: Uint8Array[] } {
  const entries = Array.from({ length: count }, () => new Uint8Array(randomBytes(leafBytes)));
  const hashes = entries.map(fastLeafHash);
  const block: Block = {
    header: { height: 7, prevHash: new Uint8Array(32).fill(1), proposer: 2, timeMs: 1_700_000_000_000, treeSize: 1000 + count, root: new Uint8Array(32).fill(3), entriesHash: entriesHashOf(hashes) },
    entries,
  };
  return { block, bytes: encodeBlock(block), hashes };
}

function pool(block: Block): Map<string, Uint8Array> {
  return new Map(block.entries.map((e) => [toHex(fastLeafHash(e)), e]));
}

function decoded(bytes: Uint8Array): CompactBlock {
  const d = decodeCompact(bytes);
  if (!d.ok) throw new Error(`${d.code}: ${d.message}`);
  return d.compact;
}

describe('compact blocks', () => {
  it('take 32 bytes per entry whatever the entry size (O(leaf hashes), not O(entries))', () => {
    const small = makeBlock(500, 300);
    const large = makeBlock(500, 1024);
    const cs = encodeCompact(small.block, small.hashes);
    const cl = encodeCompact(large.block, large.hashes);
    // 131 bytes of header and counts + 32 per leaf hash.
    expect(cs.length).toBe(131 + 500 * 32);
    expect(cl.length).toBe(cs.length);
    expect(compactBytes(500)).toBe(cs.length);
    // The whole block carries the entries: 500 × (2 + 300) bytes of them.
    expect(small.bytes.length).toBeGreaterThan(500 * 302);
    expect(cs.length * 9).toBeLessThan(small.bytes.length);
    expect(cl.length * 30).toBeLessThan(large.bytes.length);
  });

  it('rebuild into the byte-identical block (same block hash) from the leaves held', () => {
    const { block, bytes, hashes } = makeBlock(64, 300);
    const c = decoded(encodeCompact(block, hashes));
    const held = pool(block);
    const r = rebuildBlock(c, (h) => held.get(h));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.bytes).toEqual(bytes);
    expect(toHex(blockHash(r.bytes))).toBe(toHex(blockHash(bytes)));
    expect(decodeBlock(r.bytes).ok).toBe(true);
  });

  it('report exactly the leaf hashes that are missing, in block order', () => {
    const { block, hashes } = makeBlock(10, 100);
    const c = decoded(encodeCompact(block, hashes));
    const held = pool(block);
    held.delete(toHex(hashes[3]!));
    held.delete(toHex(hashes[8]!));
    const r = rebuildBlock(c, (h) => held.get(h));
    expect('missing' in r && r.missing.map(toHex)).toEqual([toHex(hashes[3]!), toHex(hashes[8]!)]);
  });

  it('refuse leaves that do not add up to the declared entry bytes', () => {
    const { block, hashes } = makeBlock(4, 100);
    const c = decoded(encodeCompact(block, hashes));
    // A leaf source that returns other bytes under a hash (the caller must check hashes; this is the last guard).
    const r = rebuildBlock(c, () => new Uint8Array(50));
    expect(!r.ok && 'code' in r && r.code).toBe('compact_too_large');
  });

  it('reject a wrong entriesHash, duplicate or unknown-length leaf lists before any fetch', () => {
    const { block, hashes } = makeBlock(8, 100);
    const good = encodeCompact(block, hashes);
    // Byzantine proposer: entriesHash of other leaves.
    const wrongHash = encodeCompact({ ...block, header: { ...block.header, entriesHash: new Uint8Array(32).fill(9) } }, hashes);
    expect(decodeCompact(wrongHash)).toMatchObject({ ok: false, code: 'compact_bad_entries_hash' });
    // Hashes of entries that do not exist but with a matching entriesHash: consistent form, never rebuildable.
    const ghosts = hashes.map(() => new Uint8Array(randomBytes(32)));
    const ghostBlock = encodeCompact({ ...block, header: { ...block.header, entriesHash: entriesHashOf(ghosts) } }, ghosts);
    const g = decoded(ghostBlock);
    const held = pool(block);
    const r = rebuildBlock(g, (h) => held.get(h));
    expect('missing' in r && r.missing.length).toBe(8);
    // Duplicates.
    const dup = [...hashes.slice(0, 7), hashes[0]!];
    expect(decodeCompact(encodeCompact({ ...block, header: { ...block.header, entriesHash: entriesHashOf(dup) } }, dup))).toMatchObject({ ok: false, code: 'compact_duplicate_leaf' });
    // Size and count bounds, checked before hashing anything.
    expect(decodeCompact(good, { maxBlockEntries: 7, maxBlockBytes: 1 << 20 })).toMatchObject({ ok: false, code: 'compact_too_many_entries' });
    expect(decodeCompact(good, { maxBlockEntries: 100, maxBlockBytes: 500 })).toMatchObject({ ok: false, code: 'compact_too_large' });
    expect(decodeCompact(good.subarray(0, good.length - 1))).toMatchObject({ ok: false, code: 'compact_bad_size' });
    expect(decodeCompact(good.subarray(0, 100))).toMatchObject({ ok: false, code: 'compact_bad_size' });
    // A whole block is not a compact block.
    expect(decodeCompact(encodeBlock(block)).ok).toBe(false);
    expect(decodeCompact('x')).toMatchObject({ ok: false, code: 'compact_not_bytes' });
    const badVersion = Uint8Array.from(good);
    badVersion[0] = 1;
    expect(decodeCompact(badVersion)).toMatchObject({ ok: false, code: 'compact_bad_version' });
  });
});

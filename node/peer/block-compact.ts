// Compact blocks: a block's header and its entries' RFC 9162 leaf hashes, without the entries.
// What a proposal needs to carry when the entries already reached the peers through entry gossip
// (docs/consensus-proposals.md): O(32 bytes) per entry instead of the entry.
//
// The consensus value stays the FULL block (block.ts): its hash is the value id that votes and
// commit certificates name, so a peer rebuilds the identical block bytes from the leaves it holds
// (mempool) or fetches, and checks them exactly as it checks a whole block today. Nothing here is
// trusted for safety: a compact form that does not rebuild into a valid block is only a proposal
// the peer cannot prevote.
//
// Binary format, version 1 (big-endian, fixed widths, no trailing bytes):
//   u8  COMPACT_VERSION = 0xC1   (never a block version: the two cannot be confused)
//   header fields as in block.ts: u64 height | 32 prevHash | u16 proposer | u64 timeMs | u64 treeSize | 32 root | 32 entriesHash
//   u32 count                    number of entries, >= 1
//   u32 entryBytes               Σ (2 + leaf length): what maxBlockBytes bounds, known before any fetch
//   count × 32                   leaf hashes, in block order
import { ByteReader, ByteWriter } from '../../src/consensus/byte-io.js';
import { bytesEqual, toHex } from '../../src/encoding/bytes.js';
import { BLOCK_CAPS, HASH_BYTES, encodeBlock, entriesHashOf, entryBytes, readHeader, writeHeader, type Block, type BlockHeader, type BlockLimits } from './block.js';
import { failure, type PeerFailure } from './errors.js';

export const COMPACT_VERSION = 0xc1;
const HEADER_BYTES = 1 + 8 + 32 + 2 + 8 + 8 + 32 + 32 + 4 + 4;

export interface CompactBlock {
  header: BlockHeader;
  /** Σ (2 + leaf length) over the entries, as the proposer declares it. */
  entryBytes: number;
  leafHashes: Uint8Array[];
}

export type CompactCode = 'compact_not_bytes' | 'compact_bad_size' | 'compact_bad_version' | 'compact_bad_height' | 'compact_bad_number' | 'compact_empty' | 'compact_too_many_entries' | 'compact_too_large' | 'compact_duplicate_leaf' | 'compact_bad_entries_hash';

/** Encoded size of the compact form of a block of `count` entries. */
export function compactBytes(count: number): number {
  return HEADER_BYTES + count * HASH_BYTES;
}

/** The compact form of a block the caller built or checked (leafHashes[i] = leaf hash of entries[i]). */
export function encodeCompact(block: Block, leafHashes: readonly Uint8Array[]): Uint8Array {
  if (leafHashes.length !== block.entries.length) throw new Error('encodeCompact: one leaf hash per entry');
  const h = block.header;
  let body = 0;
  for (const e of block.entries) body += entryBytes(e);
  const w = new ByteWriter(compactBytes(leafHashes.length));
  writeHeader(w.u8(COMPACT_VERSION), h);
  w.u32(leafHashes.length).u32(body);
  for (const lh of leafHashes) {
    if (lh.length !== HASH_BYTES) throw new Error('encodeCompact: leaf hashes are 32 bytes');
    w.bytes(lh);
  }
  return w.finish();
}

/**
 * Strictly decodes a compact block, cheap facts first: exact size for its count, version, count
 * and declared entry bytes within `limits` (the limits in force at its height), then distinct
 * leaf hashes and entriesHash = SHA-256 of the leaf hashes (hashing 32 bytes per entry). A form
 * that passes is consistent with its header; whether the entries exist and are valid is only
 * known after rebuilding. Never throws.
 */
export function decodeCompact(bytes: unknown, limits: BlockLimits = BLOCK_CAPS): { ok: true; compact: CompactBlock } | PeerFailure {
  if (!(bytes instanceof Uint8Array)) return failure('compact_not_bytes', 'compact block must be bytes');
  if (bytes.length < HEADER_BYTES || (bytes.length - HEADER_BYTES) % HASH_BYTES !== 0) return failure('compact_bad_size', `compact block of ${bytes.length} bytes is not header + n × 32`);
  const count = (bytes.length - HEADER_BYTES) / HASH_BYTES;
  if (count > limits.maxBlockEntries) return failure('compact_too_many_entries', `compact block has ${count} leaf hashes, more than maxBlockEntries ${limits.maxBlockEntries}`);
  const r = new ByteReader(bytes);
  if (r.u8() !== COMPACT_VERSION) return failure('compact_bad_version', `compact block version must be ${COMPACT_VERSION}`);
  const header = readHeader(r);
  const { height, timeMs, treeSize, entriesHash } = header;
  const declared = r.u32();
  const body = r.u32();
  if (height < 1) return failure('compact_bad_height', 'block height must be >= 1 and <= 2^53-1');
  if (timeMs < 0 || treeSize < 0) return failure('compact_bad_number', 'time or tree size beyond 2^53-1');
  if (declared !== count) return failure('compact_bad_size', `count ${declared} does not match the ${count} leaf hashes`);
  if (count === 0) return failure('compact_empty', 'a block carries at least one entry');
  // Each entry takes 3..65,537 bytes; a declared total outside that range cannot be rebuilt.
  if (body > limits.maxBlockBytes) return failure('compact_too_large', `entries declared as ${body} bytes, more than maxBlockBytes ${limits.maxBlockBytes}`);
  if (body < 3 * count || body > 65_537 * count) return failure('compact_bad_size', `entry bytes ${body} impossible for ${count} entries`);
  const leafHashes: Uint8Array[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const lh = r.bytes(HASH_BYTES);
    const k = toHex(lh);
    if (seen.has(k)) return failure('compact_duplicate_leaf', `leaf hash ${i} appears twice`);
    seen.add(k);
    leafHashes.push(lh);
  }
  if (!bytesEqual(entriesHashOf(leafHashes), entriesHash)) return failure('compact_bad_entries_hash', 'entriesHash does not match the leaf hashes');
  return { ok: true, compact: { header, entryBytes: body, leafHashes } };
}

/**
 * Rebuilds the full block bytes from leaves found by `leafOf` (hex leaf hash -> leaf bytes whose
 * leaf hash the caller has checked). Returns the leaf hashes still missing, or the block bytes:
 * byte-identical to the proposer's block when the leaves are the same, so its hash is the value
 * id the proposal was signed for. `compact_too_large` when the leaves do not add up to the
 * declared entry bytes.
 */
export function rebuildBlock(c: CompactBlock, leafOf: (hex: string) => Uint8Array | undefined): { ok: true; bytes: Uint8Array } | { ok: false; missing: Uint8Array[] } | PeerFailure {
  const entries: Uint8Array[] = [];
  const missing: Uint8Array[] = [];
  let body = 0;
  for (const lh of c.leafHashes) {
    const leaf = leafOf(toHex(lh));
    if (leaf === undefined) {
      missing.push(lh);
      continue;
    }
    body += entryBytes(leaf);
    entries.push(leaf);
  }
  if (missing.length > 0) return { ok: false, missing };
  if (body !== c.entryBytes) return failure('compact_too_large', `entries take ${body} bytes, the proposal declared ${c.entryBytes}`);
  return { ok: true, bytes: encodeBlock({ header: c.header, entries }) };
}

// Blocks: the values Cairn's validators agree on (the `v` of Tendermint's PROPOSAL).
//
// A block = header + the entry leaves it appends to the log, in order. The header commits to the
// state AFTER applying the block (tree size and RFC 9162 root), so a decided block plus its commit
// certificate is, by itself, a proof of the log head that q organizations validated.
//
// Binary format, version 1 (big-endian, fixed widths, explicit lengths, no trailing bytes — one
// encoding per block, so blockHash is well defined):
//   u8  version = 1
//   u64 height            first block is height 1
//   32  prevHash          blockHash of height-1; for height 1 the genesis hash (ties the chain to its genesis)
//   u16 proposer          validator index that built the block
//   u64 timeMs            proposer's clock, Unix milliseconds; strictly increasing along the chain
//   u64 treeSize          log size after this block
//   32  root              RFC 9162 MTH of the log after this block
//   32  entriesHash       SHA-256 of the concatenated RFC 9162 leaf hashes of the entries
//   u32 count             number of entries (>= 1: Cairn never makes empty blocks)
//   count × (u16 length ‖ leaf bytes)   each leaf 1..65,535 bytes (the tlog-tiles entry bundle bound)
// blockHash = SHA-256(encoded block): the same as the consensus valueId (default sha256(value)),
// so a commit certificate names the block hash directly.
import { createHash } from 'node:crypto';
import { ByteReader, ByteWriter } from '../../src/consensus/byte-io.js';
import { GOV_PARAM_RANGES } from '../../src/governance/types.js';
import { failure, type PeerFailure } from './errors.js';

export const BLOCK_VERSION = 1;
export const HASH_BYTES = 32;
/** Largest leaf (C2SP tlog-tiles entry bundles use a uint16 length). */
export const LEAF_BYTES_MAX = 65_535;
const HEADER_BYTES = 1 + 8 + 32 + 2 + 8 + 8 + 32 + 32 + 4;

export interface BlockHeader {
  height: number;
  prevHash: Uint8Array;
  proposer: number;
  timeMs: number;
  treeSize: number;
  root: Uint8Array;
  entriesHash: Uint8Array;
}

export interface Block {
  header: BlockHeader;
  entries: Uint8Array[];
}

export interface BlockLimits {
  maxBlockEntries: number;
  maxBlockBytes: number;
}

/**
 * The structural bounds every block is decoded with: the largest values a `params.set` may give
 * maxBlockEntries and maxBlockBytes. The limits in force at a block's height are checked after
 * decoding (ledger validateBlock), so a block made under raised limits still decodes on every
 * peer (catch-up, restart), whatever limits the genesis had.
 */
export const BLOCK_CAPS: Readonly<BlockLimits> = Object.freeze({
  maxBlockEntries: GOV_PARAM_RANGES.maxBlockEntries![1],
  maxBlockBytes: GOV_PARAM_RANGES.maxBlockBytes![1],
});

/** SHA-256 of the concatenated leaf hashes. */
export function entriesHashOf(leafHashes: readonly Uint8Array[]): Uint8Array {
  // node:crypto (OpenSSL) rather than the portable noble SHA-256: blocks are hashed on every peer
  // several times per height (bench profile: noble sha256 of blocks ~1 % of a peer's busy time),
  // and incremental updates avoid concatenating up to maxBlockEntries hashes.
  const h = createHash('sha256');
  for (const lh of leafHashes) h.update(lh);
  return new Uint8Array(h.digest());
}

/** Bytes of the entry section (length prefixes included): what maxBlockBytes bounds. */
export function entryBytes(leaf: Uint8Array): number {
  return 2 + leaf.length;
}

/** Encodes a block; the caller built it, so malformed input is a programming error (throws). */
export function encodeBlock(b: Block): Uint8Array {
  const h = b.header;
  if (h.prevHash.length !== HASH_BYTES || h.root.length !== HASH_BYTES || h.entriesHash.length !== HASH_BYTES) {
    throw new Error('encodeBlock: hashes must be 32 bytes');
  }
  let size = HEADER_BYTES;
  for (const e of b.entries) {
    if (e.length === 0 || e.length > LEAF_BYTES_MAX) throw new Error(`encodeBlock: leaf of ${e.length} bytes outside 1..${LEAF_BYTES_MAX}`);
    size += entryBytes(e);
  }
  const w = new ByteWriter(size);
  writeHeader(w.u8(BLOCK_VERSION), h);
  w.u32(b.entries.length);
  for (const e of b.entries) w.u16(e.length).bytes(e);
  return w.finish();
}

/** The header fields after the version byte (shared with the compact form, block-compact.ts). */
export function writeHeader(w: ByteWriter, h: BlockHeader): ByteWriter {
  return w.u64(h.height).bytes(h.prevHash).u16(h.proposer).u64(h.timeMs).u64(h.treeSize).bytes(h.root).bytes(h.entriesHash);
}

/** Reads what writeHeader wrote; the caller checks `r.truncated` and the ranges. */
export function readHeader(r: ByteReader): BlockHeader {
  return { height: r.u64(), prevHash: r.bytes(HASH_BYTES), proposer: r.u16(), timeMs: r.u64(), treeSize: r.u64(), root: r.bytes(HASH_BYTES), entriesHash: r.bytes(HASH_BYTES) };
}

export function blockHash(blockBytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(blockBytes).digest());
}

export type BlockCode =
  | 'block_not_bytes'
  | 'block_too_large'
  | 'block_truncated'
  | 'block_trailing_bytes'
  | 'block_bad_version'
  | 'block_bad_height'
  | 'block_bad_number'
  | 'block_empty'
  | 'block_too_many_entries'
  | 'block_bad_entry_length';

/**
 * Strictly decodes a block. Never throws. Bounds: total bytes <= maxBlockBytes + header, entries
 * <= maxBlockEntries (default BLOCK_CAPS), each leaf 1..65,535 bytes. Semantic checks, and the
 * limits in force at the block's height, are in ledger.ts (validateBlock).
 */
export function decodeBlock(bytes: unknown, limits: BlockLimits = BLOCK_CAPS): { ok: true; block: Block } | PeerFailure {
  if (!(bytes instanceof Uint8Array)) return failure('block_not_bytes', 'block must be bytes');
  if (bytes.length > HEADER_BYTES + limits.maxBlockBytes) {
    return failure('block_too_large', `block of ${bytes.length} bytes exceeds maxBlockBytes ${limits.maxBlockBytes} + header`);
  }
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (r.truncated) return failure('block_truncated', 'block truncated');
  if (version !== BLOCK_VERSION) return failure('block_bad_version', `unknown block version ${version}, expected ${BLOCK_VERSION}`);
  const header = readHeader(r);
  const { height, timeMs, treeSize } = header;
  const count = r.u32();
  if (r.truncated) return failure('block_truncated', 'block header truncated');
  if (height < 1) return failure('block_bad_height', 'block height must be >= 1 and <= 2^53-1');
  if (timeMs < 0 || treeSize < 0) return failure('block_bad_number', 'time or tree size beyond 2^53-1');
  if (count === 0) return failure('block_empty', 'a block carries at least one entry (no empty blocks)');
  if (count > limits.maxBlockEntries) return failure('block_too_many_entries', `block has ${count} entries, more than maxBlockEntries ${limits.maxBlockEntries}`);
  const entries: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.u16();
    if (r.truncated) return failure('block_truncated', `block truncated at entry ${i}`);
    if (len === 0) return failure('block_bad_entry_length', `entry ${i} is empty`);
    const e = r.bytes(len);
    if (r.truncated) return failure('block_truncated', `block truncated inside entry ${i}`);
    entries.push(e);
  }
  if (r.remaining !== 0) return failure('block_trailing_bytes', `${r.remaining} bytes after the last entry`);
  return { ok: true, block: { header, entries } };
}

/** Reads just the height of an encoded block without decoding it (for routing); -1 if malformed. */
export function peekBlockHeight(bytes: Uint8Array): number {
  if (bytes.length < HEADER_BYTES || bytes[0] !== BLOCK_VERSION) return -1;
  const r = new ByteReader(bytes.subarray(1, 9));
  const h = r.u64();
  return h >= 1 ? h : -1;
}

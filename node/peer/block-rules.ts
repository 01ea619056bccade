// Block rules that need neither the store nor the whole block: a bounded read of the header
// fields the consensus driver asks about once per proposal and round (who the block names as its
// proposer, its time). Layout: see block.ts (version, height, prevHash, proposer, timeMs, ...).
import { ByteReader } from '../../src/consensus/byte-io.js';
import { BLOCK_VERSION, HASH_BYTES } from './block.js';

/** Bytes up to and including timeMs. */
const PEEK_BYTES = 1 + 8 + HASH_BYTES + 2 + 8;

export interface HeaderPeek {
  height: number;
  proposer: number;
  timeMs: number;
}

/** The leading header fields of an encoded block, or null when they do not parse. */
export function peekBlockHeader(bytes: Uint8Array): HeaderPeek | null {
  if (!(bytes instanceof Uint8Array) || bytes.length < PEEK_BYTES || bytes[0] !== BLOCK_VERSION) return null;
  const r = new ByteReader(bytes.subarray(1, PEEK_BYTES));
  const height = r.u64();
  r.bytes(HASH_BYTES);
  const proposer = r.u16();
  const timeMs = r.u64();
  if (r.truncated || height < 1 || timeMs < 0) return null;
  return { height, proposer, timeMs };
}

/** Bytes up to and including treeSize (the header field after timeMs). */
const PEEK_SIZE_BYTES = PEEK_BYTES + 8;

/** The tree size after an encoded block (its header's treeSize), or null when it does not parse. */
export function peekTreeSize(bytes: Uint8Array): number | null {
  if (peekBlockHeader(bytes) === null || bytes.length < PEEK_SIZE_BYTES) return null;
  const r = new ByteReader(bytes.subarray(PEEK_BYTES, PEEK_SIZE_BYTES));
  const size = r.u64();
  return r.truncated ? null : size;
}

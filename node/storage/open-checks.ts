// Open-time checks and recovery of the head: the schema version, the genesis the store belongs
// to, and a head that is consistent with the log state, tiles, leaves and blocks stored under it.
// A crash leaves either a whole block or none of it (one synced batch each), so a head that fails
// these checks means damage, not an interrupted write: the store refuses to open (CORRUPT_HEAD).

import { bytesEqual, toHex } from '../../src/encoding/bytes.js';
import {
  EMPTY_ROOT,
  HASH_BYTES,
  TILE_WIDTH,
  compactRangeAt,
  decodeState,
  leafHash,
  rootOf,
  tileWidthAt,
  type CompactRange,
} from '../../src/merkle/index.js';
import { decodeHead, type StoreHead } from './codec.js';
import { durablePut } from './durable.js';
import { StoreError } from './errors.js';
import { P_BLOCK, P_GENESIS, P_HEAD, P_LEAF, P_SCHEMA, prefixEnd, singleKey, u64Key } from './keys.js';
import type { LogReads } from './log-reads.js';
import { checkBytes } from './store-args.js';
import type { StoreOptions } from './store-api.js';
import { plain, type StoreContext } from './store-context.js';
import { SCHEMA_VERSION } from './store-limits.js';

/** Records the schema version in a new store; refuses a store of another version (SCHEMA_UNSUPPORTED). */
export async function checkSchema(ctx: StoreContext): Promise<void> {
  const version = await ctx.db.get(singleKey(P_SCHEMA));
  if (version === undefined) {
    const anyKey = await ctx.db.keys({ limit: 1 }).all();
    if (anyKey.length > 0) {
      throw new StoreError('SCHEMA_UNSUPPORTED', `${ctx.dir} holds data but no schema version key: not a Cairn store of schema ${SCHEMA_VERSION}`);
    }
    await durablePut(ctx.db, singleKey(P_SCHEMA), u32(SCHEMA_VERSION));
  } else {
    const v = version.length === 4 ? new DataView(version.buffer, version.byteOffset, 4).getUint32(0) : -1;
    if (v !== SCHEMA_VERSION) {
      throw new StoreError('SCHEMA_UNSUPPORTED', `${ctx.dir} has schema version ${v === -1 ? '(malformed)' : v}; this program reads only version ${SCHEMA_VERSION}`);
    }
  }
}

/** Records the genesis hash on first open; refuses a store of another genesis (GENESIS_MISMATCH). */
export async function checkGenesis(ctx: StoreContext, genesisHash: Uint8Array): Promise<void> {
  checkBytes('genesisHash', genesisHash, 64, 'the genesis hash length limit', 1);
  const stored = await ctx.db.get(singleKey(P_GENESIS));
  if (stored === undefined) {
    await durablePut(ctx.db, singleKey(P_GENESIS), genesisHash);
  } else if (!bytesEqual(stored, genesisHash)) {
    throw new StoreError(
      'GENESIS_MISMATCH',
      `${ctx.dir} belongs to genesis ${toHex(stored)}, not ${toHex(genesisHash)}: refusing to mix two networks in one data dir`,
    );
  }
}

/**
 * The stored head after checkHead, or null for a store without blocks (CORRUPT_HEAD when blocks
 * or leaves exist without a head).
 */
export async function loadHead(ctx: StoreContext, reads: LogReads, checkHeadBlock: StoreOptions['checkHeadBlock']): Promise<StoreHead | null> {
  const headBytes = await ctx.db.get(singleKey(P_HEAD));
  if (headBytes === undefined) {
    const anyBlock = await ctx.db.keys({ gte: u64Key(P_BLOCK, 0), lt: prefixEnd(P_BLOCK), limit: 1 }).all();
    const anyLeaf = await ctx.db.keys({ gte: u64Key(P_LEAF, 0), lt: prefixEnd(P_LEAF), limit: 1 }).all();
    if (anyBlock.length > 0 || anyLeaf.length > 0) throw new StoreError('CORRUPT_HEAD', `${ctx.dir} has blocks or leaves but no head record`);
  } else {
    let head: StoreHead;
    try {
      head = decodeHead(plain(headBytes));
    } catch (e) {
      throw new StoreError('CORRUPT_HEAD', (e as Error).message, { cause: e });
    }
    await checkHead(ctx, reads, head, checkHeadBlock);
    return head;
  }
  return null;
}

/**
 * The head must be self-consistent: its log state decodes to a compact range of its tree size
 * whose root (RFC 9162 §2.1.1) is the head root; that range equals the one rebuilt from the
 * stored tiles (so the right edge of every tile level agrees); the last leaf hashes to the last
 * level-0 tile hash; nothing lies beyond the head; the head's block and certificate exist.
 */
async function checkHead(ctx: StoreContext, reads: LogReads, head: StoreHead, checkHeadBlock: StoreOptions['checkHeadBlock']): Promise<void> {
  const corrupt = (why: string): never => {
    throw new StoreError('CORRUPT_HEAD', `${ctx.dir}: head at height ${head.height}, tree size ${head.treeSize}: ${why}`);
  };
  let state: CompactRange;
  try {
    state = decodeState(head.logState);
  } catch (e) {
    return corrupt(`log state does not decode (${(e as Error).message})`);
  }
  if (state.size !== head.treeSize) corrupt(`log state is for tree size ${state.size}`);
  if (!bytesEqual(rootOf(state), head.root)) corrupt('root of the stored log state differs from the head root');
  if (head.treeSize === 0 && !bytesEqual(head.root, EMPTY_ROOT)) corrupt('empty tree with a non-empty root');
  let fromTiles: CompactRange;
  try {
    fromTiles = await compactRangeAt(reads, head.treeSize);
  } catch (e) {
    return corrupt(`cannot rebuild the log state from the tiles (${(e as Error).message})`);
  }
  for (let i = 0; i < state.roots.length; i++) {
    if (!bytesEqual(state.roots[i]!, fromTiles.roots[i]!)) corrupt(`log state subtree root ${i} differs from the stored tiles`);
  }
  if (head.treeSize > 0) {
    // Read directly: getLeaf answers only below the cached head, which is not set yet.
    const last = await ctx.db.get(u64Key(P_LEAF, head.treeSize - 1));
    if (last === undefined) corrupt(`leaf ${head.treeSize - 1} is missing`);
    const [tile] = await reads.readTiles([{ level: 0, index: Math.floor((head.treeSize - 1) / TILE_WIDTH), width: tileWidthAt(head.treeSize, 0, Math.floor((head.treeSize - 1) / TILE_WIDTH)) }]);
    const pos = (head.treeSize - 1) % TILE_WIDTH;
    if (!bytesEqual(leafHash(last!), tile!.subarray(pos * HASH_BYTES, (pos + 1) * HASH_BYTES))) {
      corrupt(`leaf ${head.treeSize - 1} does not hash to the level-0 tile hash`);
    }
  }
  if ((await ctx.db.get(u64Key(P_LEAF, head.treeSize))) !== undefined) corrupt(`a leaf exists at index ${head.treeSize}, beyond the head`);
  if ((await ctx.db.get(u64Key(P_BLOCK, head.height + 1))) !== undefined) corrupt(`a block exists at height ${head.height + 1}, beyond the head`);
  const block = await reads.getBlock(head.height);
  if (block === undefined) corrupt('the head block is missing');
  if ((await reads.getCertificate(head.height)) === undefined) corrupt('the head certificate is missing');
  if (checkHeadBlock !== undefined) {
    const why = checkHeadBlock(head, block!);
    if (why !== null) corrupt(`head block header disagrees: ${why}`);
  }
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

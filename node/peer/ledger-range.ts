// Catch-up applies certified blocks by range: each block's commit certificate is verified and
// the block validated against the state the blocks before it in the range leave (a virtual head,
// compact range and right-edge tiles), and the range goes to the store in ONE synced batch
// (Store.applyBlocks), one fsync for up to 64 blocks instead of one per block. Only once that
// batch is durable does the ledger move its head and emit 'block' for each of them, in order, so
// nothing is signed, acknowledged, exported or emitted for a block that is not durable; a crash
// leaves the store at the last durable range (all of a batch or none of it).
//
// A block carrying governance records is not batched: the ranges before it are written, then it
// is applied alone (its record list is synced before it, and it may change the validator sets of
// the heights after it). Without records in the pending blocks, the validator set of every height
// up to the virtual head + 2 is final (a record changes the set from two heights after its block
// at the earliest), so each certificate is verified against its height's set before the blocks
// below it are durable.
import { tileWritesForAppend, encodeState, rootOf, type CompactRange, type TileId, HASH_BYTES, TILE_WIDTH } from '../../src/merkle/index.js';
import type { AppliedBlock, Store } from '../storage/store.js';
import { MAX_BLOCKS_PER_APPLY } from '../storage/block-apply.js';
import { validateBlockAt, type BlockRulesContext, type ValidatedBlock } from './block-validate.js';
import { verifyBlockCertificate } from './certificate-check.js';
import type { PeerFailure } from './errors.js';
import type { AppliedInfo, LedgerHead } from './ledger.js';
import type { ValidatorSets } from './validator-sets.js';

/** One block of a catch-up response with its commit certificate. */
export interface SyncedBlock {
  block: Uint8Array;
  certificate: Uint8Array;
  /**
   * This item's own block and certificate, already verified by the caller (sync checks a
   * response's first block before pipelining); set only by the code that verified exactly these.
   */
  verified?: VerifiedBlock;
}

/**
 * A certificate verdict handed to the range so it is not verified twice: taken only at exactly
 * the height it was verified for; at any other height the block is verified again. Sets are
 * final once known, so the verdict does not age.
 */
export interface VerifiedBlock {
  height: number;
  /** The block hash computed during verification. */
  hash: Uint8Array;
}

/** Blocks applied from the start of the range (all durable); `failure` names why the next one was not. */
export interface RangeResult {
  applied: number;
  failure: PeerFailure | null;
}

/** What applying a range needs of the ledger (Ledger.applyRange builds it). */
export interface RangeHost {
  head(): LedgerHead;
  range(): CompactRange;
  rules: BlockRulesContext;
  store: Store;
  sets: ValidatorSets;
  origin: string;
  /** Catch-up re-checks every entry (syncVerifyClientSignatures). */
  verifyEntries: boolean;
  /** The single-block path (a block with governance records). */
  applyOne(bytes: Uint8Array, certificate: Uint8Array): Promise<AppliedInfo>;
  /** Called in order for each block once the batch holding it is durable. */
  adopt(v: ValidatedBlock, hash: Uint8Array, root: Uint8Array, certificate: Uint8Array): AppliedInfo;
}

/** The store record of a validated block (the same for one block and for a range). */
export function appliedBlockOf(v: ValidatedBlock, bytes: Uint8Array, hash: Uint8Array, certificate: Uint8Array, firstIndex: number, tiles: { tile: TileId; bytes: Uint8Array }[], root: Uint8Array): AppliedBlock {
  const entries = v.entries;
  return {
    height: v.block.header.height,
    blockBytes: bytes,
    blockHash: hash,
    certificate,
    firstIndex,
    leaves: entries.map((e) => e.leaf),
    leafHashes: entries.map((e) => e.leafHash),
    // validateBlock hashed each leaf's bytes (or took a mempool entry whose leaf bytes are equal).
    leafHashesFromLeaves: true,
    clientIds: entries.map((e) => ({ client: e.client, id: e.id })),
    // Parsed once, by the decided block's light parse (undefined where a check found the entry known).
    fields: entries.map((e) => e.fields),
    tiles: tiles.map((t) => ({ level: t.tile.level, index: t.tile.index, bytes: t.bytes })),
    logState: encodeState(v.appended.state),
    treeSize: v.appended.state.size,
    root,
  };
}

/** Applies `items` as heights head + 1, head + 2, …; the caller holds the ledger's apply lock. */
export async function applyRangeLocked(host: RangeHost, items: readonly SyncedBlock[]): Promise<RangeResult> {
  let applied = 0;
  let pending: { v: ValidatedBlock; hash: Uint8Array; root: Uint8Array; rec: AppliedBlock }[] = [];
  let vHead = host.head();
  let vRange = host.range();
  // Right-edge tiles the pending blocks wrote (not in the store yet): 'level/index' -> bytes.
  let edge = new Map<string, Uint8Array>();
  const reader = {
    readTiles: async (ids: readonly TileId[]): Promise<Uint8Array[]> => {
      const fromStore = ids.filter((t) => !edge.has(`${t.level}/${t.index}`));
      const got = fromStore.length === 0 ? [] : await host.store.readTiles(fromStore);
      let k = 0;
      return ids.map((t) => edge.get(`${t.level}/${t.index}`)?.subarray(0, t.width * HASH_BYTES) ?? got[k++]!);
    },
  };
  const rules: BlockRulesContext = { ...host.rules, head: () => vHead, range: () => vRange };
  // With no records pending, the sets up to the virtual head + 2 are final (see the top).
  const sets = { known: (h: number) => host.sets.known(h) || h <= vHead.height + 2, view: (h: number) => host.sets.view(h) };
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    await host.store.applyBlocks(pending.map((p) => p.rec));
    // Every durable block is adopted even if a 'block' listener throws on an earlier one: a head
    // left behind the store would refuse every later block (NOT_NEXT_BLOCK).
    let listenerError: unknown = null;
    for (const p of pending) {
      try {
        host.adopt(p.v, p.hash, p.root, p.rec.certificate);
      } catch (e) {
        listenerError ??= e;
      }
    }
    applied += pending.length;
    pending = [];
    edge = new Map();
    vHead = host.head();
    vRange = host.range();
    if (listenerError !== null) throw listenerError;
  };
  for (const item of items) {
    const height = vHead.height + 1;
    const pre = item.verified;
    const c = pre !== undefined && pre.height === height ? { ok: true as const, hash: pre.hash } : verifyBlockCertificate(sets, host.origin, vHead.height, height, item.block, item.certificate);
    if (!c.ok) {
      await flush();
      return { applied, failure: c };
    }
    // A decided block is valid (q organizations checked it), but the structure and root are
    // recomputed anyway: if they do not match, our state diverged and we must stop, not append.
    const v = await validateBlockAt(rules, item.block, 'decided', host.verifyEntries);
    if (!v.ok) {
      await flush();
      return { applied, failure: v };
    }
    if (v.gov !== null && v.gov.records.length > 0) {
      await flush();
      await host.applyOne(item.block, item.certificate);
      applied++;
      vHead = host.head();
      vRange = host.range();
      continue;
    }
    const hash = c.hash; // computed by the certificate check
    const root = rootOf(v.appended.state);
    const tiles = await tileWritesForAppend(reader, vRange.size, v.appended.state.size, v.appended.stored);
    for (const t of tiles) {
      const key = `${t.tile.level}/${t.tile.index}`;
      if (t.bytes.length < TILE_WIDTH * HASH_BYTES) edge.set(key, t.bytes);
      else edge.delete(key);
    }
    pending.push({ v, hash, root, rec: appliedBlockOf(v, item.block, hash, item.certificate, vRange.size, tiles, root) });
    vRange = v.appended.state;
    vHead = { height, treeSize: v.appended.state.size, root, blockHash: hash, timeMs: v.block.header.timeMs };
    if (pending.length >= MAX_BLOCKS_PER_APPLY) await flush();
  }
  await flush();
  return { applied, failure: null };
}

// Builds the Merkle part of an AppliedBlock from the store's head with the merkle library: leaf
// hashes (RFC 9162 §2.1.1), the new compact range, root, and the C2SP tlog-tiles writes. The
// proposer also needs the root and tree size BEFORE the block is decided (they go in the block
// header), hence prepareAppend on its own. Pure computation plus tile reads; writes nothing.

import {
  EMPTY_RANGE,
  appendLeafHashes,
  decodeState,
  encodeState,
  leafHash,
  rootOf,
  tileWritesForAppend,
} from '../../src/merkle/index.js';
import { StoreError } from './errors.js';
import type { AppliedBlock, Store } from './store.js';

/** The log changes of appending `leaves` at the store's current head. */
export interface PreparedAppend {
  firstIndex: number;
  leaves: Uint8Array[];
  leafHashes: Uint8Array[];
  tiles: { level: number; index: number; bytes: Uint8Array }[];
  logState: Uint8Array;
  treeSize: number;
  root: Uint8Array;
}

export async function prepareAppend(store: Store, leaves: Uint8Array[]): Promise<PreparedAppend> {
  if (!Array.isArray(leaves)) throw new StoreError('BAD_ARGUMENT', 'leaves must be an array of Uint8Array');
  if (leaves.length > store.limits.maxLeavesPerBlock) {
    throw new StoreError('LIMIT_EXCEEDED', `${leaves.length} leaves exceed maxLeavesPerBlock = ${store.limits.maxLeavesPerBlock}`);
  }
  for (let i = 0; i < leaves.length; i++) {
    const l = leaves[i];
    if (!(l instanceof Uint8Array)) throw new StoreError('BAD_ARGUMENT', `leaves[${i}] must be a Uint8Array`);
    if (l.length > store.limits.maxLeafBytes) {
      throw new StoreError('LIMIT_EXCEEDED', `leaves[${i}] is ${l.length} bytes, more than maxLeafBytes = ${store.limits.maxLeafBytes}`);
    }
  }
  const head = store.head();
  const prev = head === null ? EMPTY_RANGE : decodeState(head.logState);
  const leafHashes = leaves.map((l) => leafHash(l));
  const { state, stored } = appendLeafHashes(prev, leafHashes);
  const writes = await tileWritesForAppend(store, prev.size, state.size, stored);
  return {
    firstIndex: prev.size,
    leaves,
    leafHashes,
    tiles: writes.map((w) => ({ level: w.tile.level, index: w.tile.index, bytes: w.bytes })),
    logState: encodeState(state),
    treeSize: state.size,
    root: rootOf(state),
  };
}

export interface BlockBuildInput {
  height: number;
  blockBytes: Uint8Array;
  blockHash: Uint8Array;
  certificate: Uint8Array;
  leaves: Uint8Array[];
  clientIds: { client: string; id: string }[];
}

/** prepareAppend plus the block fields: an AppliedBlock ready for store.applyBlock. */
export async function buildAppliedBlock(store: Store, input: BlockBuildInput): Promise<AppliedBlock> {
  const p = await prepareAppend(store, input.leaves);
  return {
    height: input.height,
    blockBytes: input.blockBytes,
    blockHash: input.blockHash,
    certificate: input.certificate,
    clientIds: input.clientIds,
    ...p,
  };
}

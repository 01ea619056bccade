// The ledger's public shapes (node/peer/ledger.ts): its head, what applying a block reports, its
// events and its options.
import type { Ed25519Signer } from '../../src/crypto/types.js';
import type { Store } from '../storage/store.js';
import type { EntryChecker } from './entries.js';
import type { Genesis } from './genesis.js';
import type { GovTracker } from './governance.js';

export interface LedgerHead {
  height: number;
  treeSize: number;
  root: Uint8Array;
  blockHash: Uint8Array;
  timeMs: number;
}

export interface AppliedInfo {
  height: number;
  firstIndex: number;
  count: number;
  treeSize: number;
  root: Uint8Array;
  blockHash: Uint8Array;
  leafHashes: Uint8Array[];
  /** The commit certificate the block was applied with (it names the round that decided it). */
  certificate: Uint8Array;
}

export interface LedgerEvents {
  block: [AppliedInfo];
  final: [{ treeSize: number; note: Uint8Array }];
  /** A final checkpoint note could not be written (the store failed): the peer fail-stops. */
  storeFailed: [Error];
}

export interface LedgerOptions {
  genesis: Genesis;
  store: Store;
  checker: EntryChecker;
  /**
   * Our validator index in the genesis set and our signer; null for an observer. Which
   * organization we are at a height is found by key (validator-sets.ts): `signer` and
   * `extraSigners` are all the keys we hold.
   */
  selfIndex: number | null;
  signer: Ed25519Signer | null;
  /** Further signing keys of this organization (the next key of a rotation, or the key of an organization being added). */
  extraSigners?: readonly Ed25519Signer[];
  now?: () => number;
  /** Gossips our checkpoint signature (encoded by encodeCheckpointSig). */
  publishCheckpointSig?: (bytes: Uint8Array) => void;
  log?: (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  /** Governance state (node/peer/governance.ts): client authorization and records per block. Without it, the genesis only. */
  gov?: GovTracker | null;
  /**
   * Catch-up (apply mode 'sync') verifies every client entry signature and the entry schema again
   * (default false: the verified commit certificate stands for them; docs/peer.md, Catch-up).
   */
  syncVerifyClientSignatures?: boolean;
}

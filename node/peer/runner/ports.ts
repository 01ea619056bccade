// What the consensus runner needs from the world, as narrow interfaces. The real peer passes its
// LevelDB Store, its Ledger, its Mempool and the process clock; the deterministic simulator
// (test/sim) passes an in-memory "disk" that survives simulated crashes, a ledger over its simple
// values and a simulated clock. Keeping them narrow is what lets one runner serve both.
import type { Ed25519Verifier } from '../../../src/crypto/types.js';
import type { HeightValidators } from '../../../src/consensus/index.js';
import type { Store } from '../../storage/store-api.js';
import { cancelTimer, startTimer, type LoopTimer } from '../timer.js';

/**
 * The validator set of each height and this peer's place in it (governance changes sets between
 * heights; the set of h + 1 is final once h is decided). Must be cheap: asked per message.
 */
export interface RunnerSets {
  at(height: number): HeightValidators;
}

/**
 * The durable part the runner uses: signer state, per-height WAL, evidence — the Store's own
 * methods (node/storage/store-api.ts documents their durability), so the simulator's disk
 * implements exactly these.
 */
export type RunnerStore = Pick<Store, 'putSignerStateWithWal' | 'getSignerState' | 'walAppend' | 'walRead' | 'walPrune' | 'putEvidence'>;

export interface RunnerLedgerHead {
  height: number;
}

/** The ledger seen from consensus: its head, block building, validation and application. */
export interface RunnerLedger {
  getHead(): RunnerLedgerHead;
  /** The proposer's new block for (height, proposer index) — paper getValue(). */
  buildBlock(height: number, proposer: number): Uint8Array;
  /** Validates a proposed value against the head and caches the verdict by hex value id. */
  prevalidate(value: Uint8Array): Promise<{ ok: true } | { ok: false; code: string; message: string }>;
  /** The cached verdict of prevalidate (consensus isValid); undefined = never validated. */
  verdict(valueIdHex: string): boolean | undefined;
  /** Applies a decided (or synced) block durably; throws when it does not apply. */
  apply(value: Uint8Array, certificate: Uint8Array, opts: { sign: boolean; mode: 'consensus' | 'sync' }): Promise<unknown>;
  /** Signs and publishes our checkpoint signature of the head (after catch-up). */
  signHead(): Promise<void>;
  /** Optional timeliness of a fresh proposal (see ConsensusConfig.isTimely). */
  timely?(value: Uint8Array): boolean;
  /** Optional validator index the value names as its proposer (see ConsensusConfig.proposerOf). */
  proposerOf?(value: Uint8Array): number | null;
  /**
   * Optional compact proposals (docs/consensus-proposals.md): the compact form of a value (null:
   * send it whole) and the value rebuilt from a compact form, fetching what is missing before
   * deadlineMs. Both or neither; absent (the simulator) = proposals carry whole values.
   */
  compactOf?(value: Uint8Array): Uint8Array | null;
  expandCompact?(compact: Uint8Array, deadlineMs: number): Promise<{ ok: true; value: Uint8Array } | { ok: false; code: string; message: string }>;
  /** Optional per-height validator sets (the peer's ledger follows governance); absent = the genesis set. */
  readonly validatorSets?: RunnerSets | null;
}

export interface RunnerMempool {
  readonly size: number;
  /** Calls f whenever entries were added; returns the unsubscribe function. */
  onAdded(f: () => void): () => void;
}

/** Time and timers (the simulator's virtual clock in tests). */
export interface RunnerClock {
  now(): number;
  setTimeout(f: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process clock; a zero wait is setImmediate (see ../timer.ts). */
export const systemClock: RunnerClock = {
  now: () => Date.now(),
  setTimeout: (f, ms) => startTimer(f, ms),
  clearTimeout: (h) => cancelTimer(h as LoopTimer),
};

/** Cryptography the runner uses (the simulator injects fast stand-ins). */
export interface RunnerCrypto {
  verifier: Ed25519Verifier;
  valueId(value: Uint8Array): Uint8Array;
}

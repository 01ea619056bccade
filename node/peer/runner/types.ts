// The consensus runner's public interface: its options (what the peer or the simulator passes
// in) and its status (what /status, metrics and tests read).
import type { Ed25519Signer } from '../../../src/crypto/types.js';
import type { ConsensusConfig, Timeouts } from '../../../src/consensus/index.js';
import type { Quota } from './admission.js';
import type { RunnerClock, RunnerCrypto, RunnerLedger, RunnerMempool, RunnerSets, RunnerStore } from './ports.js';

/** The parts of the genesis the runner reads (a full Genesis satisfies it). */
export interface RunnerGenesis {
  origin: string;
  validators: readonly { name: string; publicKey: Uint8Array }[];
  limits: { maxBlockBytes: number; blockIntervalMs: number; timeouts: Timeouts };
}

export type HaltCode = 'DIVERGENCE' | 'TRANSITION_LIMIT' | 'WAL_FULL' | 'STORE_FAILED' | 'DOUBLE_SIGN_RISK' | 'INVARIANT';

export interface RunnerOptions {
  genesis: RunnerGenesis;
  store: RunnerStore;
  ledger: RunnerLedger;
  mempool: RunnerMempool;
  /** Our index and signer in the genesis set (every height when no per-height sets are given). */
  selfIndex: number | null;
  signer: Ed25519Signer | null;
  /**
   * Per-height validator sets (and our index and signer in each); default: the ledger's
   * `validatorSets`, else the genesis set with selfIndex and signer for every height.
   */
  sets?: RunnerSets;
  publish: (bytes: Uint8Array) => void;
  /** Called when a message shows that others are at a height above ours (catch-up needed). */
  onBehind: (height: number) => void;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Consensus stopped on this peer for good (fail-stop); see HaltCode. Called once. */
  onHalt?: (code: HaltCode, message: string, fields?: Record<string, unknown>) => void;
  /** Default: the process clock. */
  clock?: RunnerClock;
  /** Default: node:crypto Ed25519 and SHA-256. */
  crypto?: RunnerCrypto;
  /** Per-validator WAL share of a height; default: the store's per-height caps divided by n. */
  walQuota?: Quota;
  /** Driver settings for tests and the simulator (windows, injected bugs). Never set in production. */
  driverOverrides?: Partial<Pick<ConsensusConfig, 'maxRoundsKept' | 'maxPastRoundsKept' | 'bugs' | 'maxValueBytes'>>;
}

export interface RunnerStatus {
  height: number;
  round: number;
  step: string;
  running: boolean;
  /** Consensus stopped for good on this peer (see haltCode and the error log). */
  halted: boolean;
  haltCode: HaltCode | null;
  queueDepth: number;
  /** Bytes of queued gossip messages. */
  queueBytes: number;
  /** Future-height proposals held, and their value bytes. */
  heldProposals: number;
  heldBytes: number;
  /** WAL records and bytes of the current height written (or replayed) by this runner. */
  walRecords: number;
  walBytes: number;
  /** Messages handed to the driver but not written because their sender's WAL share was used up. */
  walSkipped: number;
  decided: number;
  resent: number;
  evidence: number;
  rejected: Record<string, number>;
}

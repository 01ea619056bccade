// Bounds of the consensus runner (count and bytes, per validator where a validator could abuse
// them), in one place.
import { FUTURE_HEIGHT_WINDOW_DEFAULT } from '../../../src/consensus/index.js';

/**
 * Heights above ours whose messages are accepted from gossip and held or buffered: the driver's
 * futureHeightWindow. Anything higher is 'ignore'd by the topic validator, so gossipsub neither
 * caches nor relays it; a peer really that far behind learns it from the sync status poll.
 */
export const HEIGHTS_AHEAD_MAX = FUTURE_HEIGHT_WINDOW_DEFAULT;
/** Future-height proposals held per (height, validator): the proposer's re-proposals across rounds. */
export const HELD_PER_VALIDATOR_MAX = 2;
/** Queued gossip tasks per validator (back-pressure; dropped messages are re-sent on timeouts). */
export const QUEUE_TASKS_PER_VALIDATOR_MAX = 1_024;
/** Queued gossip tasks in total. */
export const QUEUE_DEPTH_MAX = 10_000;
/** Store WAL caps assumed when the store does not expose its limits (the LevelDB store's defaults). */
export const WAL_RECORDS_PER_HEIGHT_DEFAULT = 100_000;
export const WAL_BYTES_PER_HEIGHT_DEFAULT = 256 * 1024 * 1024;

/** Driver rejections that mean "this message was not used" (it is then not written to the WAL). */
export const MESSAGE_REJECTIONS: ReadonlySet<string> = new Set([
  'BAD_SIGNATURE',
  'UNKNOWN_VALIDATOR',
  'MALFORMED',
  'STALE_HEIGHT',
  'FUTURE_HEIGHT_TOO_FAR',
  'BUFFER_FULL',
  'ROUND_OUT_OF_WINDOW',
  'WRONG_PROPOSER',
  'VALUE_TOO_LARGE',
  'NOT_STARTED',
  'SET_NOT_KNOWN',
]);

/**
 * Gossip messages waiting in the runner's queue, per sending validator: a flooder fills only its
 * own share (count and bytes) and the others' messages still get in.
 */
export class GossipBudget {
  private readonly tasks: Uint32Array;
  private readonly bytes: Float64Array;
  private total = 0;

  constructor(
    /** Validator indexes covered: the largest set (indexes of different heights' sets share slots). */
    private readonly n: number,
    private readonly bytesPerValidator: number,
  ) {
    this.tasks = new Uint32Array(n);
    this.bytes = new Float64Array(n);
  }

  /** Reserves room for one message of `size` bytes from `validator`; false when its share is full. */
  take(validator: number, size: number): boolean {
    if (validator >= this.n) return false;
    if (this.tasks[validator]! >= QUEUE_TASKS_PER_VALIDATOR_MAX || this.bytes[validator]! + size > this.bytesPerValidator) return false;
    this.tasks[validator]! += 1;
    this.bytes[validator]! += size;
    this.total += size;
    return true;
  }

  release(validator: number, size: number): void {
    this.tasks[validator]! -= 1;
    this.bytes[validator]! -= size;
    this.total -= size;
  }

  /** Bytes of all queued gossip messages. */
  get queuedBytes(): number {
    return this.total;
  }
}
/** Received compact proposal records kept per height for the WAL (one per (validator, round, value)), in count and bytes. */
export const COMPACT_RECORDS_MAX = 256;
export const COMPACT_RECORD_BYTES_MAX = 16 * 1024 * 1024;
/** Compact records remembered as handled (dedupe of re-sends before a rebuild); cleared when full. */
export const COMPACT_SEEN_MAX = 4096;

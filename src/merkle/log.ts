// MerkleLog: an in-memory log for tests and light use — compact range for appends, a
// MemoryTileStore for every past size's roots and proofs. The peer (node/) composes the same
// pieces over LevelDB instead.

import { MerkleError } from './errors.js';
import { type CompactRange, EMPTY_RANGE, MAX_APPEND_BATCH, appendLeafHashes, rootOf } from './compact-range.js';
import { leafHash } from './hash.js';
import { checkSize } from './math.js';
import { consistencyProof, inclusionProof, treeHash } from './proof.js';
import { MemoryTileStore, tileWritesForAppend } from './tile-store.js';

export class MerkleLog {
  private state: CompactRange = EMPTY_RANGE;
  readonly tiles = new MemoryTileStore();
  /** Serialises appends: each must read the previous partial tiles before writing new ones. */
  private tail: Promise<unknown> = Promise.resolve();

  get size(): number {
    return this.state.size;
  }

  /** Current append state (immutable). */
  get compactRange(): CompactRange {
    return this.state;
  }

  /** Root hash of the current tree. */
  root(): Uint8Array {
    return rootOf(this.state);
  }

  /** Appends entries (hashed as leaves); resolves to the index of the first one. */
  async append(entries: readonly Uint8Array[]): Promise<number> {
    if (!Array.isArray(entries)) throw new MerkleError('BAD_HASH', 'entries must be an array of Uint8Array');
    return this.appendLeafHashes(entries.map((e) => leafHash(e)));
  }

  /** Appends precomputed leaf hashes; resolves to the index of the first one. */
  async appendLeafHashes(hashes: readonly Uint8Array[]): Promise<number> {
    if (!Array.isArray(hashes) || hashes.length > MAX_APPEND_BATCH) {
      throw new MerkleError('LIMIT_EXCEEDED', `append takes an array of at most MAX_APPEND_BATCH = ${MAX_APPEND_BATCH} leaves`);
    }
    const run = this.tail.then(async () => {
      const { state, stored } = appendLeafHashes(this.state, hashes);
      const writes = await tileWritesForAppend(this.tiles, this.state.size, state.size, stored);
      for (const w of writes) this.tiles.write(w.tile, w.bytes);
      const first = this.state.size;
      this.state = state;
      return first;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Root of the tree at a past (or the current) size. */
  async rootAt(size: number): Promise<Uint8Array> {
    this.checkKnown(size);
    return treeHash(this.tiles, size);
  }

  /** Inclusion proof of leaf `index` in the tree of `size` leaves (default: current size). */
  async inclusionProof(index: number, size: number = this.size): Promise<Uint8Array[]> {
    this.checkKnown(size);
    return inclusionProof(this.tiles, index, size);
  }

  /** Consistency proof from size1 to size2 (default: current size). */
  async consistencyProof(size1: number, size2: number = this.size): Promise<Uint8Array[]> {
    this.checkKnown(size2);
    return consistencyProof(this.tiles, size1, size2);
  }

  private checkKnown(size: number): void {
    checkSize('size', size);
    if (size > this.state.size) throw new MerkleError('BAD_SIZE', `size ${size} is beyond the log's size ${this.state.size}`);
  }
}

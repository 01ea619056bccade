// An in-memory Bloom filter over the store's "already logged" index keys (leaf hash -> index and
// (client, id) -> index). Admission asks, for every entry a client or a peer sends, whether it is
// already in the log; almost always it is not, and a Bloom filter answers "definitely not" from
// memory. Only a "maybe" goes to LevelDB. A Bloom filter has no false negatives, so every answer
// the store gives is exactly what LevelDB alone would give.
//
// Why: in the bench profile (bench/run.ts, 4 peer processes on 2 cores) LevelDB multi-gets for these
// lookups held the peer's event loop for ~13 % of its busy time (the native call waits on
// LevelDB's mutex while block batches are being written).
//
// Bounded memory: a fixed bit array (BITS bits). Past its design load the false-positive rate
// rises (more LevelDB reads), answers stay exact.

/** Bits in the filter: 2^26 = 8 MiB. */
export const LOGGED_FILTER_BITS = 2 ** 26;
/** Bit positions set per key (k). Optimal for ~4.6 million keys (2.3 million entries). */
export const LOGGED_FILTER_HASHES = 10;

/**
 * 32-bit FNV-1a of `b` from `seed`. Saved filter files (logged-filter-file.ts) hold bit positions
 * from this: changing it, k or the double hashing requires bumping that file's MAGIC.
 */
function fnv1a(b: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i]!;
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (murmur3 fmix32) so that nearby keys spread over the whole array.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class LoggedFilter {
  private readonly words: Uint32Array;
  private readonly mask: number;
  private count = 0;

  /** `words`: a saved bit array to adopt (fromState), else a new empty one. */
  constructor(bits = LOGGED_FILTER_BITS, private readonly hashes = LOGGED_FILTER_HASHES, words?: Uint32Array) {
    if (!Number.isInteger(Math.log2(bits)) || bits < 64) throw new RangeError('bits must be a power of two >= 64');
    if (words !== undefined && words.length !== bits / 32) throw new RangeError(`${words.length} words for ${bits} bits`);
    this.words = words ?? new Uint32Array(bits / 32);
    this.mask = bits - 1;
  }

  /** Keys added so far (for diagnostics). */
  get size(): number {
    return this.count;
  }

  add(key: Uint8Array): void {
    // Double hashing (Kirsch–Mitzenmacher): position_i = h1 + i·h2.
    const h1 = fnv1a(key, 0x811c9dc5);
    const h2 = fnv1a(key, 0x9747b28c) | 1;
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      const w = bit >>> 5;
      this.words[w] = this.words[w]! | (1 << (bit & 31));
    }
    this.count++;
  }

  /** The bit array (a view, not a copy) and its shape, for logged-filter-file.ts. */
  get state(): { bits: number; hashes: number; count: number; words: Uint32Array } {
    return { bits: this.mask + 1, hashes: this.hashes, count: this.count, words: this.words };
  }

  /** A filter over `words` (adopted, not copied; as `state` gave them): the keys added to that one. */
  static fromState(bits: number, hashes: number, count: number, words: Uint32Array): LoggedFilter {
    const f = new LoggedFilter(bits, hashes, words);
    f.count = count;
    return f;
  }

  /** false: the key was never added. true: it may have been. */
  mightContain(key: Uint8Array): boolean {
    const h1 = fnv1a(key, 0x811c9dc5);
    const h2 = fnv1a(key, 0x9747b28c) | 1;
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if ((this.words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

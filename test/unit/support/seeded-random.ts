// Deterministic randomness for property tests: a SHA-256 counter stream, so a failing case is
// reproducible from its printed seed.
import { sha256 } from '../../../src/crypto/hash.js';
import { utf8, concatBytes } from '../../../src/encoding/bytes.js';

export class SeededRandom {
  private counter = 0;
  private pool: Uint8Array = new Uint8Array(0);
  private pos = 0;
  constructor(readonly seed: string) {}

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (this.pos >= this.pool.length) {
        this.pool = sha256(concatBytes(utf8(this.seed), utf8(':'), utf8(String(this.counter++))));
        this.pos = 0;
      }
      out[i] = this.pool[this.pos++]!;
    }
    return out;
  }

  /** Uniform-ish integer in [0, n) for n <= 2^32. */
  int(n: number): number {
    const b = this.bytes(4);
    return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) % n;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

// Seeded pseudo-random number generator for the simulator. EVERY random choice of a simulation
// (network latency, drops, crash times, Byzantine choices, proposed values) comes from a Prng
// derived from the run's seed, so a run is a pure function of (seed, config) and any failure can
// be replayed from its seed (the FoundationDB / TigerBeetle VOPR discipline).
//
// Generator: sfc32 (Chris Doty-Humphrey's "small fast chaotic" generator, PractRand-clean,
// 128-bit state, 32-bit output). State initialised with splitmix32 so that nearby seeds give
// unrelated streams. Not cryptographic; it does not need to be.

/** Largest seed accepted: seeds are integers in [0, 2^53) so they print and parse exactly. */
export const SEED_MAX = Number.MAX_SAFE_INTEGER;

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Mixes a label into a 32-bit value (FNV-1a), used to derive named sub-streams. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` must be an integer in [0, SEED_MAX]; `stream` selects an independent sub-stream. */
  constructor(seed: number, stream = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`SIM_BAD_SEED: seed must be an integer in [0, ${SEED_MAX}], got ${seed}`);
    }
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
    const st = { s: (lo ^ Math.imul(hi, 0x27d4eb2d) ^ Math.imul(stream >>> 0, 0x165667b1)) | 0 };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st) | 1;
    // Discard the first outputs: sfc32 needs a few rounds to mix a fresh state.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** A new independent generator derived from this one's seed-space and a label. */
  static derive(seed: number, label: string): Prng {
    return new Prng(seed, hashLabel(label));
  }

  /** Next uniformly distributed 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextU32() / 0x1_0000_0000;
  }

  /** Uniform integer in [0, maxExclusive); maxExclusive must be in [1, 2^32]. Unbiased (rejection). */
  int(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > 0x1_0000_0000) {
      throw new RangeError(`SIM_BAD_RANGE: int(${maxExclusive})`);
    }
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % maxExclusive);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % maxExclusive;
    }
  }

  /** Uniform integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    if (hi < lo) throw new RangeError(`SIM_BAD_RANGE: range(${lo}, ${hi})`);
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p (p <= 0: never, p >= 1: always; no draw is consumed then). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('SIM_BAD_RANGE: pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** Fisher–Yates shuffle of a copy. */
  shuffled<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return out;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 4) {
      let x = this.nextU32();
      for (let j = i; j < Math.min(i + 4, length); j++) {
        out[j] = x & 0xff;
        x >>>= 8;
      }
    }
    return out;
  }
}

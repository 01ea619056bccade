// A token bucket (one per peer and protocol): `burst` tokens at most, refilled continuously at
// `ratePerSecond`. Each request takes one token; an empty bucket means RATE_LIMITED.
// The clock is injected so the arithmetic is tested without sleeping.

export type ClockMs = () => number;

export const monotonicClockMs: ClockMs = () => performance.now();

export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly clock: ClockMs = monotonicClockMs,
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new RangeError('ratePerSecond must be > 0');
    if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError('burst must be >= 1');
    this.tokens = burst;
    this.lastMs = clock();
  }

  private refill(): void {
    const now = this.clock();
    // A clock that goes backwards (it should not: monotonic) never removes tokens.
    const elapsedMs = Math.max(0, now - this.lastMs);
    this.lastMs = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
  }

  /** Takes one token if there is one; returns false (taking nothing) otherwise. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Tokens available now (fractional). */
  available(): number {
    this.refill();
    return this.tokens;
  }
}

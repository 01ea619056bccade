// Remembers the nonces of accepted HTTP message signatures for as long as their `created` time is
// inside the acceptance window, so a captured request cannot be replayed. Bounded in count and in
// bytes overall and in count per key, so that one key holder cannot crowd out the others; when a
// bound is reached the request is refused (fail closed) rather than a nonce forgotten early.

export type ReplayVerdict = 'fresh' | 'replayed' | 'full';

export class ReplayCache {
  // key "<keyid> <nonce>" -> expiry (ms). Insertion order is roughly expiry order (created is
  // close to now for accepted signatures), so pruning scans from the front.
  private readonly seen = new Map<string, number>();
  private readonly perKey = new Map<string, number>();
  private bytes = 0;

  constructor(
    readonly entriesMax: number,
    readonly entriesPerKeyMax: number,
    readonly bytesMax: number = entriesMax * 256,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /** Is this nonce already used (without recording it)? Cheap: checked before the signature. */
  has(keyid: string, nonce: string, nowMs: number): boolean {
    const exp = this.seen.get(`${keyid} ${nonce}`);
    return exp !== undefined && exp > nowMs;
  }

  /** Records a nonce of a verified signature, valid until `expiresMs`. */
  add(keyid: string, nonce: string, expiresMs: number, nowMs: number): ReplayVerdict {
    this.prune(nowMs);
    const k = `${keyid} ${nonce}`;
    const old = this.seen.get(k);
    if (old !== undefined && old > nowMs) return 'replayed';
    const cost = k.length * 2 + 64;
    const mine = this.perKey.get(keyid) ?? 0;
    if (mine >= this.entriesPerKeyMax || this.seen.size >= this.entriesMax || this.bytes + cost > this.bytesMax) return 'full';
    if (old !== undefined) this.forget(k);
    this.seen.set(k, expiresMs);
    this.perKey.set(keyid, mine + 1);
    this.bytes += cost;
    return 'fresh';
  }

  private forget(k: string): void {
    this.seen.delete(k);
    const keyid = k.slice(0, k.indexOf(' '));
    const n = (this.perKey.get(keyid) ?? 1) - 1;
    if (n <= 0) this.perKey.delete(keyid);
    else this.perKey.set(keyid, n);
    this.bytes -= k.length * 2 + 64;
  }

  private prune(nowMs: number): void {
    // Bounded work per call: the front of the map holds the oldest entries.
    let budget = 1024;
    for (const [k, exp] of this.seen) {
      if (exp > nowMs || budget-- <= 0) break;
      this.forget(k);
    }
  }
}

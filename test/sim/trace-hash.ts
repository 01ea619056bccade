// A fast 64-bit running hash of a simulation's event stream (two independent 32-bit FNV-1a lanes
// with different offsets). It is a determinism fingerprint — same seed + config must give the same
// hash — not a cryptographic commitment, so speed wins over strength here.

export class TraceHash {
  private a = 0x811c9dc5;
  private b = 0x01000193 ^ 0x5bd1e995;

  /** Mixes a 32-bit integer (non-integers are scaled to microseconds first). */
  num(x: number): this {
    let v = Number.isInteger(x) ? x : Math.round(x * 1000);
    // Mix the low and (when present) high 32-bit halves.
    const hi = Math.floor(v / 0x1_0000_0000);
    v = v >>> 0;
    this.word(v);
    if (hi !== 0) this.word(hi >>> 0);
    return this;
  }

  bytes(b: Uint8Array): this {
    for (let i = 0; i < b.length; i++) this.byte(b[i]!);
    return this;
  }

  str(s: string): this {
    for (let i = 0; i < s.length; i++) this.word(s.charCodeAt(i));
    return this;
  }

  hex(): string {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0');
  }

  private word(w: number): void {
    this.byte(w & 0xff);
    this.byte((w >>> 8) & 0xff);
    this.byte((w >>> 16) & 0xff);
    this.byte((w >>> 24) & 0xff);
  }

  private byte(x: number): void {
    this.a = Math.imul(this.a ^ x, 0x01000193);
    this.b = Math.imul(this.b ^ x, 0x01000193) ^ (this.b >>> 15);
  }
}

// Minimal big-endian writer/reader for the consensus binary formats. The reader never throws:
// every read checks bounds and records the first failure, so decoders turn it into a result.

export class ByteWriter {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private off = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  u8(v: number): this {
    this.view.setUint8(this.off, v);
    this.off += 1;
    return this;
  }
  u16(v: number): this {
    this.view.setUint16(this.off, v);
    this.off += 2;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.off, v);
    this.off += 4;
    return this;
  }
  /** Unsigned 64-bit from a safe integer (callers check 0 <= v <= 2^53 - 1). */
  u64(v: number): this {
    this.view.setUint32(this.off, Math.floor(v / 2 ** 32));
    this.view.setUint32(this.off + 4, v >>> 0);
    this.off += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.buf.set(b, this.off);
    this.off += b.length;
    return this;
  }
  finish(): Uint8Array {
    if (this.off !== this.buf.length) throw new Error(`ByteWriter size mismatch: wrote ${this.off} of ${this.buf.length}`);
    return this.buf;
  }
}

export class ByteReader {
  private readonly view: DataView;
  private off = 0;
  /** Set on the first out-of-bounds read; later reads return 0 / empty. */
  truncated = false;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  get remaining(): number {
    return this.buf.length - this.off;
  }
  private need(n: number): boolean {
    if (this.truncated || this.off + n > this.buf.length) {
      this.truncated = true;
      return false;
    }
    return true;
  }
  u8(): number {
    if (!this.need(1)) return 0;
    const v = this.view.getUint8(this.off);
    this.off += 1;
    return v;
  }
  u16(): number {
    if (!this.need(2)) return 0;
    const v = this.view.getUint16(this.off);
    this.off += 2;
    return v;
  }
  u32(): number {
    if (!this.need(4)) return 0;
    const v = this.view.getUint32(this.off);
    this.off += 4;
    return v;
  }
  /** Unsigned 64-bit; returns -1 when the value exceeds 2^53 - 1 (not exactly representable). */
  u64(): number {
    if (!this.need(8)) return 0;
    const hi = this.view.getUint32(this.off);
    const lo = this.view.getUint32(this.off + 4);
    this.off += 8;
    if (hi > 0x1fffff) return -1;
    return hi * 2 ** 32 + lo;
  }
  /** A copy of the next n bytes (copies so decoded messages never alias the input buffer). */
  bytes(n: number): Uint8Array {
    if (!this.need(n)) return new Uint8Array(0);
    const out = this.buf.slice(this.off, this.off + n);
    this.off += n;
    return out;
  }
}

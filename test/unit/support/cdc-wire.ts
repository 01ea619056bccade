// A big-endian writer for hand-built PostgreSQL replication messages in the cdc unit tests.
export class W {
  parts: number[] = [];
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  i16(v: number): this {
    return this.u8(v >> 8).u8(v);
  }
  i32(v: number): this {
    return this.u8(v >>> 24).u8(v >>> 16).u8(v >>> 8).u8(v);
  }
  u64(v: bigint): this {
    return this.i32(Number(v >> 32n)).i32(Number(v & 0xffffffffn));
  }
  /** A NUL-terminated string. */
  str(s: string): this {
    for (const b of new TextEncoder().encode(s)) this.u8(b);
    return this.u8(0);
  }
  /** A text column value ('t', length, bytes). */
  text(s: string): this {
    const b = new TextEncoder().encode(s);
    this.u8(0x74).i32(b.length);
    for (const x of b) this.u8(x);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

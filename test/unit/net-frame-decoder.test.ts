// The empty-buffer check given to @libp2p/utils' LengthPrefixedDecoder (node/net/frame-decoder.ts):
// the real class, with Noise's 2-byte prefix and with the library's default varint prefix,
// decodes exactly the frames that were encoded, however the bytes are cut into reads, and never
// asks its length decoder about an empty buffer (the call that used to throw on every read); a
// decoder class the wrap cannot reach fails the probe and is left exactly as it was.
import { LengthPrefixedDecoder } from '@libp2p/utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { countingU16LengthDecoder, installFrameDecoderFix, installOn, type FrameDecoderClass } from '../../node/net/frame-decoder.js';

/** Deterministic xorshift32: the same cases on every run. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

function u16Prefix(n: number): number[] {
  return [n >> 8, n & 255];
}
function varintPrefix(n: number): number[] {
  const out: number[] = [];
  while (n >= 128) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

interface Case {
  frames: Uint8Array[];
  reads: Uint8Array[];
}

/** Random frames (some empty, which the decoder skips), encoded with `prefix`, cut into random reads. */
function makeCase(next: (n: number) => number, prefix: (n: number) => number[]): Case {
  const frames: Uint8Array[] = [];
  const bytes: number[] = [];
  const count = 1 + next(12);
  for (let f = 0; f < count; f++) {
    const len = next(5) === 0 ? 0 : next(300);
    const frame = Uint8Array.from({ length: len }, () => next(256));
    frames.push(frame);
    bytes.push(...prefix(len), ...frame);
  }
  // Reads: sometimes exactly frame-aligned (the common case on a socket), else random cuts.
  const reads: Uint8Array[] = [];
  if (next(2) === 0) {
    let at = 0;
    for (const fr of frames) {
      const size = prefix(fr.length).length + fr.length;
      reads.push(Uint8Array.from(bytes.slice(at, at + size)));
      at += size;
    }
  } else {
    let at = 0;
    while (at < bytes.length) {
      const size = 1 + next(Math.min(400, bytes.length - at));
      reads.push(Uint8Array.from(bytes.slice(at, at + size)));
      at += size;
    }
  }
  return { frames, reads };
}

function decodeAll(d: LengthPrefixedDecoder, reads: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const r of reads) for (const f of d.decode(r)) out.push(f.subarray());
  return out;
}

/**
 * A length-prefixed decoder (2-byte prefix) that keeps its length decoder where the wrap does not
 * look: what a library version that renamed its field would be. It asks about an empty buffer.
 */
class RenamedField {
  private buf: number[] = [];
  constructor(private readonly init: ConstructorParameters<FrameDecoderClass>[0]) {}
  *decode(bytes: Uint8Array): Generator<Uint8Array> {
    this.buf.push(...bytes);
    for (;;) {
      let len: number;
      try {
        len = this.init.lengthDecoder(Uint8Array.from(this.buf));
      } catch (e) {
        if (e instanceof RangeError) return;
        throw e;
      }
      if (len > (this.init.maxDataLength ?? Infinity)) throw new Error('frame too long');
      if (this.buf.length < 2 + len) return;
      const frame = Uint8Array.from(this.buf.slice(2, 2 + len));
      this.buf = this.buf.slice(2 + len);
      if (frame.length > 0) yield frame;
    }
  }
}

describe('frame decoder empty-buffer check', () => {
  beforeAll(() => {
    installFrameDecoderFix();
  });

  it('is installed against the library version in use, once per process', () => {
    expect(installFrameDecoderFix()).toBe('installed');
    expect(installFrameDecoderFix()).toBe('installed');
  });

  it("Noise's 2-byte prefix: 400 random cases decode to exactly the non-empty frames, and an empty buffer is never passed to the length decoder", () => {
    const next = rng(0x5eed);
    for (let i = 0; i < 400; i++) {
      const c = makeCase(next, u16Prefix);
      const ld = countingU16LengthDecoder();
      const d = new LengthPrefixedDecoder({ lengthDecoder: ld.decode as never, encodingLength: () => 2 });
      expect(decodeAll(d, c.reads)).toEqual(c.frames.filter((f) => f.length > 0));
      expect(ld.emptyAsks()).toBe(0);
    }
  });

  it("the library's default varint prefix decodes the same way", () => {
    const next = rng(0xfeed);
    for (let i = 0; i < 200; i++) {
      const c = makeCase(next, varintPrefix);
      expect(decodeAll(new LengthPrefixedDecoder(), c.reads)).toEqual(c.frames.filter((f) => f.length > 0));
    }
  });

  it('still refuses a frame over maxDataLength and a buffer over maxBufferSize', () => {
    const over = new LengthPrefixedDecoder({ lengthDecoder: countingU16LengthDecoder().decode as never, encodingLength: () => 2, maxDataLength: 10 });
    expect(() => decodeAll(over, [Uint8Array.from([0, 11])])).toThrow(/length/i);
    const full = new LengthPrefixedDecoder({ lengthDecoder: countingU16LengthDecoder().decode as never, encodingLength: () => 2, maxBufferSize: 8 });
    expect(() => decodeAll(full, [Uint8Array.from([0, 100, 1, 2, 3, 4, 5, 6, 7])])).toThrow(/limit/i);
  });

  it('a decoder the wrap cannot reach fails the probe and keeps its own decode; so does one whose decode throws', () => {
    const own = RenamedField.prototype.decode;
    expect(installOn(RenamedField)).toBe('unchanged');
    expect(RenamedField.prototype.decode).toBe(own);
    // It still decodes (and still asks about the empty buffer: nothing of it was changed).
    const ld = countingU16LengthDecoder();
    const d = new RenamedField({ lengthDecoder: ld.decode, encodingLength: () => 2 });
    expect([...d.decode(Uint8Array.from([0, 1, 5]))]).toEqual([Uint8Array.from([5])]);
    expect(ld.emptyAsks()).toBe(1);

    class Broken {
      *decode(): Generator<Uint8Array> {
        throw new Error('changed beyond recognition');
      }
    }
    const broken = Broken.prototype.decode;
    expect(installOn(Broken as unknown as FrameDecoderClass)).toBe('unchanged');
    expect(Broken.prototype.decode).toBe(broken);
  });
});

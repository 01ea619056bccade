// Noise (the encryption of every peer connection) cuts each socket read into frames with
// @libp2p/utils' LengthPrefixedDecoder. After the last whole frame of a read its buffer is empty,
// yet the decoder still asks its length decoder for the next length prefix; the length decoder
// throws a RangeError, which the decoder catches as its signal to wait for more bytes. That is a
// new Error with a captured stack trace on almost every read of every connection: in a CPU
// profile (perf) of four peers at 20 entries/s, 2.7 % of their main threads' CPU, and 3 % of
// the CPU of a gossip message between two hosts. it-length-prefixed, which gossipsub's own
// streams use, checks for an empty buffer before it decodes a length; this gives
// LengthPrefixedDecoder the same check without changing what it decodes.
//
// How: each decoder's length decoder is wrapped, on its first decode, so that an empty buffer
// gives length 0 without asking the inner decoder. A frame of length 0 needs at least one prefix
// byte (encodingLength(0) >= 1), more than the empty buffer holds, so the decoder's loop stops
// exactly where the RangeError stopped it, with nothing consumed or yielded. Any other input
// reaches the original length decoder and the original loop unchanged.
//
// The decoder's class belongs to a dependency, so the wrap is checked before it is kept: a probe
// decoder must yield the right frames, keep a partial prefix across reads, refuse a frame over
// its limit, and never reach its length decoder with an empty buffer. When a new version of the
// library fails the probe, the original is put back and the peer runs as it would without this.
import { LengthPrefixedDecoder } from '@libp2p/utils';

/** What installFrameDecoderFix did: `unchanged` means the probe failed and the library's own decoder is in use. */
export type FrameDecoderFix = 'installed' | 'unchanged';

type LengthDecoder = (buf: { byteLength: number }) => number;
interface DecoderFields {
  lengthDecoder?: LengthDecoder;
}
type DecodeFn = (this: DecoderFields & { [WRAPPED]?: true }, buf: Uint8Array) => Iterable<unknown>;
/** The shape of LengthPrefixedDecoder this relies on: the constructor's options and `decode`. */
export type FrameDecoderClass = new (init: { lengthDecoder: LengthDecoder; encodingLength: () => number; maxDataLength?: number }) => { decode(buf: Uint8Array): Iterable<unknown> };

const WRAPPED = Symbol('cairn.emptyBufferLengthCheck');
let result: FrameDecoderFix | null = null;

/** The length decoder that answers 0 for an empty buffer instead of asking (and letting) `inner` throw. */
function emptyBufferChecked(inner: LengthDecoder): LengthDecoder {
  return (buf) => (buf.byteLength === 0 ? 0 : inner(buf));
}

/** Installs the check on LengthPrefixedDecoder once per process (later calls return the first result). */
export function installFrameDecoderFix(): FrameDecoderFix {
  return (result ??= installOn(LengthPrefixedDecoder as unknown as FrameDecoderClass));
}

/** Wraps `Decoder`'s decode as the header says, keeps it if the probe passes, else puts the original back. */
export function installOn(Decoder: FrameDecoderClass): FrameDecoderFix {
  const proto = Decoder.prototype as unknown as { decode: DecodeFn };
  const original = proto.decode;
  if (typeof original !== 'function') return 'unchanged';
  proto.decode = function decode(buf) {
    if (this[WRAPPED] !== true) {
      if (typeof this.lengthDecoder === 'function') this.lengthDecoder = emptyBufferChecked(this.lengthDecoder);
      this[WRAPPED] = true;
    }
    return original.call(this, buf);
  };
  if (probe(Decoder)) return 'installed';
  proto.decode = original;
  return 'unchanged';
}

/**
 * Noise's length decoder (2 bytes big-endian; a RangeError while fewer are buffered), counting
 * how often it is asked about an empty buffer: the probe's, and the tests'.
 */
export function countingU16LengthDecoder(): { decode: LengthDecoder; emptyAsks(): number } {
  let empty = 0;
  return {
    decode: (buf) => {
      if (buf.byteLength === 0) empty++;
      if (buf.byteLength < 2) throw new RangeError('short length prefix');
      const b = (buf as unknown as { subarray(a: number, z: number): Uint8Array }).subarray(0, 2);
      return (b[0]! << 8) | b[1]!;
    },
    emptyAsks: () => empty,
  };
}

/** The probe described in the header, with Noise's settings (a 2-byte big-endian length). */
function probe(Decoder: FrameDecoderClass): boolean {
  try {
    const u16 = countingU16LengthDecoder();
    const d = new Decoder({ lengthDecoder: u16.decode, encodingLength: () => 2, maxDataLength: 8 });
    const frames = (bytes: number[]): string[] => [...d.decode(Uint8Array.from(bytes))].map((f) => Array.from((f as { subarray(): Uint8Array }).subarray()).join(','));
    // Two whole frames in one read, then a frame whose prefix is split across two reads.
    const a = frames([0, 2, 7, 8, 0, 1, 9]);
    const b = frames([0]);
    const c = frames([3, 4, 5, 6]);
    if (a.join('|') !== '7,8|9' || b.length !== 0 || c.join('|') !== '4,5,6' || u16.emptyAsks() !== 0) return false;
    try {
      frames([0, 9]);
      return false;
    } catch {
      // over maxDataLength: refused, as the library refuses it
    }
    return true;
  } catch {
    return false;
  }
}

// Portable byte helpers (Node and browser): no `node:` imports, no Buffer.

const textEncoder = new TextEncoder();
const textDecoderStrict = new TextDecoder('utf-8', { fatal: true });

export function utf8(s: string): Uint8Array {
  return textEncoder.encode(s);
}

/** Decodes UTF-8, throwing a TypeError on invalid sequences (never replaces them silently). */
export function fromUtf8(b: Uint8Array): string {
  return textDecoderStrict.decode(b);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const HEX = '0123456789abcdef';

/** Char codes of the lowercase hex digits, and the value of each ASCII hex digit (-1: not one). */
const HEX_CODES = Uint8Array.from(HEX, (c) => c.charCodeAt(0));
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE[HEX.charCodeAt(i)] = i;
  HEX_VALUE[HEX.toUpperCase().charCodeAt(i)] = i;
}
/** Inputs up to this many bytes are encoded in a reused buffer; longer ones in their own. */
const HEX_SCRATCH_BYTES = 4096;
const hexScratch = new Uint8Array(2 * HEX_SCRATCH_BYTES);
// The digits are ASCII, so UTF-8 decoding is exact; UTF-8 is the one encoding every TextDecoder
// supports (a Node built without full ICU may lack the others).
const asciiDecoder = new TextDecoder();

export function toHex(b: Uint8Array): string {
  // The digits' char codes decoded at once: one flat string (`s += ...` would make a rope of
  // 2-character pieces, ~1.6 KB instead of ~90 bytes for a 32-byte hash, and hex keys are held
  // by maps for long), about 3x faster than joining per-byte strings.
  const n = 2 * b.length;
  const out = b.length <= HEX_SCRATCH_BYTES ? hexScratch : new Uint8Array(n);
  for (let i = 0, j = 0; i < b.length; i++, j += 2) {
    const x = b[i]!;
    out[j] = HEX_CODES[x >> 4]!;
    out[j + 1] = HEX_CODES[x & 15]!;
  }
  return asciiDecoder.decode(out.subarray(0, n));
}

/** Strict lowercase-or-uppercase hex of even length; returns null when malformed. */
export function fromHex(s: string): Uint8Array | null {
  if (s.length % 2 !== 0) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0, j = 0; i < out.length; i++, j += 2) {
    const c1 = s.charCodeAt(j);
    const c2 = s.charCodeAt(j + 1);
    const hi = c1 < 128 ? HEX_VALUE[c1]! : -1;
    const lo = c2 < 128 ? HEX_VALUE[c2]! : -1;
    if ((hi | lo) < 0) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** Standard base64 with padding (RFC 4648 §4), as C2SP signed-note uses. */
export function toBase64(b: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = b[i]! << 16;
    s += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8);
    s += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + '=';
  }
  return s;
}

/**
 * Strict standard base64 decoding: padding required, no whitespace, no URL alphabet, and the
 * unused trailing bits must be zero (so every byte string has exactly one accepted encoding).
 * Returns null when malformed.
 */
export function fromBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  let pad = 0;
  if (s.endsWith('==')) pad = 2;
  else if (s.endsWith('=')) pad = 1;
  const outLen = (s.length / 4) * 3 - pad;
  const out = new Uint8Array(outLen);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const last = i + 4 === s.length;
    const vals = [0, 0, 0, 0];
    for (let j = 0; j < 4; j++) {
      const c = s.charCodeAt(i + j);
      if (last && c === 61 /* = */ && j >= 4 - pad) {
        vals[j] = 0;
        continue;
      }
      const v = c < 128 ? B64_INDEX[c]! : -1;
      if (v < 0) return null;
      vals[j] = v;
    }
    const n = (vals[0]! << 18) | (vals[1]! << 12) | (vals[2]! << 6) | vals[3]!;
    if (o < outLen) out[o++] = (n >> 16) & 255;
    if (o < outLen) out[o++] = (n >> 8) & 255;
    if (o < outLen) out[o++] = n & 255;
    if (last && pad === 2 && (n & 0xffff) !== 0) return null;
    if (last && pad === 1 && (n & 0xff) !== 0) return null;
  }
  return out;
}

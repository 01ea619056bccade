// base64url without padding (RFC 4648 §5, as JOSE/JWK use it: RFC 7515 §2). Strict: the padded
// or standard alphabet, whitespace and non-zero trailing bits are rejected, so every byte string
// has exactly one accepted encoding.
import { fromBase64, toBase64 } from './bytes.js';

export function toBase64Url(b: Uint8Array): string {
  return toBase64(b).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** Returns null when `s` is not canonical unpadded base64url. */
export function fromBase64Url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return null;
  const std = s.replace(/-/g, '+').replace(/_/g, '/');
  return fromBase64(std + '='.repeat((4 - (std.length % 4)) % 4));
}

// Domain separation for every Ed25519 signature Cairn makes.
//
// Why: one organization key signs several kinds of messages (entries, consensus votes,
// checkpoints...). If two purposes signed raw payloads, bytes that are valid as one kind of
// message could be replayed as another (a cross-protocol attack). Prefixing each payload with a
// purpose string and a newline makes the signed byte strings of different purposes disjoint: a
// signature made for one purpose is never valid for another. The domain may not itself contain a
// newline, so `domain ‖ 0x0A` is an unambiguous prefix (the first 0x0A ends it).
// (Checkpoints are the exception: C2SP signed-note defines its own signed bytes, the note body.)
import { utf8, concatBytes } from '../encoding/bytes.js';
import { CryptoError } from './errors.js';

/** Longest accepted domain string, in characters. */
export const DOMAIN_LENGTH_MAX = 64;

const DOMAIN_PATTERN = /^[\x21-\x7e]+$/; // printable ASCII, no spaces, no control characters

/**
 * utf8(domain) ‖ 0x0A ‖ payload. Domains are constants in code (like `cairn/entry/v1`), so a bad
 * domain is a programming error and throws `CryptoError('domain_invalid')`.
 */
export function domainMessage(domain: string, payload: Uint8Array): Uint8Array {
  if (domain.length === 0 || domain.length > DOMAIN_LENGTH_MAX || !DOMAIN_PATTERN.test(domain)) {
    throw new CryptoError(
      'domain_invalid',
      `domain must be 1..${DOMAIN_LENGTH_MAX} (DOMAIN_LENGTH_MAX) printable ASCII characters without spaces or newlines`,
    );
  }
  return concatBytes(utf8(domain), Uint8Array.of(0x0a), payload);
}

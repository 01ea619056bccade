// SHA-256 for the whole portable core (Merkle tree, checkpoints, entry identities).
// @noble/hashes is pure TypeScript, so this runs unchanged in a browser.
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

/** SHA-256 (FIPS 180-4) of `data`; always returns a fresh 32-byte array. */
export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

export const SHA256_BYTES = 32;

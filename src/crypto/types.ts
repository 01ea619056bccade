// The crypto seams of Cairn. Everything above this layer takes these interfaces, so the pure
// core runs in a browser (noble) while peers use the native fast path (node:crypto).

/** Verifies raw Ed25519 signatures. Must return false (never throw) for malformed input. */
export interface Ed25519Verifier {
  readonly name: string;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** Holds one private key and signs raw messages with it. */
export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
export const ED25519_SEED_BYTES = 32;

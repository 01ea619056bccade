// Installs libsodium's SHA-256 (`sodium-native`, prebuilt binaries inside the npm package) as the
// digest of Merkle proof verification. Measured per 65-byte node on the 2-core machine: ~0.7 µs
// for crypto_hash_sha256 into a reused buffer against ~1.3-1.5 µs for node:crypto's one-shot hash
// (which allocates a Buffer per call). Lives under node/ so src/ stays portable; when the native
// module cannot load, verification keeps the core sha256 (node:crypto).
import { createRequire } from 'node:module';
import { setSha256Into, sha256IntoImplementation } from '../../src/merkle/index.js';

interface SodiumHash {
  crypto_hash_sha256(out: Uint8Array, data: Uint8Array): void;
}

/** Installs the fastest available SHA-256 for proof verification; returns its name. */
export function installFastProofHash(): string {
  try {
    const sodium = createRequire(import.meta.url)('sodium-native') as SodiumHash;
    // setSha256Into checks a known answer before accepting it.
    setSha256Into((out, data) => sodium.crypto_hash_sha256(out, data), 'libsodium');
  } catch {
    setSha256Into(null);
  }
  return sha256IntoImplementation();
}

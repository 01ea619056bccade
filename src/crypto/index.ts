// Portable crypto surface (runs in browsers). node.ts (node:crypto) is deliberately NOT exported
// here: import it from 'src/crypto/node.js' in Node-only code.
export * from './types.js';
export { sha256, SHA256_BYTES } from './hash.js';
export { domainMessage, DOMAIN_LENGTH_MAX } from './domain.js';
export { nobleVerifier, nobleSigner, publicKeyFromSeed, randomSeed } from './noble.js';
export { vetPublicKey, type VetResult, type VetCode } from './vet.js';
export { CryptoError } from './errors.js';
export * from './keys.js';

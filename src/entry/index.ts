// Audit entries (portable): format, validation, canonical bytes, signatures. See docs/entry-format.md.
export * from './types.js';
export * from './limits.js';
export { validateEntry, validateUnsignedEntry, jcs } from './validate.js';
export { entryLeaf, entrySigningMessage, leafHashOfEntry, parseLeaf } from './leaf.js';
export { CanonicalEntry, canonicalEntry, canonicalEntryFromLeaf, canonicalEntrySignature, verifyCanonicalEntry, type CanonicalResult, type CanonicalOptions, type LeafHasher } from './canonical.js';
export { signEntry, verifyEntrySignature, EntrySignError } from './sign.js';
export { isIPv4, isIPv6, isIpAddress } from './ip.js';

// SHA-256 for the whole portable core (Merkle tree, checkpoints, entry identities).
// In a browser this is @noble/hashes (pure TypeScript). In Node (>= 20.16, which has
// process.getBuiltinModule) the same function hashes with OpenSSL through node:crypto's one-shot
// `hash()`, ~2-3x faster on the 65-byte inputs of Merkle nodes: proof verification is nothing but
// those. Found at load without a static `node:` import, so the module still bundles for browsers.
// Both give the same digest for every input; only the speed differs.
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

type NodeHashFn = (algorithm: string, data: Uint8Array, outputEncoding: 'buffer') => Uint8Array;

function findNodeHash(): NodeHashFn | null {
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    if (typeof proc?.getBuiltinModule !== 'function') return null;
    const mod = proc.getBuiltinModule('node:crypto') as { hash?: unknown } | undefined;
    const fn = mod?.hash;
    if (typeof fn !== 'function') return null;
    const h = fn as NodeHashFn;
    // Known answer (SHA-256 of "abc", FIPS 180-2 B.1) before trusting it.
    const kat = h('sha256', Uint8Array.of(0x61, 0x62, 0x63), 'buffer');
    const want = nobleSha256(Uint8Array.of(0x61, 0x62, 0x63));
    if (kat.length !== 32 || kat.some((b, i) => b !== want[i])) return null;
    return h;
  } catch {
    return null;
  }
}

const nodeHash = findNodeHash();

/** Which implementation `sha256` uses here: 'node:crypto' (Node) or 'noble' (browsers). */
export const SHA256_IMPLEMENTATION: 'node:crypto' | 'noble' = nodeHash === null ? 'noble' : 'node:crypto';

/** SHA-256 with @noble/hashes whatever the platform (for tests comparing the two paths). */
export function sha256Noble(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** SHA-256 (FIPS 180-4) of `data`; always returns a fresh 32-byte plain Uint8Array. */
export function sha256(data: Uint8Array): Uint8Array {
  if (nodeHash === null) return nobleSha256(data);
  const b = nodeHash('sha256', data, 'buffer');
  // A plain Uint8Array, never a Buffer: Buffer#slice shares memory, and callers copy with slice().
  // Node allocates the digest on its own 32-byte ArrayBuffer; copy if that ever changes.
  if (b.byteOffset === 0 && b.buffer.byteLength === 32) return new Uint8Array(b.buffer, 0, 32);
  return Uint8Array.prototype.slice.call(b);
}

export const SHA256_BYTES = 32;

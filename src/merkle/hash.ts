// RFC 9162 §2.1.1 (same as RFC 6962 §2.1) Merkle Tree Hash primitives, SHA-256.
//   MTH({})      = SHA-256()                      — the empty tree
//   MTH({d(0)})  = SHA-256(0x00 || d(0))          — a leaf
//   MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))  — an interior node
// The 0x00 / 0x01 prefixes domain-separate leaves from nodes (second-preimage defence).

import { sha256 } from '../crypto/hash.js';
import { MerkleError } from './errors.js';

export const HASH_BYTES = 32;

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** MTH({}) = SHA-256 of the empty string, e3b0c442…b855 (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

export function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_BYTES;
}

export function checkHash(name: string, h: unknown): Uint8Array {
  if (!isHash(h)) {
    const got = h instanceof Uint8Array ? `${h.length} bytes` : typeof h;
    throw new MerkleError('BAD_HASH', `${name} must be a ${HASH_BYTES}-byte Uint8Array, got ${got}`);
  }
  return h;
}

/** Leaf hash: SHA-256(0x00 || leaf). */
export function leafHash(leaf: Uint8Array): Uint8Array {
  if (!(leaf instanceof Uint8Array)) {
    throw new MerkleError('BAD_HASH', `leaf must be a Uint8Array, got ${typeof leaf}`);
  }
  const buf = new Uint8Array(1 + leaf.length);
  buf[0] = LEAF_PREFIX;
  buf.set(leaf, 1);
  return sha256(buf);
}

const NODE_BUF = new Uint8Array(1 + 2 * HASH_BYTES);
NODE_BUF[0] = NODE_PREFIX;

/** Writes SHA-256(data) into `out` (32 bytes); keeps no reference to either argument. */
export type Sha256Into = (out: Uint8Array, data: Uint8Array) => void;

const portableSha256Into: Sha256Into = (out, data) => out.set(sha256(data));
let sha256IntoFn: Sha256Into = portableSha256Into;
let sha256IntoName = 'core sha256';

/**
 * Proof verification hashes only 65-byte nodes, so the cost per hash call dominates. Node code may
 * install a faster digest that writes into a reused output (libsodium); src/ stays portable and
 * falls back to `sha256`. The function must be a correct SHA-256: `setSha256Into` checks a known
 * answer before accepting it. Passing null restores the portable one.
 */
export function setSha256Into(fn: Sha256Into | null, name = 'custom'): void {
  if (fn === null) {
    sha256IntoFn = portableSha256Into;
    sha256IntoName = 'core sha256';
    return;
  }
  const out = new Uint8Array(HASH_BYTES);
  const data = new Uint8Array(1 + 2 * HASH_BYTES).fill(0x5a);
  fn(out, data);
  const want = sha256(data);
  for (let i = 0; i < HASH_BYTES; i++) if (out[i] !== want[i]) throw new MerkleError('BAD_HASH', `${name} fails the SHA-256 known-answer check`);
  sha256IntoFn = fn;
  sha256IntoName = name;
}

/** Name of the digest used by `nodeHashInto` (for benches and start-up logs). */
export function sha256IntoImplementation(): string {
  return sha256IntoName;
}

/**
 * Hashes the 65-byte node `buf` (0x01 || left || right, filled by the caller) into `out`, with no
 * allocation when a writing digest is installed.
 */
export function nodeHashInto(out: Uint8Array, buf: Uint8Array): void {
  sha256IntoFn(out, buf);
}

/** Interior node hash: SHA-256(0x01 || left || right). Both children must be 32-byte hashes. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  // Checked because a wrong-length child would silently produce a valid-looking hash.
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) {
    throw new MerkleError('BAD_HASH', `node children must be ${HASH_BYTES} bytes, got ${left.length} and ${right.length}`);
  }
  // One scratch buffer for all node hashes: sha256 is synchronous and keeps no reference to its input.
  NODE_BUF.set(left, 1);
  NODE_BUF.set(right, 1 + HASH_BYTES);
  return sha256(NODE_BUF);
}

// One canonical form per entry. Validation produces the entry's JCS (RFC 8785) text once; the leaf
// (its UTF-8 bytes), the leaf hash and the client's signed message all derive from it:
//
//   leaf            = UTF-8(JCS(entry))                                 the Merkle leaf, stored and gossiped
//   leaf hash       = SHA-256(0x00 ‖ leaf)                              RFC 9162 §2.1.1, the entry's identity
//   signed message  = "cairn/entry/v1" ‖ 0x0A ‖ leaf without its `,"sig":"…"` member
//
// The last line holds because JCS of the entry without `sig` is the JCS of the entry with that one
// member removed (members stay sorted), and `sig` is never the first member (`action` and `actor`
// sort before it) nor the last (`time` and `v` sort after it). So verifying a signature costs no
// second serialization, and a peer that receives leaf bytes checks them against the one canonical
// text it computed while validating them.
import { concatBytes, fromHex, fromUtf8, utf8 } from '../encoding/bytes.js';
import type { Ed25519Verifier } from '../crypto/types.js';
import { LEAF_BYTES_MAX } from './limits.js';
import { utf8Length, type CanonicalText } from './jcs.js';
import { validateSignedCanonical } from './validate.js';
import { ENTRY_SIGNATURE_DOMAIN, type AuditEntry, type EntryError } from './types.js';
import { sha256 } from '../crypto/hash.js';

/** `,"sig":"` — the bytes that open the sig member inside a leaf. */
const SIG_MEMBER_OPEN = utf8(',"sig":"');
const DOMAIN_PREFIX = utf8(`${ENTRY_SIGNATURE_DOMAIN}\n`);

/** RFC 9162 §2.1.1 leaf hash SHA-256(0x00 ‖ leaf): the entry's identity in the log. */
export function leafHashOfEntry(leaf: Uint8Array): Uint8Array {
  return sha256(concatBytes(Uint8Array.of(0x00), leaf));
}

/** Computes SHA-256(0x00 ‖ leaf); peers pass node:crypto's, the default is the portable one. */
export type LeafHasher = (leaf: Uint8Array) => Uint8Array;

/** A validated signed entry with its canonical bytes. Immutable; derived values are computed on first use. */
export class CanonicalEntry {
  private hash: Uint8Array | undefined;
  private message: Uint8Array | undefined;
  /**
   * @param entry the validated deep copy (plain JSON values)
   * @param leaf UTF-8(JCS(entry)), exactly
   * @param sigAt byte offset in `leaf` of the `,"sig":"…"` member
   */
  constructor(
    readonly entry: AuditEntry,
    readonly leaf: Uint8Array,
    readonly sigAt: number,
    private readonly hasher: LeafHasher = leafHashOfEntry,
    leafHash?: Uint8Array,
  ) {
    this.hash = leafHash;
  }

  /** RFC 9162 leaf hash SHA-256(0x00 ‖ leaf). */
  get leafHash(): Uint8Array {
    return (this.hash ??= this.hasher(this.leaf));
  }

  /** The bytes `sig` signs: domain ‖ 0x0A ‖ the leaf without its sig member (= entrySigningMessage(entry)). */
  get signedMessage(): Uint8Array {
    if (this.message === undefined) {
      const end = this.sigAt + SIG_MEMBER_OPEN.length + this.entry.sig.length + 1;
      this.message = concatBytes(DOMAIN_PREFIX, this.leaf.subarray(0, this.sigAt), this.leaf.subarray(end));
    }
    return this.message;
  }
}

export type CanonicalResult = { ok: true; value: CanonicalEntry } | { ok: false; errors: EntryError[] };

export interface CanonicalOptions {
  /** How to hash the leaf (default: the portable sha256). */
  hasher?: LeafHasher;
  /** SHA-256(0x00 ‖ leaf) when the caller already computed it from these very bytes. */
  leafHash?: Uint8Array;
}

/** Byte offset in `leaf` (the UTF-8 of c.text) of the sig member: counted from the end, where few characters follow. */
function sigByteOffset(leaf: Uint8Array, c: CanonicalText): number {
  return leaf.length - utf8Length(c.text, c.sigAt);
}

function sigMemberAt(leaf: Uint8Array, at: number, sig: string): boolean {
  for (let i = 0; i < SIG_MEMBER_OPEN.length; i++) if (leaf[at + i] !== SIG_MEMBER_OPEN[i]) return false;
  const from = at + SIG_MEMBER_OPEN.length;
  for (let i = 0; i < sig.length; i++) if (leaf[from + i] !== sig.charCodeAt(i)) return false;
  return leaf[from + sig.length] === 0x22 && leaf[from + sig.length + 1] === 0x2c; // `"` then `,`
}

function make(entry: AuditEntry, leaf: Uint8Array, c: CanonicalText, opts: CanonicalOptions | undefined): CanonicalEntry {
  const at = sigByteOffset(leaf, c);
  // Holds by construction (see the header); checked because a wrong offset would make every
  // signature fail, and the check is cheap.
  if (!sigMemberAt(leaf, at, entry.sig)) throw new Error('canonical entry: sig member not where the JCS text puts it');
  return new CanonicalEntry(entry, leaf, at, opts?.hasher, opts?.leafHash);
}

/**
 * A signed entry from a JSON value (a client submission): validates it (docs/entry-format.md) and
 * returns it with its canonical bytes, or the validation errors. Never throws. Does not verify
 * the signature (verifyCanonicalEntry does, from the same bytes).
 */
export function canonicalEntry(input: unknown, opts?: CanonicalOptions): CanonicalResult {
  const r = validateSignedCanonical(input);
  if (!r.ok) return r;
  try {
    return { ok: true, value: make(r.entry, utf8(r.canonical.text), r.canonical, opts) };
  } catch (e) {
    return { ok: false, errors: [{ code: 'entry_unreadable', field: '', message: (e as Error).message }] };
  }
}

/**
 * A signed entry from leaf bytes (gossip, a block, a tile): valid UTF-8, valid JSON, a valid
 * signed entry, and byte for byte the JCS of that entry — every other spelling (whitespace, key
 * order, escapes, number forms, duplicate keys, a BOM) is `leaf_noncanonical`, so a leaf hash
 * names exactly one entry. The leaf of the result is `bytes` itself (no copy). Never throws; does
 * not verify the signature.
 */
export function canonicalEntryFromLeaf(bytes: Uint8Array, opts?: CanonicalOptions): CanonicalResult {
  if (!(bytes instanceof Uint8Array)) {
    return { ok: false, errors: [{ code: 'leaf_json', field: '', message: 'a leaf must be bytes' }] };
  }
  if (bytes.length > LEAF_BYTES_MAX) {
    return { ok: false, errors: [{ code: 'leaf_too_large', field: '', message: `leaf is ${bytes.length} bytes, more than LEAF_BYTES_MAX (${LEAF_BYTES_MAX})` }] };
  }
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    return { ok: false, errors: [{ code: 'leaf_utf8', field: '', message: 'leaf is not valid UTF-8' }] };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, errors: [{ code: 'leaf_json', field: '', message: 'leaf is not valid JSON' }] };
  }
  const r = validateSignedCanonical(value);
  if (!r.ok) return r;
  // Strict UTF-8 decoding is one-to-one except that it drops a leading BOM: equal text, and a
  // first byte that is the canonical text's `{`, mean equal bytes, without encoding the text again.
  if (r.canonical.text !== text || bytes[0] !== 0x7b) {
    return { ok: false, errors: [{ code: 'leaf_noncanonical', field: '', message: 'leaf is not the RFC 8785 (JCS) canonical form of its entry' }] };
  }
  try {
    return { ok: true, value: make(r.entry, bytes, r.canonical, opts) };
  } catch (e) {
    return { ok: false, errors: [{ code: 'entry_unreadable', field: '', message: (e as Error).message }] };
  }
}

/** The (key, message, signature) a verifier checks for this entry; null when `client` or `sig` is not hex. */
export function canonicalEntrySignature(c: CanonicalEntry): { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array } | null {
  const publicKey = fromHex(c.entry.client);
  const signature = fromHex(c.entry.sig);
  if (publicKey === null || signature === null) return null;
  return { publicKey, message: c.signedMessage, signature };
}

/** True iff the entry's `sig` is a valid signature by its `client` over its signed message. Never throws. */
export function verifyCanonicalEntry(c: CanonicalEntry, verifier: Ed25519Verifier): boolean {
  try {
    const j = canonicalEntrySignature(c);
    return j !== null && verifier.verify(j.publicKey, j.message, j.signature);
  } catch {
    return false;
  }
}

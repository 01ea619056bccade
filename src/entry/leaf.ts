// Canonical bytes of entries: the Merkle leaf, the client's signed message, parsing leaves back.
//
// leaf            = UTF-8(JCS(signed entry))                       (RFC 8785)
// signed message  = domainMessage('cairn/entry/v1', UTF-8(JCS(entry without sig)))
// entry identity  = RFC 9162 §2.1.1 leaf hash SHA-256(0x00 ‖ leaf), i.e. the entry's Merkle leaf hash
// Because the leaf contains the signature and the client key, anyone holding a leaf can re-verify
// the entry offline, with no other data.
import { bytesEqual, concatBytes, fromUtf8, utf8 } from '../encoding/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { domainMessage } from '../crypto/domain.js';
import { LEAF_BYTES_MAX } from './limits.js';
import { jcs, validateEntry } from './validate.js';
import { ENTRY_SIGNATURE_DOMAIN, type AuditEntry, type EntryResult, type UnsignedEntry } from './types.js';

/** The Merkle leaf of a validated entry: UTF-8 of its JCS text. */
export function entryLeaf(entry: AuditEntry): Uint8Array {
  return utf8(jcs(entry));
}

/** Bytes the client signs: domainMessage('cairn/entry/v1', JCS(entry without `sig`)). `client` is included. */
export function entrySigningMessage(entry: UnsignedEntry | AuditEntry): Uint8Array {
  const { sig: _sig, ...rest } = entry as AuditEntry;
  return domainMessage(ENTRY_SIGNATURE_DOMAIN, utf8(jcs(rest)));
}

/** RFC 9162 §2.1.1 leaf hash SHA-256(0x00 ‖ leaf): the entry's identity in the log. */
export function leafHashOfEntry(leaf: Uint8Array): Uint8Array {
  return sha256(concatBytes(Uint8Array.of(0x00), leaf));
}

/**
 * Parses leaf bytes (from a tile bundle, gossip or a block): valid UTF-8, valid JSON, a valid signed
 * entry, and byte-for-byte the JCS of that entry. The last check rejects every other spelling of
 * the same entry (whitespace, key order, escapes, number forms, duplicate keys), so a leaf hash
 * names exactly one entry. Does not verify the signature (see verifyEntrySignature).
 */
export function parseLeaf(bytes: Uint8Array): EntryResult {
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
  const r = validateEntry(value);
  if (!r.ok) return r;
  if (!bytesEqual(entryLeaf(r.entry), bytes)) {
    return { ok: false, errors: [{ code: 'leaf_noncanonical', field: '', message: 'leaf is not the RFC 8785 (JCS) canonical form of its entry' }] };
  }
  return r;
}

// Canonical bytes of entries: the Merkle leaf, the client's signed message, parsing leaves back.
//
// leaf            = UTF-8(JCS(signed entry))                       (RFC 8785)
// signed message  = domainMessage('cairn/entry/v1', UTF-8(JCS(entry without sig)))
// entry identity  = RFC 9162 §2.1.1 leaf hash SHA-256(0x00 ‖ leaf), i.e. the entry's Merkle leaf hash
// Because the leaf contains the signature and the client key, anyone holding a leaf can re-verify
// the entry offline, with no other data. canonical.ts derives all three from one serialization;
// the functions here serve callers that hold only an entry object (clients signing, tools).
import { utf8 } from '../encoding/bytes.js';
import { domainMessage } from '../crypto/domain.js';
import { jcs } from './jcs.js';
import { canonicalEntryFromLeaf } from './canonical.js';
import { ENTRY_SIGNATURE_DOMAIN, type AuditEntry, type EntryResult, type UnsignedEntry } from './types.js';

export { leafHashOfEntry } from './canonical.js';

/** The Merkle leaf of a validated entry: UTF-8 of its JCS text. */
export function entryLeaf(entry: AuditEntry): Uint8Array {
  return utf8(jcs(entry));
}

/** Bytes the client signs: domainMessage('cairn/entry/v1', JCS(entry without `sig`)). `client` is included. */
export function entrySigningMessage(entry: UnsignedEntry | AuditEntry): Uint8Array {
  const { sig: _sig, ...rest } = entry as AuditEntry;
  return domainMessage(ENTRY_SIGNATURE_DOMAIN, utf8(jcs(rest)));
}

/**
 * Parses leaf bytes (from a tile bundle, gossip or a block): valid UTF-8, valid JSON, a valid signed
 * entry, and byte-for-byte the JCS of that entry. The last check rejects every other spelling of
 * the same entry (whitespace, key order, escapes, number forms, duplicate keys), so a leaf hash
 * names exactly one entry. Does not verify the signature (see verifyEntrySignature).
 */
export function parseLeaf(bytes: Uint8Array): EntryResult {
  const r = canonicalEntryFromLeaf(bytes);
  return r.ok ? { ok: true, entry: r.value.entry } : r;
}

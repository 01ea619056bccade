// An evidence bundle: one file holding everything to verify one logged entry offline — the exact
// leaf bytes, its C2SP tlog-proof receipt (inclusion proof + quorum-signed checkpoint) and the
// trust file it was verified with. `cairn verify receipt <bundle>` checks it with no peer. The
// trust file inside is the sender's: a recipient should verify with their own (`--trust`), or at
// least compare the bundle's keys with their organizations' (the CLI says which it used).
//
//   { "format": "cairn-evidence/v1", "leafHash": "<hex>", "index": 5,
//     "entry": "<base64 leaf bytes>", "receipt": "<tlog-proof text>", "trust": { <trust file> } }
import { bytesEqual, fromBase64, fromHex, fromUtf8, toBase64, toHex, utf8 } from '../encoding/bytes.js';
import { MAX_ENTRY_BYTES } from '../merkle/entry-bundle.js';
import { leafHash } from '../merkle/hash.js';
import { RECEIPT_BYTES_MAX } from '../checkpoint/receipt.js';
import { TRUST_FILE_BYTES_MAX } from './trust.js';

export const EVIDENCE_FORMAT = 'cairn-evidence/v1';
/** Largest bundle read: the entry in base64, the receipt, a trust file and the JSON around them. */
export const EVIDENCE_BYTES_MAX = Math.ceil((MAX_ENTRY_BYTES * 4) / 3) + RECEIPT_BYTES_MAX + TRUST_FILE_BYTES_MAX + 4096;

export interface Evidence {
  leafHash: string;
  index: number;
  /** The logged leaf bytes. */
  entry: Uint8Array;
  /** C2SP tlog-proof text. */
  receipt: string;
  /** The trust file (JSON text) the sender verified with. */
  trust: string;
}

/** The bundle's bytes (pretty JSON, so a person can read the entry and the checkpoint). */
export function formatEvidence(e: { leafHash: string; index: number; entry: Uint8Array; receipt: string; trust: string }): string {
  return JSON.stringify({ format: EVIDENCE_FORMAT, leafHash: e.leafHash, index: e.index, entry: toBase64(e.entry), receipt: e.receipt, trust: JSON.parse(e.trust) as unknown }, null, 2) + '\n';
}

/** Does this look like a bundle (rather than a bare tlog-proof receipt)? */
export function looksLikeEvidence(bytes: Uint8Array): boolean {
  const head = fromUtf8(bytes.subarray(0, 256)).trimStart();
  return head.startsWith('{') && head.includes(EVIDENCE_FORMAT);
}

/** Parses a bundle: size, shape, then that the leaf hash stated is the entry's (cheap checks only; the receipt is verified by the caller). */
export function parseEvidence(bytes: Uint8Array): { ok: true; evidence: Evidence } | { ok: false; message: string } {
  if (bytes.length > EVIDENCE_BYTES_MAX) return { ok: false, message: `larger than ${EVIDENCE_BYTES_MAX} bytes (EVIDENCE_BYTES_MAX)` };
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(fromUtf8(bytes)) as Record<string, unknown>;
  } catch {
    return { ok: false, message: 'not JSON' };
  }
  if (typeof o !== 'object' || o === null || o.format !== EVIDENCE_FORMAT) return { ok: false, message: `not a ${EVIDENCE_FORMAT} bundle` };
  if (typeof o.leafHash !== 'string' || !/^[0-9a-f]{64}$/.test(o.leafHash)) return { ok: false, message: 'leafHash must be 64 lowercase hex digits' };
  if (typeof o.index !== 'number' || !Number.isSafeInteger(o.index) || o.index < 0) return { ok: false, message: 'index must be a non-negative integer' };
  const entry = typeof o.entry === 'string' ? fromBase64(o.entry) : null;
  if (entry === null || entry.length === 0 || entry.length > MAX_ENTRY_BYTES) return { ok: false, message: `entry must be canonical base64 of 1..${MAX_ENTRY_BYTES} bytes` };
  if (typeof o.receipt !== 'string' || o.receipt.length > RECEIPT_BYTES_MAX) return { ok: false, message: 'receipt must be the tlog-proof text' };
  if (typeof o.trust !== 'object' || o.trust === null) return { ok: false, message: 'trust must be the trust file object' };
  const want = fromHex(o.leafHash);
  if (want === null || !bytesEqual(leafHash(entry), want)) return { ok: false, message: `leafHash is not the hash of the entry (${toHex(leafHash(entry))})` };
  const trust = JSON.stringify(o.trust);
  if (utf8(trust).length > TRUST_FILE_BYTES_MAX) return { ok: false, message: `trust larger than ${TRUST_FILE_BYTES_MAX} bytes` };
  return { ok: true, evidence: { leafHash: o.leafHash, index: o.index, entry, receipt: o.receipt, trust } };
}

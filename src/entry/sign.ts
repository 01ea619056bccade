// Signing and verifying entries with any Ed25519Signer / Ed25519Verifier (noble in browsers and
// tools, node:crypto on peers).
import { fromHex, toHex } from '../encoding/bytes.js';
import type { Ed25519Signer, Ed25519Verifier } from '../crypto/types.js';
import { entrySigningMessage } from './leaf.js';
import { validateUnsignedEntry } from './validate.js';
import type { AuditEntry, EntryError, UnsignedEntry } from './types.js';

/** Thrown by signEntry when the caller's unsigned entry is invalid (the caller built it). */
export class EntrySignError extends Error {
  readonly code: string;
  readonly errors: EntryError[];
  constructor(code: string, message: string, errors: EntryError[] = []) {
    super(`${code}: ${message}`);
    this.name = 'EntrySignError';
    this.code = code;
    this.errors = errors;
  }
}

/**
 * Validates `unsigned`, sets `client` to the signer's public key and adds `sig`. Throws
 * EntrySignError: `entry_invalid` (with `.errors`) or `client_mismatch` (a `client` was given
 * that is not the signer's key). The returned entry always passes validateEntry.
 */
export function signEntry(unsigned: UnsignedEntry, signer: Ed25519Signer): AuditEntry {
  const client = toHex(signer.publicKey);
  const r = validateUnsignedEntry(unsigned);
  if (!r.ok) {
    const first = r.errors[0]!;
    throw new EntrySignError('entry_invalid', `${first.field || 'entry'}: ${first.message}`, r.errors);
  }
  if (r.entry.client !== undefined && r.entry.client !== client) {
    throw new EntrySignError('client_mismatch', 'entry.client is not the public key of the signer');
  }
  const withClient = { ...r.entry, client } as Omit<AuditEntry, 'sig'>;
  const sig = toHex(signer.sign(entrySigningMessage(withClient as AuditEntry)));
  return { ...withClient, sig } as AuditEntry;
}

/** True iff `sig` is a valid signature by `client` over the entry. Never throws. */
export function verifyEntrySignature(entry: AuditEntry, verifier: Ed25519Verifier): boolean {
  try {
    if (typeof entry?.client !== 'string' || typeof entry?.sig !== 'string') return false;
    const publicKey = fromHex(entry.client);
    const signature = fromHex(entry.sig);
    if (publicKey === null || signature === null) return false;
    return verifier.verify(publicKey, entrySigningMessage(entry), signature);
  } catch {
    return false;
  }
}

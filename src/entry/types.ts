// The audit entry: one JSON object, signed by the client that submits it.
// Field meanings and their OCSF / CADF equivalents: docs/entry-format.md.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type Outcome = 'success' | 'failure' | 'denied' | 'unknown';
export const OUTCOMES: readonly Outcome[] = ['success', 'failure', 'denied', 'unknown'];

export interface EntryActor {
  id: string;
  type?: string;
  name?: string;
}

export interface EntryResource {
  type: string;
  id: string;
  name?: string;
}

export interface EntrySource {
  ip?: string;
  userAgent?: string;
}

/** A signed audit entry, as stored in the log (its JCS bytes are the Merkle leaf). */
export interface AuditEntry {
  v: 1;
  id: string;
  time: string;
  actor: EntryActor;
  action: string;
  resource: EntryResource;
  outcome: Outcome;
  reason?: string;
  source?: EntrySource;
  requestId?: string;
  tenant?: string;
  data?: JsonObject;
  /** The submitting client's Ed25519 public key, 64 lowercase hex digits. Covered by `sig`. */
  client: string;
  /** Ed25519 signature, 128 lowercase hex digits, over domainMessage('cairn/entry/v1', JCS(entry without sig)). */
  sig: string;
}

/** An entry before signing. `client` is filled in by signEntry (if given, it must match the signer). */
export type UnsignedEntry = Omit<AuditEntry, 'client' | 'sig'> & { client?: string };

/** One validation problem. `field` is a JSON path like `actor.id`, `data.x.y` or `data.list[3]`. */
export interface EntryError {
  code: EntryErrorCode;
  field: string;
  message: string;
}

/** Every code an entry error can carry (stable: clients and metrics match on them). */
export const ENTRY_ERROR_CODES = [
  'entry_not_object',
  'entry_unreadable',
  'field_unknown',
  'field_missing',
  'field_type',
  'version_unsupported',
  'id_format',
  'time_format',
  'time_invalid',
  'string_empty',
  'string_length',
  'string_control',
  'string_invisible',
  'string_surrogate',
  'token_format',
  'action_format',
  'outcome_invalid',
  'ip_format',
  'object_empty',
  'data_depth',
  'data_keys',
  'data_array_length',
  'data_key_length',
  'data_key_reserved',
  'data_values',
  'data_size',
  'data_type',
  'number_nonfinite',
  'number_unsafe',
  'client_format',
  'sig_format',
  'leaf_too_large',
  'leaf_utf8',
  'leaf_json',
  'leaf_noncanonical',
] as const;

export type EntryErrorCode = (typeof ENTRY_ERROR_CODES)[number];

export type EntryResult = { ok: true; entry: AuditEntry } | { ok: false; errors: EntryError[] };

/** Domain of the client's entry signature (see src/crypto/domain.ts for why domains exist). */
export const ENTRY_SIGNATURE_DOMAIN = 'cairn/entry/v1';

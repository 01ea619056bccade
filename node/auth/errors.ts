// Authentication and authorization failures. Each carries a stable reason code (for clients,
// metrics and the meta-audit entry) and a message that says what was missing or wrong without
// echoing secrets: never the token, never a signature, never key material.

export type AuthReason =
  // 401: who the caller is could not be established
  | 'credentials_missing'
  | 'credentials_ambiguous'
  | 'token_malformed'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'token_issuer_unknown'
  | 'token_audience'
  | 'token_signature'
  | 'token_kid_unknown'
  | 'token_alg_not_allowed'
  | 'token_claims'
  | 'token_revoked'
  | 'signature_malformed'
  | 'signature_key_unknown'
  | 'signature_alg'
  | 'signature_expired'
  | 'signature_future'
  | 'signature_components'
  | 'signature_digest'
  | 'signature_invalid'
  | 'signature_nonce'
  | 'signature_replayed'
  // 403: the caller is known but may not do this
  | 'mfa_required'
  | 'role_missing'
  | 'out_of_scope'
  | 'full_scope_required'
  // 503: the peer cannot decide now (identity provider unreachable, replay cache full)
  | 'issuer_unavailable'
  | 'replay_cache_full';

export interface AuthError {
  ok: false;
  status: 401 | 403 | 503;
  /** Problem type for the HTTP answer. */
  error: 'unauthenticated' | 'forbidden' | 'unavailable';
  reason: AuthReason;
  message: string;
  /** Value for the WWW-Authenticate response header (401 only). */
  wwwAuthenticate?: string;
}

export const REALM = 'cairn';

// RFC 6750 §3: error="invalid_token" when a token was presented and is bad; no error attribute
// when none was presented; error="insufficient_scope" with 403.
function bearerChallenge(reason: AuthReason, message: string): string {
  if (reason === 'credentials_missing') return `Bearer realm="${REALM}"`;
  const desc = message.replace(/[\\"]/g, "'").replace(/[^\x20-\x7e]/g, '?');
  return `Bearer realm="${REALM}", error="invalid_token", error_description="${desc}"`;
}

export function unauthenticated(reason: AuthReason, message: string): AuthError {
  return { ok: false, status: 401, error: 'unauthenticated', reason, message, wwwAuthenticate: bearerChallenge(reason, message) };
}

export function forbidden(reason: AuthReason, message: string): AuthError {
  return { ok: false, status: 403, error: 'forbidden', reason, message };
}

export function unavailable(reason: AuthReason, message: string): AuthError {
  return { ok: false, status: 503, error: 'unavailable', reason, message };
}

/** Keeps an untrusted value short and printable before it goes into a message. */
export function safeText(v: unknown, max = 80): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

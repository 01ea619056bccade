// Typed errors of the client SDK. Every failure carries a machine-readable `code`: the API's error
// code (docs/api.md) when the peer answered with one, or a client-side code otherwise.

/** Codes the SDK itself produces (never sent by a peer). */
export type ClientErrorCode =
  | 'network_error' // fetch failed (peer unreachable, connection reset, CORS, ...)
  | 'timeout' // no answer / not final within the caller's timeout
  | 'response_too_large' // the body passed the route's byte cap (reading stopped there)
  | 'bad_response' // the peer answered something that is not the documented shape
  | 'invalid_entry'; // signAndSubmit: the unsigned entry does not validate (see `errors`)

export class CairnApiError extends Error {
  /** An API error code (ApiErrorCode) or a ClientErrorCode. */
  readonly code: string;
  /** HTTP status; 0 when no HTTP answer was received. */
  readonly status: number;
  /** JSON path of the offending input, when the peer named one. */
  readonly field: string | undefined;
  constructor(code: string, message: string, status = 0, field?: string) {
    super(`${code}: ${message}${field !== undefined ? ` (at ${field})` : ''}`);
    this.name = 'CairnApiError';
    this.code = code;
    this.status = status;
    this.field = field;
  }
}

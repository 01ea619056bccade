// Error conventions of the peer program (node/peer/).
//
// Untrusted input (genesis and config files, client entries, peer messages) never makes the peer
// throw an unexpected exception type: parsers return `{ ok: false, code, message, field? }`, and
// configuration loaders that must abort start-up throw a `PeerError` carrying the same code so the
// process entry can print one clear line. Codes are lower snake_case, prefixed by what is wrong
// (genesis_, config_, block_, ...), except the client-facing submit codes whose names match the
// HTTP API (malformed, unknown_client, bad_signature, conflict, too_large, busy, clock_skew).

export interface PeerFailure {
  readonly ok: false;
  readonly code: string;
  readonly message: string;
  /** JSON path of the offending field, when there is one (e.g. `validators[2].peerId`). */
  readonly field?: string;
}

export function failure(code: string, message: string, field?: string): PeerFailure {
  return field === undefined ? { ok: false, code, message } : { ok: false, code, message, field };
}

/** Thrown where a failure must abort an operation (start-up, programming errors); carries a code. */
export class PeerError extends Error {
  readonly code: string;
  readonly field: string | undefined;
  constructor(code: string, message: string, field?: string) {
    super(`${code}: ${message}${field !== undefined ? ` (at ${field})` : ''}`);
    this.name = 'PeerError';
    this.code = code;
    this.field = field;
  }
  static from(f: PeerFailure): PeerError {
    return new PeerError(f.code, f.message, f.field);
  }
}

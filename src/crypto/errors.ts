// Errors thrown by crypto constructors when a caller passes malformed arguments (a programming or
// configuration mistake, not untrusted network input: parsers of untrusted input return results).

/** A crypto-layer error with a machine-readable `code` (e.g. `seed_length`, `domain_invalid`). */
export class CryptoError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = 'CryptoError';
    this.code = code;
  }
}

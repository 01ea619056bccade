// Result and error conventions of src/checkpoint/ and src/verifier/.
//
// Untrusted input (notes, checkpoints, receipts, key strings, trust files) is never thrown at:
// parsers and verifiers return `{ ok: false, code, message }` with a machine-readable `code`
// (lower snake_case like src/crypto's codes, prefixed by the thing that is wrong: note_, key_,
// checkpoint_, receipt_, trust_, proof_) and a one-line human `message`. Formatting functions take data the caller built
// itself; an invalid argument there is a programming error and throws a `FormatError` (also
// carrying a code), never a bare TypeError.

export interface Failure<C extends string = string> {
  readonly ok: false;
  readonly code: C;
  readonly message: string;
}

export function fail<C extends string>(code: C, message: string): Failure<C> {
  return { ok: false, code, message };
}

/** Thrown by format/sign functions when the caller passes data that cannot be encoded. */
export class FormatError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'FormatError';
    this.code = code;
  }
}

/** ASCII control characters other than newline are forbidden in notes (C2SP signed-note, Format). */
export function findControlCharacter(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return i;
  }
  return -1;
}

/** True when a JS string holds an unpaired surrogate (it would not encode to valid UTF-8). */
export function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** Decimal without leading zeros ("0" allowed), as tlog-checkpoint and tlog-proof require. */
const DECIMAL = /^(0|[1-9][0-9]*)$/;

/**
 * Parses a canonical non-negative decimal not above Number.MAX_SAFE_INTEGER (2^53 - 1, the largest
 * tree size / index Cairn represents exactly). Returns null when malformed, -1 when too large.
 */
export function parseCanonicalDecimal(s: string): number | null {
  if (!DECIMAL.test(s)) return null;
  if (s.length > 16) return -1;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : -1;
}

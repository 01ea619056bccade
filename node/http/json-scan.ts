// A linear pre-scan of a JSON request body, fed the raw bytes chunk by chunk as they arrive and run
// BEFORE JSON.parse. JSON.parse builds every object of its input on the event loop that consensus
// shares: 8 MiB of `[{},{},...]` is 2.8 million objects (~0.5 s, ~180 MB), 4 million `[` nest 1.2 s
// deep. The scan counts, without allocating, the nesting depth, the top-level array elements and
// the JSON values (in the whole body and in each top-level element), and stops at the first byte
// that exceeds a limit. It checks shape only; syntax errors are left to JSON.parse, which then
// sees a body of bounded size, depth and value count.

export interface JsonScanLimits {
  /** Deepest nesting of arrays/objects (the body's own array or object is depth 1). */
  depthMax: number;
  /** Most elements of a top-level array (an object body counts as one). */
  topLevelMax: number;
  /** Most JSON values in the whole body (object keys are not values). */
  valuesMax: number;
  /** Most JSON values inside one top-level element (one entry). */
  elementValuesMax: number;
}

export type ScanRefusal = { code: 'too_deep' | 'too_many_entries' | 'too_many_values'; message: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Native search (memchr for a Buffer). */
function indexOf(chunk: Uint8Array, byte: number, from: number): number {
  return chunk.indexOf(byte, from);
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

export class JsonShapeScanner {
  private depth = 0;
  /** isObject[d]: the container at depth d is an object (its strings alternate key, value). */
  private readonly isObject: boolean[] = [false];
  private inString = false;
  private escaped = false;
  /** Inside a number/true/false/null token (counted once, at its first byte). */
  private inToken = false;
  /** The next string is an object key, not a value. */
  private expectKey = false;
  private topLevel = 0;
  private values = 0;
  private elementValues = 0;
  private refusal: ScanRefusal | null = null;

  constructor(private readonly limits: JsonScanLimits) {}

  /** Scans the next chunk; returns the first refusal (and the same one for every later chunk). */
  push(chunk: Uint8Array): ScanRefusal | null {
    if (this.refusal !== null) return this.refusal;
    const n = chunk.length;
    // Next backslash at or after the current position (n: none in this chunk); strings are skipped
    // with native indexOf instead of a byte-by-byte loop, as most of a real body is string bytes.
    let nextBackslash = -1;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        const quote = indexOf(chunk, QUOTE, i);
        if (nextBackslash < i) {
          nextBackslash = indexOf(chunk, BACKSLASH, i);
          if (nextBackslash === -1) nextBackslash = n;
        }
        if (nextBackslash < n && (quote === -1 || nextBackslash < quote)) {
          // An escape: the byte after the backslash (maybe in the next chunk) is not a delimiter.
          this.escaped = true;
          i = nextBackslash + 1;
          continue;
        }
        if (quote === -1) return null;
        this.inString = false;
        i = quote + 1;
        continue;
      }
      const b = chunk[i]!;
      i++;
      if (b === QUOTE) {
        this.inToken = false;
        this.inString = true;
        if (this.expectKey) this.expectKey = false;
        else if (!this.countValue()) return this.refusal;
      } else if (b === OPEN_OBJ || b === OPEN_ARR) {
        this.inToken = false;
        if (!this.countValue()) return this.refusal;
        this.depth++;
        if (this.depth > this.limits.depthMax) {
          return this.refuse('too_deep', `JSON nested deeper than ${this.limits.depthMax} levels (jsonDepthMax)`);
        }
        this.isObject[this.depth] = b === OPEN_OBJ;
        this.expectKey = b === OPEN_OBJ;
      } else if (b === CLOSE_OBJ || b === CLOSE_ARR) {
        this.inToken = false;
        this.expectKey = false;
        // Unbalanced input is a syntax error; JSON.parse reports it.
        if (this.depth > 0) this.depth--;
      } else if (b === COMMA) {
        this.inToken = false;
        this.expectKey = this.isObject[this.depth] === true;
      } else if (b === COLON || isSpace(b)) {
        this.inToken = false;
      } else if (!this.inToken) {
        this.inToken = true;
        if (!this.countValue()) return this.refusal;
      }
    }
    return null;
  }

  /** A value starts at the current depth; false once a limit is exceeded. */
  private countValue(): boolean {
    if (++this.values > this.limits.valuesMax) {
      this.refuse('too_many_values', `more than ${this.limits.valuesMax} JSON values in the request (jsonValuesMax)`);
      return false;
    }
    if (this.depth === 1 && !this.isObject[1]) {
      // An element of the top-level array: one entry of an array submission.
      if (++this.topLevel > this.limits.topLevelMax) {
        this.refuse('too_many_entries', `more than ${this.limits.topLevelMax} entries in one request (entriesPerRequestMax)`);
        return false;
      }
      this.elementValues = 0;
    }
    if (this.depth >= 1 && ++this.elementValues > this.limits.elementValuesMax) {
      this.refuse('too_many_values', `more than ${this.limits.elementValuesMax} JSON values in one entry (ENTRY_VALUES_MAX)`);
      return false;
    }
    return true;
  }

  private refuse(code: ScanRefusal['code'], message: string): ScanRefusal {
    this.refusal = { code, message };
    return this.refusal;
  }
}

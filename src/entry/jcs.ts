// JCS (RFC 8785) serialization of entries. An entry's canonical text is made once, while it is
// validated (validate.ts), and its leaf bytes, leaf hash and signed message all derive from it
// (canonical.ts).
import canonicalizeModule from 'canonicalize';

// `canonicalize` is CommonJS (`module.exports = serialize`). Under `nodenext` TypeScript types the
// default import as the module object, while Node, vitest and bundlers hand over the function
// itself (or an object whose `.default` is it): accept both, checked once at load.
type Serialize = (input: unknown) => string | undefined;
const canonicalize: Serialize = (() => {
  const m = canonicalizeModule as unknown as Serialize | { default: Serialize };
  const fn = typeof m === 'function' ? m : m.default;
  if (typeof fn !== 'function') throw new Error('canonicalize: unexpected module shape');
  return fn;
})();

/** JCS (RFC 8785) text of a validated value. */
export function jcs(value: unknown): string {
  // A string's JCS text is exactly JSON.stringify's (what canonicalize returns for it): most
  // top-level members of an entry are strings, so skip the library's checks for them.
  if (typeof value === 'string') return JSON.stringify(value);
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}

/**
 * The JCS text of a validated top-level entry object, assembled member by member so that `data`,
 * already serialized for its size check, is not serialized again. Equal to jcs(obj) when `order`
 * holds every key of `obj` in RFC 8785's order (UTF-16 code unit order, which `Array.sort` gives
 * by default): top-level keys are fixed ASCII names, so `"key"` is their JCS form, and the order
 * is sorted once at load instead of once per entry (a sort allocates work arrays on every call).
 * Keys of `order` that `obj` lacks (or holds as undefined) are skipped. `sigAt` is the index of
 * the `,` that starts the `sig` member (-1 when there is none): `sig` is never the first member
 * (`action` and `actor` sort before it).
 */
export function assembleJcs(obj: Record<string, unknown>, dataText: string | undefined, order: readonly string[]): { text: string; sigAt: number } {
  let text = '{';
  let sigAt = -1;
  for (let i = 0; i < order.length; i++) {
    const k = order[i]!;
    const v = obj[k];
    if (v === undefined) continue;
    if (text.length > 1) {
      if (k === 'sig') sigAt = text.length;
      text += ',';
    }
    text += '"' + k + '":' + (k === 'data' && dataText !== undefined ? dataText : jcs(v));
  }
  return { text: text + '}', sigAt };
}

/** Bytes of UTF-8 `s[from..]` would take, as TextEncoder writes it (a lone surrogate as U+FFFD). */
export function utf8Length(s: string, from = 0): number {
  let n = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * The UTF-8 length of `s` when it may exceed `max`, else any number <= max: a UTF-16 code unit
 * takes at most 3 UTF-8 bytes, so short texts (all usual entries) need no counting.
 */
export function utf8Bound(s: string, max: number): number {
  return s.length * 3 <= max ? s.length : utf8Length(s);
}

/** A signed entry's canonical form, found while validating it (see assembleJcs). */
export interface CanonicalText {
  /** JCS (RFC 8785) text of the entry. */
  text: string;
  /** Index in `text` of the `,` that starts the `sig` member. */
  sigAt: number;
}


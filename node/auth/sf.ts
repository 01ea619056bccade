// The subset of RFC 8941 Structured Field Values that HTTP Message Signatures (RFC 9421) and
// Content-Digest (RFC 9530) use: dictionaries whose members are items or inner lists, with
// parameters; items are strings, tokens, integers, booleans or byte sequences. Strict: anything
// else is a parse error (a signature whose fields we cannot read exactly is not verified).

export type BareItem = string | number | boolean | { token: string } | { bytes: Uint8Array };
export type Params = Map<string, BareItem>;
export interface Item {
  value: BareItem;
  params: Params;
}
export interface InnerList {
  items: Item[];
  params: Params;
}
export type Member = Item | InnerList;
export type Dictionary = Map<string, Member>;

export class SfError extends Error {}

/** Bounds: a dictionary of this many members, an inner list of this many items. */
export const SF_MEMBERS_MAX = 16;
export const SF_LIST_ITEMS_MAX = 64;

export function isInnerList(m: Member): m is InnerList {
  return 'items' in m;
}

const KEY_START = /[a-z*]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
const TOKEN_START = /[A-Za-z*]/;
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw new SfError(`${what} at offset ${this.i}`);
  }
  peek(): string {
    return this.s[this.i] ?? '';
  }
  ows(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.i++;
  }
  sp(): void {
    while (this.peek() === ' ') this.i++;
  }
  key(): string {
    if (!KEY_START.test(this.peek())) this.fail('expected a key');
    const start = this.i;
    while (this.i < this.s.length && KEY_CHAR.test(this.peek())) this.i++;
    return this.s.slice(start, this.i);
  }
  bareItem(): BareItem {
    const c = this.peek();
    if (c === '"') return this.string();
    if (c === ':') return this.bytes();
    if (c === '?') {
      this.i++;
      const b = this.peek();
      if (b !== '0' && b !== '1') this.fail('expected a boolean');
      this.i++;
      return b === '1';
    }
    if (c === '-' || (c >= '0' && c <= '9')) return this.integer();
    if (TOKEN_START.test(c)) {
      const start = this.i;
      this.i++;
      while (this.i < this.s.length && TOKEN_CHAR.test(this.peek())) this.i++;
      return { token: this.s.slice(start, this.i) };
    }
    return this.fail('expected an item');
  }
  string(): string {
    this.i++; // opening quote
    let out = '';
    for (;;) {
      if (this.i >= this.s.length) this.fail('unterminated string');
      const c = this.s[this.i++]!;
      if (c === '\\') {
        const n = this.s[this.i++];
        if (n !== '"' && n !== '\\') this.fail('bad escape in string');
        out += n;
      } else if (c === '"') return out;
      else {
        const code = c.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) this.fail('non-printable character in string');
        out += c;
      }
    }
  }
  bytes(): { bytes: Uint8Array } {
    this.i++;
    const end = this.s.indexOf(':', this.i);
    if (end < 0) this.fail('unterminated byte sequence');
    const b64 = this.s.slice(this.i, end);
    if (!B64.test(b64)) this.fail('bad base64 in byte sequence');
    this.i = end + 1;
    return { bytes: new Uint8Array(Buffer.from(b64, 'base64')) };
  }
  integer(): number {
    const m = /^-?\d{1,15}/.exec(this.s.slice(this.i));
    if (!m) this.fail('expected an integer');
    if (this.s[this.i + m[0].length] === '.') this.fail('decimals are not supported');
    this.i += m[0].length;
    return Number(m[0]);
  }
  params(): Params {
    const p: Params = new Map();
    while (this.peek() === ';') {
      this.i++;
      this.sp();
      const k = this.key();
      let v: BareItem = true;
      if (this.peek() === '=') {
        this.i++;
        v = this.bareItem();
      }
      if (p.has(k)) this.fail(`duplicate parameter ${k}`);
      p.set(k, v);
    }
    return p;
  }
  member(): Member {
    if (this.peek() === '(') {
      this.i++;
      const items: Item[] = [];
      for (;;) {
        this.sp();
        if (this.peek() === ')') {
          this.i++;
          return { items, params: this.params() };
        }
        if (items.length >= SF_LIST_ITEMS_MAX) this.fail('inner list too long');
        items.push({ value: this.bareItem(), params: this.params() });
        const c = this.peek();
        if (c !== ' ' && c !== ')') this.fail('expected space or ) in inner list');
      }
    }
    return { value: this.bareItem(), params: this.params() };
  }
}

/** Parses a dictionary field value. Throws SfError (with an offset) on anything outside the subset. */
export function parseDictionary(text: string): Dictionary {
  const p = new Parser(text);
  const dict: Dictionary = new Map();
  p.sp();
  while (p.i < text.length) {
    const k = p.key();
    let m: Member;
    if (p.peek() === '=') {
      p.i++;
      m = p.member();
    } else {
      m = { value: true, params: p.params() };
    }
    // RFC 8941: a repeated key overrides; for signatures that would let a second copy hide the
    // first, so it is an error here.
    if (dict.has(k)) p.fail(`duplicate key ${k}`);
    if (dict.size >= SF_MEMBERS_MAX) p.fail('too many members');
    dict.set(k, m);
    p.ows();
    if (p.i >= text.length) break;
    if (p.peek() !== ',') p.fail('expected ,');
    p.i++;
    p.ows();
    if (p.i >= text.length) p.fail('trailing comma');
  }
  return dict;
}

export function serializeBareItem(v: BareItem): string {
  if (typeof v === 'string') return `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? '?1' : '?0';
  if ('token' in v) return v.token;
  return `:${Buffer.from(v.bytes).toString('base64')}:`;
}

export function serializeParams(p: Params): string {
  let out = '';
  for (const [k, v] of p) out += v === true ? `;${k}` : `;${k}=${serializeBareItem(v)}`;
  return out;
}

export function serializeInnerList(l: InnerList): string {
  return `(${l.items.map((it) => serializeBareItem(it.value) + serializeParams(it.params)).join(' ')})${serializeParams(l.params)}`;
}

// Display fields (actor, resource, reason, requestId, tenant, source.userAgent, ...) refuse
// zero-width and other invisible format characters, so two entries whose actors or resources look
// identical on screen cannot name different things ("admin" vs "ad\u200Bmin"). The error is
// specific (string_invisible) and names the field and the code point. `data` is data, not display
// text, and may hold them.
import { describe, expect, it } from 'vitest';
import { validateEntry, validateUnsignedEntry } from '../../src/entry/validate.js';
import { signEntry } from '../../src/entry/sign.js';
import { ENTRY_ERROR_CODES, type AuditEntry } from '../../src/entry/types.js';
import { nobleSigner } from '../../src/crypto/noble.js';
import { fullUnsignedEntry } from './support/entry-fixtures.js';

const signer = nobleSigner(new Uint8Array(32).fill(2));
const FULL = signEntry(fullUnsignedEntry(), signer);

const INVISIBLE = [
  0x200b, 0x200c, 0x200d, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xfeff, 0x061c, 0x180e, 0x00ad,
  // Other Unicode format (Cf) characters: Arabic number signs, interlinear annotation, tags.
  0x0600, 0x06dd, 0xfff9, 0xfffb, 0x206a, 0x206f, 0xe0001, 0xe0041,
  // Invisible characters outside Cf that render as nothing or as a blank.
  0x034f, 0x115f, 0x1160, 0x3164, 0xffa0,
];
const BIDI = [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f];

type Mutable = Record<string, any>;
const FIELDS: [string, (e: Mutable, s: string) => void][] = [
  ['actor.id', (e, s) => (e.actor.id = `ad${s}min`)],
  ['actor.name', (e, s) => (e.actor.name = `Alice${s}`)],
  ['resource.id', (e, s) => (e.resource.id = `${s}orders`)],
  ['resource.name', (e, s) => (e.resource.name = `Orders ${s}table`)],
  ['reason', (e, s) => (e.reason = `ok${s}`)],
  ['requestId', (e, s) => (e.requestId = `r${s}1`)],
  ['tenant', (e, s) => (e.tenant = `acme${s}`)],
  ['source.userAgent', (e, s) => (e.source.userAgent = `curl/8${s}`)],
];

function with_(f: (e: Mutable, s: string) => void, s: string): Mutable {
  const e = structuredClone(FULL) as Mutable;
  f(e, s);
  return e;
}

describe('invisible characters in display fields', () => {
  it('string_invisible is a known entry error code', () => {
    expect(ENTRY_ERROR_CODES).toContain('string_invisible');
  });

  it('every zero-width / format character is refused in every display field, naming field and code point', () => {
    for (const cp of INVISIBLE) {
      const s = String.fromCodePoint(cp);
      const hex = cp.toString(16).toUpperCase().padStart(4, '0');
      for (const [field, f] of FIELDS) {
        const r = validateEntry(with_(f, s));
        expect(r.ok, `U+${hex} in ${field}`).toBe(false);
        if (r.ok) continue;
        expect(r.errors[0], `U+${hex} in ${field}`).toMatchObject({ code: 'string_invisible', field });
        expect(r.errors[0]!.message).toContain(`U+${hex}`);
      }
    }
  });

  it('bidirectional controls stay string_control; unsigned entries are checked the same way', () => {
    for (const cp of BIDI) {
      const r = validateEntry(with_((e, s) => (e.actor.name = `x${s}`), String.fromCodePoint(cp)));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors[0]).toMatchObject({ code: 'string_control', field: 'actor.name' });
    }
    const u = validateUnsignedEntry({ ...fullUnsignedEntry(), actor: { id: 'ad\u200bmin' } });
    expect(u.ok).toBe(false);
    if (!u.ok) expect(u.errors[0]).toMatchObject({ code: 'string_invisible', field: 'actor.id' });
  });

  it('visible text is still accepted: accents, CJK, emoji (without joiners), and data may hold anything', () => {
    for (const name of ['Zoë Ångström', '李小龙', 'ok 👍', 'Ελένη', 'Dr. O’Neil', 'a b']) {
      const r = validateEntry(with_((e, s) => (e.actor.name = s), name));
      expect(r.ok, name).toBe(true);
    }
    const d = validateEntry(with_((e, s) => (e.data = { note: `zero${s}width` }), '\u200b'));
    expect(d.ok).toBe(true);
  });
});

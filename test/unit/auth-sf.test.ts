// The structured-field subset under RFC 9421: what it reads, and what it refuses (a signature
// whose fields cannot be read exactly is never verified).
import { describe, expect, it } from 'vitest';
import { isInnerList, parseDictionary, serializeInnerList, SF_MEMBERS_MAX, SfError } from '../../node/auth/sf.js';
import type { InnerList } from '../../node/auth/sf.js';

describe('structured fields', () => {
  it('reads an inner list with parameters and re-serializes it exactly', () => {
    const text = 'sig1=("@method" "@target-uri" "content-digest");created=1618884473;keyid="k-1";nonce="abc\\"d";alg="ed25519";tag=t1;flag';
    const d = parseDictionary(text);
    const m = d.get('sig1')!;
    expect(isInnerList(m)).toBe(true);
    const l = m as InnerList;
    expect(l.items.map((i) => i.value)).toEqual(['@method', '@target-uri', 'content-digest']);
    expect(l.params.get('nonce')).toBe('abc"d');
    expect(l.params.get('tag')).toEqual({ token: 't1' });
    expect(l.params.get('flag')).toBe(true);
    expect(`sig1=${serializeInnerList(l)}`).toBe(text);
  });

  it('reads byte sequences and several members with optional whitespace', () => {
    const d = parseDictionary('sha-256=:AAEC:,  sha-512=:/w==:');
    expect(d.size).toBe(2);
    const v = d.get('sha-512')!;
    expect(!isInnerList(v) && typeof v.value === 'object' && 'bytes' in v.value && Array.from(v.value.bytes)).toEqual([255]);
  });

  it('refuses duplicates, bad escapes, bad base64, decimals, trailing commas, too many members', () => {
    const bad = [
      'a=1, a=2',
      'a=("x");k=1;k=2',
      'a="\\n"',
      'a=:not base64!:',
      'a=1.5',
      'a=1,',
      'A=1',
      'a=("x"',
      'a="caf\u00e9"',
      Array.from({ length: SF_MEMBERS_MAX + 1 }, (_, i) => `k${i}=1`).join(', '),
    ];
    for (const b of bad) expect(() => parseDictionary(b), b).toThrow(SfError);
  });
});

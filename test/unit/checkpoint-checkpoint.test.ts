import { describe, expect, it } from 'vitest';
import {
  checkTrust,
  formatCheckpoint,
  parseCheckpoint,
  quorumSize,
  sameTreeHead,
  verifyCheckpointQuorum,
  CHECKPOINT_EXTENSION_LINES_MAX,
  type QuorumTrust,
} from '../../src/checkpoint/checkpoint.js';
import { formatNote, signNote, signText, verifierKey, type NoteSigner } from '../../src/checkpoint/note.js';
import { FormatError } from '../../src/checkpoint/result.js';
import { quorum as consensusQuorum } from '../../src/consensus/quorum.js';
import { nobleSigner, nobleVerifier } from '../../src/crypto/noble.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { fromHex, toBase64, utf8 } from '../../src/encoding/bytes.js';

const ROOT8 = fromHex('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328')!;
const ORIGIN = 'cairn.example/devnet';

function ok<T extends { ok: boolean }>(r: T): Extract<T, { ok: true }> {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r as Extract<T, { ok: true }>;
}

function orgs(n: number, offset = 0): NoteSigner[] {
  return Array.from({ length: n }, (_, i) => ({ name: `org${i + offset}.cairn.example`, signer: nobleSigner(new Uint8Array(32).fill(i + offset + 1)) }));
}

function trustFor(signers: NoteSigner[], quorum?: number): QuorumTrust {
  const keys = signers.map((s) => verifierKey(s.name, s.signer.publicKey));
  return { origin: ORIGIN, keys, quorum: quorum ?? quorumSize(keys.length) };
}

describe('tlog-checkpoint body', () => {
  it('formats exactly three lines and parses them back', () => {
    const text = formatCheckpoint({ origin: ORIGIN, size: 8, root: ROOT8 });
    expect(text).toBe('cairn.example/devnet\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n');
    const cp = ok(parseCheckpoint(text)).checkpoint;
    expect(cp).toMatchObject({ origin: ORIGIN, size: 8, extensions: [] });
    expect(toBase64(cp.root)).toBe(toBase64(ROOT8));
    expect(ok(parseCheckpoint(utf8(text))).checkpoint.size).toBe(8);
    expect(formatCheckpoint({ origin: ORIGIN, size: 0, root: ROOT8 })).toContain('\n0\n');
    expect(formatCheckpoint({ origin: ORIGIN, size: Number.MAX_SAFE_INTEGER, root: ROOT8 })).toContain('\n9007199254740991\n');
  });

  it('parses the tlog-checkpoint spec example (schema-less URL origin, 8-digit size)', () => {
    const text = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
    expect(ok(parseCheckpoint(text)).checkpoint).toMatchObject({ origin: 'example.com/behind-the-sofa', size: 20852163 });
  });

  it('accepts and returns extension lines (Cairn never produces them)', () => {
    const text = formatCheckpoint({ origin: ORIGIN, size: 1, root: ROOT8 }) + 'ext one\n— two\n';
    expect(ok(parseCheckpoint(text)).checkpoint.extensions).toEqual(['ext one', '— two']);
  });

  const root = toBase64(ROOT8);
  it.each([
    ['two lines', `${ORIGIN}\n8\n`, 'checkpoint_too_few_lines'],
    ['no final newline', `${ORIGIN}\n8\n${root}`, 'checkpoint_missing_final_newline'],
    ['empty origin', `\n8\n${root}\n`, 'checkpoint_bad_origin'],
    ['huge origin', `${'o'.repeat(1025)}\n8\n${root}\n`, 'checkpoint_bad_origin'],
    ['leading zero', `${ORIGIN}\n08\n${root}\n`, 'checkpoint_bad_size'],
    ['negative size', `${ORIGIN}\n-1\n${root}\n`, 'checkpoint_bad_size'],
    ['plus size', `${ORIGIN}\n+8\n${root}\n`, 'checkpoint_bad_size'],
    ['hex size', `${ORIGIN}\n0x8\n${root}\n`, 'checkpoint_bad_size'],
    ['space in size', `${ORIGIN}\n 8\n${root}\n`, 'checkpoint_bad_size'],
    ['empty size', `${ORIGIN}\n\n${root}\n`, 'checkpoint_bad_size'],
    ['size 2^53', `${ORIGIN}\n9007199254740992\n${root}\n`, 'checkpoint_size_too_large'],
    ['size 2^64', `${ORIGIN}\n18446744073709551616\n${root}\n`, 'checkpoint_size_too_large'],
    ['root 31 bytes', `${ORIGIN}\n8\n${toBase64(ROOT8.slice(1))}\n`, 'checkpoint_bad_root'],
    ['root unpadded', `${ORIGIN}\n8\n${root.slice(0, -1)}\n`, 'checkpoint_bad_root'],
    ['root url-safe', `${ORIGIN}\n8\n${root.replace('+', '-')}\n`, 'checkpoint_bad_root'],
    ['root hex', `${ORIGIN}\n8\n${'00'.repeat(32)}\n`, 'checkpoint_bad_root'],
    ['empty extension line', `${ORIGIN}\n8\n${root}\n\next\n`, 'checkpoint_bad_extension'],
    ['too many extensions', `${ORIGIN}\n8\n${root}\n${'x\n'.repeat(CHECKPOINT_EXTENSION_LINES_MAX + 1)}`, 'checkpoint_bad_extension'],
    ['CR', `${ORIGIN}\r\n8\n${root}\n`, 'note_control_character'],
  ])('rejects %s -> %s', (_l, text, code) => {
    expect(parseCheckpoint(text)).toMatchObject({ ok: false, code });
  });

  it('formatCheckpoint refuses what Cairn must not produce', () => {
    const bad: [object, string][] = [
      [{ origin: '', size: 1, root: ROOT8 }, 'checkpoint_bad_origin'],
      [{ origin: 'a b', size: 1, root: ROOT8 }, 'checkpoint_bad_origin'],
      [{ origin: 'a+b', size: 1, root: ROOT8 }, 'checkpoint_bad_origin'],
      [{ origin: 'a\nb', size: 1, root: ROOT8 }, 'checkpoint_bad_origin'],
      [{ origin: ORIGIN, size: -1, root: ROOT8 }, 'checkpoint_bad_size'],
      [{ origin: ORIGIN, size: 1.5, root: ROOT8 }, 'checkpoint_bad_size'],
      [{ origin: ORIGIN, size: 2 ** 53, root: ROOT8 }, 'checkpoint_bad_size'],
      [{ origin: ORIGIN, size: 1, root: new Uint8Array(31) }, 'checkpoint_bad_root'],
    ];
    for (const [cp, code] of bad) {
      try {
        formatCheckpoint(cp as { origin: string; size: number; root: Uint8Array });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
        expect((e as FormatError).code).toBe(code);
      }
    }
  });

  it('sameTreeHead compares origin, size and root', () => {
    const a = ok(parseCheckpoint(formatCheckpoint({ origin: ORIGIN, size: 8, root: ROOT8 }))).checkpoint;
    const b = ok(parseCheckpoint(formatCheckpoint({ origin: ORIGIN, size: 8, root: new Uint8Array(32) }))).checkpoint;
    expect(sameTreeHead(a, a)).toBe(true);
    expect(sameTreeHead(a, b)).toBe(false);
  });
});

describe('quorum q = floor(2n/3)+1', () => {
  it('matches the consensus rule and the table', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 10, 100].map(quorumSize)).toEqual([1, 2, 3, 3, 4, 5, 5, 7, 67]);
    for (let n = 1; n <= 100; n++) {
      expect(quorumSize(n)).toBe(consensusQuorum(n));
      // q > 2n/3 and q - 1 <= 2n/3: the smallest strict two-thirds majority
      expect(3 * quorumSize(n)).toBeGreaterThan(2 * n);
      expect(3 * (quorumSize(n) - 1)).toBeLessThanOrEqual(2 * n);
    }
    expect(() => quorumSize(0)).toThrow(FormatError);
    expect(() => quorumSize(2.5)).toThrow(FormatError);
  });

  const body = formatCheckpoint({ origin: ORIGIN, size: 8, root: ROOT8 });
  for (const [n, q] of [
    [4, 3],
    [5, 4],
    [6, 5],
    [7, 5],
  ] as const) {
    it(`n=${n}: q-1=${q - 1} valid signatures are rejected, q=${q} accepted (noble and node:crypto)`, () => {
      const all = orgs(n);
      const trust = trustFor(all);
      expect(trust.quorum).toBe(q);
      const short = signNote(body, all.slice(0, q - 1));
      for (const v of [nobleVerifier, nodeVerifier]) {
        const r = verifyCheckpointQuorum(short, trust, v);
        expect(r).toMatchObject({ ok: false, code: 'checkpoint_quorum_not_met' });
        expect(!r.ok && r.message).toContain(`signed by ${q - 1} of ${n}`);
      }
      const enough = signNote(body, all.slice(n - q)); // a different subset: the last q
      for (const v of [nobleVerifier, nodeVerifier]) {
        const r = ok(verifyCheckpointQuorum(enough, trust, v));
        expect(r.signers).toEqual(all.slice(n - q).map((s) => s.name));
        expect(r.checkpoint.size).toBe(8);
      }
      expect(ok(verifyCheckpointQuorum(signNote(body, all), trust, nobleVerifier)).signers).toHaveLength(n);
    });
  }

  it('an invalid signature from a known key rejects even with a quorum of valid ones', () => {
    const all = orgs(4);
    const trust = trustFor(all);
    const sigs = all.slice(0, 3).map((s) => signText(body, s));
    const other = signText(formatCheckpoint({ origin: ORIGIN, size: 9, root: ROOT8 }), all[3]!);
    const note = formatNote({ text: body, signatures: [...sigs, other] });
    expect(verifyCheckpointQuorum(note, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'note_invalid_signature' });
    expect(verifyCheckpointQuorum(note, trust, nodeVerifier)).toMatchObject({ ok: false, code: 'note_invalid_signature' });
  });

  it('signatures from unknown keys are ignored and do not count', () => {
    const all = orgs(4);
    const strangers = orgs(3, 50);
    const trust = trustFor(all);
    const note = signNote(body, [...strangers, all[0]!, all[1]!]);
    expect(verifyCheckpointQuorum(note, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'checkpoint_quorum_not_met' });
    const note2 = signNote(body, [...strangers, ...all.slice(0, 3)]);
    expect(ok(verifyCheckpointQuorum(note2, trust, nobleVerifier)).signers).toHaveLength(3);
  });

  it('a duplicated signer is counted once', () => {
    const all = orgs(4);
    const trust = trustFor(all);
    const a = signText(body, all[0]!);
    const b = signText(body, all[1]!);
    // formatNote dedupes identical lines, so build the duplicated note by hand.
    const once = formatNote({ text: body, signatures: [a, b] });
    const dupLine = once.slice(once.lastIndexOf('\u2014'));
    const note = once + dupLine + dupLine;
    expect(verifyCheckpointQuorum(note, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'checkpoint_quorum_not_met' });
    // the same organization under an impostor name is an unknown key, not a second signer
    const renamed = signNote(body, [all[0]!, all[1]!, { name: 'org0-again', signer: all[0]!.signer }]);
    expect(verifyCheckpointQuorum(renamed, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'checkpoint_quorum_not_met' });
  });

  it('rejects a checkpoint of another origin, and a malformed body, even when signed', () => {
    const all = orgs(4);
    const trust = trustFor(all);
    const foreign = signNote(formatCheckpoint({ origin: 'cairn.example/other', size: 8, root: ROOT8 }), all);
    expect(verifyCheckpointQuorum(foreign, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'checkpoint_origin_mismatch' });
    const notACheckpoint = signNote('hello\n', all);
    expect(verifyCheckpointQuorum(notACheckpoint, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'checkpoint_too_few_lines' });
    expect(verifyCheckpointQuorum('garbage', trust, nobleVerifier)).toMatchObject({ ok: false, code: 'note_missing_final_newline' });
  });

  it('checkTrust refuses quorums below floor(2n/3)+1, above n, and duplicate organizations', () => {
    const all = orgs(4);
    expect(checkTrust(trustFor(all)).ok).toBe(true);
    expect(checkTrust(trustFor(all, 4)).ok).toBe(true);
    expect(checkTrust(trustFor(all, 2))).toMatchObject({ ok: false, code: 'trust_invalid' });
    expect(checkTrust(trustFor(all, 5))).toMatchObject({ ok: false, code: 'trust_invalid' });
    const t = trustFor(all);
    expect(checkTrust({ ...t, keys: [] })).toMatchObject({ ok: false, code: 'trust_invalid' });
    expect(checkTrust({ ...t, keys: [...t.keys.slice(0, 3), t.keys[0]!] })).toMatchObject({ ok: false, code: 'trust_invalid' });
    const sameKeyOtherName = verifierKey('alias', all[0]!.signer.publicKey);
    expect(checkTrust({ ...t, keys: [...t.keys.slice(0, 3), sameKeyOtherName] })).toMatchObject({ ok: false, code: 'trust_invalid' });
    const note = signNote(formatCheckpoint({ origin: ORIGIN, size: 8, root: ROOT8 }), all);
    expect(verifyCheckpointQuorum(note, trustFor(all, 2), nobleVerifier)).toMatchObject({ ok: false, code: 'trust_invalid' });
  });
});

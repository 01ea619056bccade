import { beforeAll, describe, expect, it } from 'vitest';
import { formatCheckpoint, quorumSize, type QuorumTrust } from '../../src/checkpoint/checkpoint.js';
import { signNote, verifierKey, type NoteSigner } from '../../src/checkpoint/note.js';
import {
  formatReceipt,
  parseReceipt,
  verifyReceiptWith,
  RECEIPT_HEADER,
  RECEIPT_PROOF_HASHES_MAX,
  type Receipt,
} from '../../src/checkpoint/receipt.js';
import { FormatError } from '../../src/checkpoint/result.js';
import { nobleSigner, nobleVerifier } from '../../src/crypto/noble.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { fromHex, toBase64, toHex, utf8 } from '../../src/encoding/bytes.js';
import { leafHash } from '../../src/merkle/hash.js';
import { MerkleLog } from '../../src/merkle/log.js';

function ok<T extends { ok: boolean }>(r: T): Extract<T, { ok: true }> {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r as Extract<T, { ok: true }>;
}

const ORIGIN = 'cairn.example/devnet';
// The RFC 6962 test inputs: the 8-leaf tree over them has root 5dc9da79…4328.
const RFC6962_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => fromHex(h)!);

const signers: NoteSigner[] = [0, 1, 2, 3].map((i) => ({ name: `org${i}`, signer: nobleSigner(new Uint8Array(32).fill(i + 1)) }));
const trust: QuorumTrust = { origin: ORIGIN, keys: signers.map((s) => verifierKey(s.name, s.signer.publicKey)), quorum: quorumSize(4) };

let log: MerkleLog;
let note: string;

beforeAll(async () => {
  log = new MerkleLog();
  await log.append(RFC6962_LEAVES);
  expect(toHex(log.root())).toBe('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
  note = signNote(formatCheckpoint({ origin: ORIGIN, size: log.size, root: log.root() }), signers.slice(0, 3));
});

async function receiptFor(index: number, extra?: Uint8Array): Promise<Receipt> {
  const proof = await log.inclusionProof(index);
  return extra === undefined ? { index, proof, checkpoint: note } : { index, proof, checkpoint: note, extra };
}

describe('C2SP tlog-proof receipts', () => {
  it('formats the exact line structure of the spec and parses it back', async () => {
    const r = await receiptFor(5);
    const text = formatReceipt(r);
    const proofLines = r.proof.map((h) => toBase64(h) + '\n').join('');
    expect(text).toBe(`${RECEIPT_HEADER}\nindex 5\n${proofLines}\n${note}`);
    expect(r.proof).toHaveLength(3);
    const back = ok(parseReceipt(text)).receipt;
    expect(back.index).toBe(5);
    expect(back.proof.map(toHex)).toEqual(r.proof.map(toHex));
    expect(back.checkpoint).toBe(note);
    expect(back.extra).toBeUndefined();
    expect(ok(parseReceipt(utf8(text))).receipt.index).toBe(5);
  });

  it('supports the optional unauthenticated extra line, right after the header', async () => {
    const extra = utf8('age-v1.2.1-darwin-arm64.tar.gz');
    const text = formatReceipt(await receiptFor(2, extra));
    expect(text.startsWith(`${RECEIPT_HEADER}\nextra ${toBase64(extra)}\nindex 2\n`)).toBe(true);
    const back = ok(parseReceipt(text)).receipt;
    expect(back.extra && new TextDecoder().decode(back.extra)).toBe('age-v1.2.1-darwin-arm64.tar.gz');
    // it is not part of what is verified: changing it keeps the receipt valid
    const other = text.replace(`extra ${toBase64(extra)}`, `extra ${toBase64(utf8('something else'))}`);
    expect(verifyReceiptWith(other, leafHash(RFC6962_LEAVES[2]!), trust, nobleVerifier).ok).toBe(true);
  });

  it('a one-leaf tree has an empty proof: "index 0", empty line, checkpoint', async () => {
    const one = new MerkleLog();
    await one.append([utf8('only')]);
    const cpNote = signNote(formatCheckpoint({ origin: ORIGIN, size: 1, root: one.root() }), signers.slice(0, 3));
    const text = formatReceipt({ index: 0, proof: [], checkpoint: cpNote });
    expect(text).toBe(`${RECEIPT_HEADER}\nindex 0\n\n${cpNote}`);
    const v = ok(verifyReceiptWith(text, leafHash(utf8('only')), trust, nobleVerifier));
    expect(v.checkpoint.size).toBe(1);
  });

  it('verifies every leaf of the RFC 6962 tree with noble and node:crypto', async () => {
    for (let i = 0; i < RFC6962_LEAVES.length; i++) {
      const text = formatReceipt(await receiptFor(i));
      for (const v of [nobleVerifier, nodeVerifier]) {
        const r = ok(verifyReceiptWith(text, leafHash(RFC6962_LEAVES[i]!), trust, v));
        expect(r.index).toBe(i);
        expect(r.signers).toEqual(['org0', 'org1', 'org2']);
      }
    }
  });

  it('rejects a wrong leaf, a wrong index, a tampered proof and an unsigned checkpoint', async () => {
    const r = await receiptFor(3);
    const text = formatReceipt(r);
    const leaf = leafHash(RFC6962_LEAVES[3]!);
    expect(verifyReceiptWith(text, leafHash(RFC6962_LEAVES[4]!), trust, nobleVerifier)).toMatchObject({ ok: false, code: 'proof_root_mismatch' });
    expect(verifyReceiptWith(formatReceipt({ ...r, index: 2 }), leaf, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'proof_root_mismatch' });
    expect(verifyReceiptWith(formatReceipt({ ...r, index: 8 }), leaf, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'receipt_index_out_of_range' });
    const tampered = r.proof.map((h, i) => (i === 1 ? h.map((b, j) => (j === 0 ? b ^ 1 : b)) : h));
    expect(verifyReceiptWith(formatReceipt({ ...r, proof: tampered }), leaf, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'proof_root_mismatch' });
    expect(verifyReceiptWith(formatReceipt({ ...r, proof: r.proof.slice(0, 2) }), leaf, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'proof_proof_too_short' });
    expect(verifyReceiptWith(formatReceipt({ ...r, proof: [...r.proof, r.proof[0]!] }), leaf, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'proof_proof_too_long' });
    const weak = signNote(formatCheckpoint({ origin: ORIGIN, size: 8, root: log.root() }), signers.slice(0, 2));
    expect(verifyReceiptWith(formatReceipt({ ...r, checkpoint: weak }), leaf, trust, nobleVerifier)).toMatchObject({ ok: false, code: 'checkpoint_quorum_not_met' });
    expect(verifyReceiptWith(text, new Uint8Array(31), trust, nobleVerifier)).toMatchObject({ ok: false, code: 'receipt_bad_leaf_hash' });
  });

  it('rejects malformed receipts with specific codes and never throws', async () => {
    const text = formatReceipt(await receiptFor(5));
    const [head, ...rest] = text.split('\n');
    const body = rest.join('\n');
    const h0 = toBase64((await receiptFor(5)).proof[0]!);
    const cases: [string, string, string][] = [
      ['wrong header', 'c2sp.org/tlog-proof@v2\n' + body, 'receipt_bad_header'],
      ['header with trailing space', head + ' \n' + body, 'receipt_bad_header'],
      ['missing index', text.replace('index 5\n', ''), 'receipt_bad_index'],
      ['index leading zero', text.replace('index 5', 'index 05'), 'receipt_bad_index'],
      ['index negative', text.replace('index 5', 'index -5'), 'receipt_bad_index'],
      ['index two spaces', text.replace('index 5', 'index  5'), 'receipt_bad_index'],
      ['index uppercase', text.replace('index 5', 'INDEX 5'), 'receipt_bad_index'],
      ['index 2^53', text.replace('index 5', 'index 9007199254740992'), 'receipt_index_too_large'],
      ['extra after index', text.replace('index 5\n', 'index 5\nextra AAAA\n'), 'receipt_bad_proof_hash'],
      ['empty extra', text.replace('index 5\n', 'extra \nindex 5\n'), 'receipt_bad_extra'],
      ['bad extra base64', text.replace('index 5\n', 'extra A\nindex 5\n'), 'receipt_bad_extra'],
      ['short hash', text.replace(h0, toBase64(new Uint8Array(31))), 'receipt_bad_proof_hash'],
      ['unpadded hash', text.replace(h0, h0.slice(0, -1)), 'receipt_bad_proof_hash'],
      ['too many hashes', text.replace('index 5\n', 'index 5\n' + (h0 + '\n').repeat(RECEIPT_PROOF_HASHES_MAX + 1)), 'receipt_proof_too_long'],
      ['no empty line', `${RECEIPT_HEADER}\nindex 0\n`, 'receipt_missing_checkpoint'],
      ['no checkpoint', `${RECEIPT_HEADER}\nindex 0\n\n`, 'receipt_missing_checkpoint'],
      ['checkpoint without signatures', `${RECEIPT_HEADER}\nindex 0\n\n${note.slice(0, note.indexOf('\n\n') + 1)}`, 'note_no_signature_block'],
      ['CRLF', text.replace(/\n/g, '\r\n'), 'note_control_character'],
      ['empty', '', 'receipt_missing_checkpoint'],
    ];
    for (const [label, input, code] of cases) {
      expect(parseReceipt(input), label).toMatchObject({ ok: false, code });
      expect(verifyReceiptWith(input, leafHash(RFC6962_LEAVES[5]!), trust, nobleVerifier), label).toMatchObject({ ok: false, code });
    }
    expect(parseReceipt(new Uint8Array([0xc3, 0x28]))).toMatchObject({ ok: false, code: 'note_not_utf8' });
    expect(parseReceipt(7 as unknown as string)).toMatchObject({ ok: false, code: 'note_not_string_or_bytes' });
  });

  it('formatReceipt throws FormatError on bad fields', async () => {
    const r = await receiptFor(1);
    for (const bad of [
      { ...r, index: -1 },
      { ...r, proof: [new Uint8Array(3)] },
      { ...r, extra: new Uint8Array(0) },
      { ...r, checkpoint: 'not a note' },
    ]) {
      expect(() => formatReceipt(bad)).toThrow(FormatError);
    }
  });
});

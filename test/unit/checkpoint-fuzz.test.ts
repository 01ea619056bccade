// Property: no parser or verifier of untrusted input throws, whatever the bytes. Mutations of
// valid inputs (byte flips, insertions, deletions, splices of syntax characters) must produce
// either a success or a { ok: false, code, message } with a code of the expected family.
import { beforeAll, describe, expect, it } from 'vitest';
import { formatCheckpoint, parseCheckpoint, verifyCheckpointQuorum, type QuorumTrust } from '../../src/checkpoint/checkpoint.js';
import { formatVerifierKey, parseSignerKey, parseVerifierKey, verifierKey } from '../../src/checkpoint/keys.js';
import { parseNote, signNote, verifyNote, type NoteSigner } from '../../src/checkpoint/note.js';
import { formatReceipt, parseReceipt, verifyReceiptWith } from '../../src/checkpoint/receipt.js';
import { nobleSigner, nobleVerifier } from '../../src/crypto/noble.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { fromUtf8, utf8 } from '../../src/encoding/bytes.js';
import { leafHash } from '../../src/merkle/hash.js';
import { MerkleLog } from '../../src/merkle/log.js';
import { parseTrustFile } from '../../src/verifier/trust.js';
import { SeededRandom } from './support/seeded-random.js';

const SYNTAX = ['\n', '\n\n', ' ', '+', '=', '/', '\u2014 ', 'index ', 'extra ', '0', '"', '{', ']', '\r', '\u0000', '\u00ff'];

function mutate(rnd: SeededRandom, input: Uint8Array): Uint8Array {
  let b = input.slice();
  const steps = 1 + rnd.int(4);
  for (let s = 0; s < steps; s++) {
    const at = b.length === 0 ? 0 : rnd.int(b.length);
    switch (rnd.int(4)) {
      case 0:
        if (b.length > 0) b[at] = rnd.int(256);
        break;
      case 1:
        b = new Uint8Array([...b.subarray(0, at), ...utf8(rnd.pick(SYNTAX)), ...b.subarray(at)]);
        break;
      case 2:
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + 1 + rnd.int(8)))]);
        break;
      default:
        b = b.subarray(0, at);
    }
  }
  return b;
}

function asText(b: Uint8Array): string | Uint8Array {
  try {
    return fromUtf8(b);
  } catch {
    return b;
  }
}

const ITERATIONS = 1500;
const orgs: NoteSigner[] = [1, 2, 3, 4].map((i) => ({ name: `org${i}`, signer: nobleSigner(new Uint8Array(32).fill(i)) }));
const trust: QuorumTrust = { origin: 'fuzz.example/log', keys: orgs.map((o) => verifierKey(o.name, o.signer.publicKey)), quorum: 3 };
let note = '';
let receipt = '';
let leaf: Uint8Array;

beforeAll(async () => {
  const log = new MerkleLog();
  await log.append(Array.from({ length: 11 }, (_, i) => utf8(`e${i}`)));
  note = signNote(formatCheckpoint({ origin: trust.origin, size: log.size, root: log.root() }), orgs.slice(0, 3));
  receipt = formatReceipt({ index: 6, proof: await log.inclusionProof(6), checkpoint: note });
  leaf = leafHash(utf8('e6'));
});

function expectResult(r: { ok: boolean; code?: string }, family: RegExp): void {
  expect(typeof r.ok).toBe('boolean');
  if (!r.ok) expect(r.code).toMatch(family);
}

describe('parsers never throw on mutated input', () => {
  it('checkpoint notes (parseNote, parseCheckpoint, verifyNote, verifyCheckpointQuorum)', () => {
    const rnd = new SeededRandom('fuzz-note');
    let accepted = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const m = mutate(rnd, utf8(note));
      const input = rnd.int(2) === 0 ? m : asText(m);
      expectResult(parseNote(input), /^note_/);
      expectResult(parseCheckpoint(input), /^(note|checkpoint)_/);
      expectResult(verifyNote(input, trust.keys, nodeVerifier), /^note_/);
      const r = verifyCheckpointQuorum(input, trust, nodeVerifier);
      expectResult(r, /^(note|checkpoint)_/);
      if (r.ok) accepted++;
    }
    // Sanity: mutations that keep a valid signed note exist (e.g. deleting only a whole extra
    // signature line) but are rare; the point is that nothing threw.
    expect(accepted).toBeLessThan(ITERATIONS);
  });

  it('receipts (parseReceipt, verifyReceiptWith)', () => {
    const rnd = new SeededRandom('fuzz-receipt');
    for (let i = 0; i < ITERATIONS; i++) {
      const input = asText(mutate(rnd, utf8(receipt)));
      expectResult(parseReceipt(input), /^(note|receipt)_/);
      expectResult(verifyReceiptWith(input, leaf, trust, nodeVerifier), /^(note|checkpoint|receipt|proof)_/);
    }
    expect(verifyReceiptWith(receipt, leaf, trust, nobleVerifier).ok).toBe(true);
  });

  it('key strings and trust files', () => {
    const rnd = new SeededRandom('fuzz-keys');
    const vk = formatVerifierKey('org1', orgs[0]!.signer.publicKey);
    const trustText = JSON.stringify({ origin: trust.origin, quorum: 3, keys: trust.keys.map((k) => k.text) });
    for (let i = 0; i < ITERATIONS / 3; i++) {
      const k = asText(mutate(rnd, utf8(vk)));
      expectResult(parseVerifierKey(k as string), /^key_/);
      expectResult(parseSignerKey(('PRIVATE+KEY+' + (typeof k === 'string' ? k : '')) as string), /^key_/);
      expectResult(parseTrustFile(asText(mutate(rnd, utf8(trustText)))), /^trust_/);
    }
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { formatVerifierKey } from '../../src/checkpoint/keys.js';
import { signNote, type NoteSigner } from '../../src/checkpoint/note.js';
import { formatReceipt } from '../../src/checkpoint/receipt.js';
import { nobleSigner } from '../../src/crypto/noble.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import type { Ed25519Verifier } from '../../src/crypto/types.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { leafHash } from '../../src/merkle/hash.js';
import { MerkleLog } from '../../src/merkle/log.js';
import {
  parseTrustFile,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
  verifyReceipt,
  type TrustRoot,
} from '../../src/verifier/index.js';

const ORIGIN = 'cairn.example/audit';
const orgs: NoteSigner[] = [1, 2, 3, 4].map((i) => ({ name: `org${i}.example`, signer: nobleSigner(new Uint8Array(32).fill(0x40 + i)) }));
let trust: TrustRoot;
const log = new MerkleLog();
const entries = Array.from({ length: 37 }, (_, i) => utf8(`entry ${i}`));
const notes = new Map<number, string>();

function checkpointAt(size: number, root: Uint8Array, signers = orgs.slice(0, 3)): string {
  return signNote(formatCheckpoint({ origin: ORIGIN, size, root }), signers);
}

// Counts calls so that the tests can see which Ed25519 implementation was used.
function counting(inner: Ed25519Verifier): Ed25519Verifier & { calls: number } {
  const v = {
    name: `counting-${inner.name}`,
    calls: 0,
    verify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array) {
      v.calls++;
      return inner.verify(pub, msg, sig);
    },
  };
  return v;
}

beforeAll(async () => {
  const parsed = parseTrustFile(
    JSON.stringify({ origin: ORIGIN, quorum: 3, keys: orgs.map((o) => formatVerifierKey(o.name, o.signer.publicKey)) }),
  );
  if (!parsed.ok) throw new Error(parsed.message);
  trust = parsed.trust;
  for (const size of [0, 1, 13, 16, 37]) {
    if (size > log.size) await log.append(entries.slice(log.size, size));
    notes.set(size, checkpointAt(size, log.root()));
  }
});

describe('verifyCheckpoint', () => {
  it('returns origin, size, root and signers (noble by default, node:crypto injectable)', () => {
    const r = verifyCheckpoint(trust, notes.get(37)!);
    expect(r).toMatchObject({ ok: true, origin: ORIGIN, size: 37, signers: ['org1.example', 'org2.example', 'org3.example'] });
    expect(r.ok && toHex(r.root)).toBe(toHex(log.root()));
    const v = counting(nodeVerifier);
    expect(verifyCheckpoint(trust, utf8(notes.get(37)!), { verifier: v }).ok).toBe(true);
    expect(v.calls).toBe(3);
  });

  it('reports specific reasons', () => {
    expect(verifyCheckpoint(trust, checkpointAt(37, log.root(), orgs.slice(0, 2)))).toMatchObject({ ok: false, code: 'checkpoint_quorum_not_met' });
    const other = signNote(formatCheckpoint({ origin: 'cairn.example/other', size: 1, root: log.root() }), orgs);
    expect(verifyCheckpoint(trust, other)).toMatchObject({ ok: false, code: 'checkpoint_origin_mismatch' });
    expect(verifyCheckpoint(trust, 'x')).toMatchObject({ ok: false, code: 'note_missing_final_newline' });
    const forged = notes.get(37)!.replace('\n37\n', '\n38\n');
    expect(verifyCheckpoint(trust, forged)).toMatchObject({ ok: false, code: 'note_invalid_signature' });
  });
});

describe('verifyInclusion', () => {
  it('verifies entries at many (index, size) pairs', async () => {
    for (const size of [1, 13, 16, 37]) {
      for (let index = 0; index < size; index += 3) {
        const proof = await log.inclusionProof(index, size);
        const r = verifyInclusion(trust, { entryLeaf: entries[index]!, index, proof, checkpoint: notes.get(size)! }, { verifier: nodeVerifier });
        expect(r, `index ${index} size ${size}`).toMatchObject({ ok: true, index, size, origin: ORIGIN });
        expect(r.ok && toHex(r.leafHash)).toBe(toHex(leafHash(entries[index]!)));
      }
    }
  });

  it('rejects the wrong entry, the wrong index, a bad proof and an out-of-range index', async () => {
    const proof = await log.inclusionProof(5, 37);
    const cp = notes.get(37)!;
    expect(verifyInclusion(trust, { entryLeaf: entries[6]!, index: 5, proof, checkpoint: cp })).toMatchObject({ ok: false, code: 'proof_root_mismatch' });
    expect(verifyInclusion(trust, { entryLeaf: entries[5]!, index: 4, proof, checkpoint: cp })).toMatchObject({ ok: false, code: 'proof_root_mismatch' });
    expect(verifyInclusion(trust, { entryLeaf: entries[5]!, index: 37, proof, checkpoint: cp })).toMatchObject({ ok: false, code: 'proof_index_out_of_range' });
    expect(verifyInclusion(trust, { entryLeaf: entries[5]!, index: 5, proof: proof.slice(1), checkpoint: cp })).toMatchObject({ ok: false, code: 'proof_proof_too_short' });
    expect(verifyInclusion(trust, { entryLeaf: entries[5]!, index: -1, proof, checkpoint: cp })).toMatchObject({ ok: false, code: 'proof_bad_index' });
    expect(verifyInclusion(trust, { entryLeaf: new Uint8Array(70_000), index: 5, proof, checkpoint: cp })).toMatchObject({ ok: false, code: 'entry_too_large' });
    expect(verifyInclusion(trust, { entryLeaf: 'x' as unknown as Uint8Array, index: 5, proof, checkpoint: cp })).toMatchObject({ ok: false, code: 'entry_bad_input' });
    expect(verifyInclusion(trust, { entryLeaf: entries[5]!, index: 5, proof, checkpoint: checkpointAt(37, log.root(), orgs.slice(0, 1)) })).toMatchObject({
      ok: false,
      code: 'checkpoint_quorum_not_met',
    });
  });
});

describe('verifyConsistency', () => {
  it('verifies prefixes between every pair of signed sizes', async () => {
    const sizes = [0, 1, 13, 16, 37];
    for (const a of sizes) {
      for (const b of sizes) {
        if (a > b) continue;
        const proof = await log.consistencyProof(a, b);
        const r = verifyConsistency(trust, { old: notes.get(a)!, new: notes.get(b)!, proof });
        expect(r, `${a} -> ${b}`).toMatchObject({ ok: true, origin: ORIGIN, old: { size: a }, new: { size: b } });
      }
    }
  });

  it('rejects a fork, swapped checkpoints, a bad proof and a weakly signed side', async () => {
    const proof = await log.consistencyProof(13, 37);
    // A fork: another tree of size 37 whose first 13 leaves differ.
    const fork = new MerkleLog();
    await fork.append(entries.map((e, i) => (i === 3 ? utf8('rewritten') : e)));
    const forkNote = checkpointAt(37, fork.root());
    expect(verifyConsistency(trust, { old: notes.get(13)!, new: forkNote, proof })).toMatchObject({ ok: false, code: 'proof_root2_mismatch' });
    expect(verifyConsistency(trust, { old: notes.get(37)!, new: notes.get(13)!, proof })).toMatchObject({ ok: false, code: 'proof_size_order' });
    expect(verifyConsistency(trust, { old: notes.get(13)!, new: notes.get(37)!, proof: proof.slice(1) })).toMatchObject({ ok: false });
    expect(verifyConsistency(trust, { old: notes.get(37)!, new: forkNote, proof: [] })).toMatchObject({ ok: false, code: 'proof_root2_mismatch' });
    const weakOld = verifyConsistency(trust, { old: checkpointAt(13, (await log.rootAt(13)), orgs.slice(0, 2)), new: notes.get(37)!, proof });
    expect(weakOld).toMatchObject({ ok: false, code: 'checkpoint_quorum_not_met' });
    expect(!weakOld.ok && weakOld.message).toMatch(/^old checkpoint: /);
    const weakNew = verifyConsistency(trust, { old: notes.get(13)!, new: checkpointAt(37, log.root(), orgs.slice(0, 2)), proof });
    expect(!weakNew.ok && weakNew.message).toMatch(/^new checkpoint: /);
  });
});

describe('verifyReceipt', () => {
  it('verifies a tlog-proof receipt for an entry and returns what was verified', async () => {
    const receipt = formatReceipt({ index: 20, proof: await log.inclusionProof(20, 37), checkpoint: notes.get(37)! });
    const r = verifyReceipt(trust, receipt, entries[20]!);
    expect(r).toMatchObject({ ok: true, origin: ORIGIN, size: 37, index: 20, signers: ['org1.example', 'org2.example', 'org3.example'] });
    expect(verifyReceipt(trust, utf8(receipt), entries[20]!, { verifier: nodeVerifier }).ok).toBe(true);
    expect(verifyReceipt(trust, receipt, entries[21]!)).toMatchObject({ ok: false, code: 'proof_root_mismatch' });
    expect(verifyReceipt(trust, receipt.replace('index 20', 'index 021'), entries[20]!)).toMatchObject({ ok: false, code: 'receipt_bad_index' });
    const other = parseTrustFile(JSON.stringify({ origin: 'cairn.example/elsewhere', quorum: 3, keys: trust.keys.map((k) => k.text) }));
    if (!other.ok) throw new Error(other.message);
    expect(verifyReceipt(other.trust, receipt, entries[20]!)).toMatchObject({ ok: false, code: 'checkpoint_origin_mismatch' });
  });
});

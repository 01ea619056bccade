// The explorer's in-page verification (web/src/checks.ts), run here in Node on a real Merkle log:
// an honest final entry passes all four named checks; each kind of tampering fails exactly the
// check that covers it; the checkpoint memory tells first visit, same tree, a proven extension, a
// rollback, a fork at the same size and a fork hidden behind a larger tree (bad consistency proof).
import { describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { signNote } from '../../src/checkpoint/note.js';
import type { EntryResponse } from '../../src/client/types.js';
import { nobleSigner } from '../../src/crypto/noble.js';
import { fromBase64, toBase64, toHex } from '../../src/encoding/bytes.js';
import { entryLeaf, leafHashOfEntry, signEntry } from '../../src/entry/index.js';
import { MerkleLog } from '../../src/merkle/index.js';
import { formatVerifierKey, parseTrustFile } from '../../src/verifier/index.js';
import { compareWithStored, toStored, verifyEntry } from '../../web/src/checks.js';

const seed = (i: number): Uint8Array => new Uint8Array(32).fill(i + 1);
const orgs = [0, 1, 2, 3].map((i) => ({ name: `org${i}.example`, signer: nobleSigner(seed(i)) }));
const ORIGIN = 'explorer.example/log';
const parsed = parseTrustFile(JSON.stringify({ origin: ORIGIN, quorum: 3, keys: orgs.map((o) => formatVerifierKey(o.name, o.signer.publicKey)) }));
if (!parsed.ok) throw new Error(parsed.message);
const trust = parsed.trust;
const client = nobleSigner(seed(9));
const entries = [0, 1, 2, 3, 4, 5].map((i) =>
  signEntry({ v: 1, id: `x-${i}`, time: '2026-12-01T00:00:00Z', actor: { id: 'alice' }, action: 'db.query', resource: { type: 't', id: `r${i}` }, outcome: 'success' }, client),
);

async function logOf(n: number): Promise<MerkleLog> {
  const log = new MerkleLog();
  await log.append(entries.slice(0, n).map((e) => entryLeaf(e)));
  return log;
}
const note = (size: number, root: Uint8Array, signers = orgs.slice(0, 3)): string => signNote(formatCheckpoint({ origin: ORIGIN, size, root }), signers);

async function answer(i: number, size: number): Promise<EntryResponse> {
  const log = await logOf(size);
  const leaf = entryLeaf(entries[i]!);
  return {
    leafHash: toHex(leafHashOfEntry(leaf)),
    status: 'final',
    entry: entries[i]!,
    leaf: toBase64(leaf),
    index: i,
    treeSize: size,
    proof: (await log.inclusionProof(i, size)).map((h) => toBase64(h)),
    checkpoint: note(size, log.root()),
  };
}

const failedChecks = (r: EntryResponse): string[] => verifyEntry(trust, r).checks.filter((c) => !c.ok).map((c) => c.name);

describe('explorer entry checks', () => {
  it('an honest final entry passes all four checks', async () => {
    const v = verifyEntry(trust, await answer(2, 6));
    expect(v.verified).toBe(true);
    expect(v.checks.map((c) => c.name).sort()).toEqual(['Checkpoint quorum', 'Client signature', 'Entry bytes', 'Inclusion proof']);
  });

  it('each tampering fails the check that covers it, and nothing is verified', async () => {
    const r = await answer(2, 6);
    const forged = { ...r.entry, actor: { id: 'mallory' } };
    expect(failedChecks({ ...r, entry: forged, leaf: toBase64(entryLeaf(forged)) })).toEqual(['Client signature', 'Inclusion proof']);
    expect(failedChecks({ ...r, entry: forged })).toEqual(['Entry bytes']);
    const p = fromBase64(r.proof![0]!)!;
    p[0] = p[0]! ^ 1;
    expect(failedChecks({ ...r, proof: [toBase64(p), ...r.proof!.slice(1)] })).toEqual(['Inclusion proof']);
    const log = await logOf(6);
    // Two signatures only: below the quorum of 3.
    expect(failedChecks({ ...r, checkpoint: note(6, log.root(), orgs.slice(0, 2)) })).toEqual(['Checkpoint quorum', 'Inclusion proof']);
    expect(failedChecks({ ...r, leafHash: 'ab'.repeat(32) })).toEqual(['Inclusion proof']);
    expect(verifyEntry(trust, { ...r, status: 'logged' }).verified).toBe(false);
  });
});

describe('explorer checkpoint memory', () => {
  it('first visit, same tree, a proven extension, a rollback, a fork at the same size and one behind a larger tree', async () => {
    const small = await logOf(3);
    const big = await logOf(6);
    const stored = toStored(trust, note(3, small.root()), 1)!;
    const proof = async (a: number, b: number) => big.consistencyProof(a, b);
    expect((await compareWithStored(trust, undefined, note(3, small.root()), proof)).kind).toBe('first');
    expect((await compareWithStored(trust, stored, note(3, small.root()), proof)).kind).toBe('same');
    expect(await compareWithStored(trust, stored, note(6, big.root()), proof)).toEqual({ kind: 'extended', from: 3, to: 6 });
    const s2 = await logOf(2);
    expect((await compareWithStored(trust, stored, note(2, s2.root()), proof)).kind).toBe('rollback');
    expect((await compareWithStored(trust, stored, note(3, new Uint8Array(32).fill(5)), proof)).kind).toBe('fork');
    // A larger tree that does not extend the stored one: the consistency proof cannot check out.
    expect((await compareWithStored(trust, stored, note(6, new Uint8Array(32).fill(6)), proof)).kind).toBe('fork');
    // A served checkpoint without a quorum is never compared (nor stored).
    expect((await compareWithStored(trust, stored, note(6, big.root(), orgs.slice(0, 1)), proof)).kind).toBe('unchecked');
    expect(toStored(trust, note(6, big.root(), orgs.slice(0, 1)), 1)).toBeNull();
  });
});

// The light verifier's chain of trust: from the genesis trust file, through three membership
// changes (add, rotate, remove), each accepted only when final under a quorum of the set in force.
import { beforeAll, describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { signNote, type NoteSigner } from '../../src/checkpoint/note.js';
import { formatReceipt } from '../../src/checkpoint/receipt.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { entryLeaf } from '../../src/entry/leaf.js';
import { signEntry } from '../../src/entry/sign.js';
import { govEntry, type GovRecord } from '../../src/governance/index.js';
import { MerkleLog } from '../../src/merkle/log.js';
import {
  currentTrust,
  formatTrustChainFile,
  formatTrustFile,
  parseTrustChainFile,
  parseTrustFile,
  updateTrustChain,
  verifyCheckpointAt,
  verifyReceiptAt,
  verifyConsistencyAt,
  type TrustChain,
  type TrustStep,
} from '../../src/verifier/index.js';
import { add, clientKey, grant, org, ORIGIN, paramsSet, remove, rotate, type TestOrg } from './support/governance-fixture.js';

const OPTS = { verifier: nodeVerifier };
const [a, b, c, d, e] = ['org1', 'org2', 'org3', 'org4', 'org5'].map((n) => org(n)) as TestOrg[] as [TestOrg, TestOrg, TestOrg, TestOrg, TestOrg];
const a2 = org('org1', 1);
const [x, y, z] = ['orgx', 'orgy', 'orgz'].map((n) => org(n)) as [TestOrg, TestOrg, TestOrg];
const submitter = clientKey('gov-submitter');
const ns = (os: TestOrg[]): NoteSigner[] => os.map((o) => ({ name: o.name, signer: o.signer }));

function leafOf(record: GovRecord): Uint8Array {
  return entryLeaf(signEntry(govEntry(record, { time: '2026-01-01T00:00:00Z', actor: { id: 'gov-admin', type: 'service' } }), submitter.signer));
}

const log = new MerkleLog();
const leaves: Uint8Array[] = [];
const genesisTrustFile = formatTrustFile({ origin: ORIGIN, quorum: 3, keys: [a, b, c, d].map((o) => o.key) });
const recAdd = add(e, [a, b, c], 100);
const recRotate = rotate(a, a2, 20, 100, undefined, 2);
const recRemove = remove('org4', [a2, b, c, e], 100, 3);
const at: Record<string, number> = {};

async function put(leaf: Uint8Array, label?: string): Promise<void> {
  if (label) at[label] = leaves.length;
  leaves.push(leaf);
  await log.append([leaf]);
}
async function filler(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await put(utf8(`entry ${leaves.length}`));
}
async function checkpoint(size: number, signers: TestOrg[]): Promise<string> {
  return signNote(formatCheckpoint({ origin: ORIGIN, size, root: await log.rootAt(size) }), ns(signers));
}
async function step(label: string, size: number, signers: TestOrg[], leaf?: Uint8Array): Promise<TrustStep> {
  const index = at[label]!;
  return { entryLeaf: leaf ?? leaves[index]!, index, proof: await log.inclusionProof(index, size), checkpoint: await checkpoint(size, signers) };
}

let genesisChain: TrustChain;
let steps: TrustStep[];

beforeAll(async () => {
  await filler(5);
  await put(leafOf(recAdd), 'add'); // 5
  await filler(2); // size 8: handover of the genesis set (a, b, c, d; q = 3)
  await filler(2);
  await put(leafOf(recRotate), 'rotate'); // 10
  await filler(1); // size 12: handover of {a, b, c, d, e} (q = 4)
  await filler(2);
  await put(leafOf(recRemove), 'remove'); // 14
  await filler(1); // size 16: handover of {a2, b, c, d, e} (q = 4)
  await put(leafOf(paramsSet({ maxBlockEntries: 10 }, [a2, b, c, e], 100)), 'params'); // 16
  await filler(3); // size 20: {a2, b, c, e} (q = 3)
  const parsed = parseTrustChainFile(genesisTrustFile);
  if (!parsed.ok) throw new Error(parsed.message);
  genesisChain = parsed.chain;
  steps = [await step('add', 8, [a, b, c]), await step('rotate', 12, [a, b, c, e]), await step('remove', 16, [a2, b, c, d])];
});

describe('light verifier chain of trust', () => {
  it('from the genesis trust file, verifies a checkpoint after three membership changes (and the old ones)', async () => {
    const r = updateTrustChain(genesisChain, steps, OPTS);
    if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
    expect(r.applied.map((s) => [s.type, s.afterSize, s.keys.map((k) => k.name).join(','), s.quorum])).toEqual([
      ['org.add', 8, 'org1,org2,org3,org4,org5', 4],
      ['org.key.rotate', 12, 'org1,org2,org3,org4,org5', 4],
      ['org.remove', 16, 'org1,org2,org3,org5', 3],
    ]);
    const latest = await checkpoint(20, [a2, b, e]);
    expect(verifyCheckpointAt(r.chain, latest, OPTS)).toMatchObject({ ok: true, size: 20, signers: ['org1', 'org2', 'org5'] });
    // Earlier checkpoints stay verifiable under the set (and the key) in force when they were made.
    expect(verifyCheckpointAt(r.chain, await checkpoint(8, [a, b, c]), OPTS)).toMatchObject({ ok: true, size: 8 });
    expect(verifyCheckpointAt(r.chain, await checkpoint(12, [a, b, c, e]), OPTS)).toMatchObject({ ok: true, size: 12 });
    // Receipts too, each against the set of its checkpoint's size.
    const rec = async (index: number, size: number, signers: TestOrg[]) =>
      formatReceipt({ index, proof: await log.inclusionProof(index, size), checkpoint: await checkpoint(size, signers) });
    expect(verifyReceiptAt(r.chain, await rec(3, 8, [b, c, d]), leaves[3]!, OPTS)).toMatchObject({ ok: true, index: 3, size: 8 });
    expect(verifyReceiptAt(r.chain, await rec(3, 20, [a2, c, e]), leaves[3]!, OPTS)).toMatchObject({ ok: true, index: 3, size: 20 });
    expect(verifyReceiptAt(r.chain, await rec(3, 20, [a, c, d]), leaves[3]!, OPTS)).toMatchObject({ ok: false, code: 'checkpoint_quorum_not_met' });
  });

  it('verifies consistency between checkpoints of different sets (before and after the changes)', async () => {
    const r = updateTrustChain(genesisChain, steps, OPTS);
    if (!r.ok) throw new Error(r.message);
    const proof = await log.consistencyProof(8, 20);
    const ok = verifyConsistencyAt(r.chain, { old: await checkpoint(8, [a, b, c]), new: await checkpoint(20, [a2, b, e]), proof }, OPTS);
    expect(ok).toMatchObject({ ok: true, old: { size: 8 }, new: { size: 20 } });
    // The same pair under one static set fails on one side or the other.
    expect(verifyConsistencyAt(genesisChain, { old: await checkpoint(8, [a, b, c]), new: await checkpoint(20, [a2, b, e]), proof }, OPTS)).toMatchObject({ ok: false, code: 'checkpoint_quorum_not_met' });
    expect(verifyConsistencyAt(r.chain, { old: await checkpoint(8, [a, b, c]), new: await checkpoint(20, [a2, b, e]), proof: proof.slice(1) }, OPTS)).toMatchObject({ ok: false });
  });

  it('rejects a checkpoint signed by a set that was never approved', async () => {
    const r = updateTrustChain(genesisChain, steps, OPTS);
    if (!r.ok) throw new Error(r.message);
    for (const signers of [[x, y, z], [a, b, c], [a, b, d], [x, y, b]]) {
      expect(verifyCheckpointAt(r.chain, await checkpoint(20, signers), OPTS), signers.map((s) => s.name).join(',')).toMatchObject({ ok: false, code: 'checkpoint_quorum_not_met' });
    }
    // Without the steps, the genesis set alone does not accept the new set's checkpoint.
    expect(verifyCheckpointAt(genesisChain, await checkpoint(20, [a2, b, e]), OPTS)).toMatchObject({ ok: false, code: 'checkpoint_quorum_not_met' });
  });

  it('accepts a new set only through records final under a quorum of the previous set', async () => {
    const fails = async (s: TrustStep[], code: string, chain = genesisChain) => {
      const r = updateTrustChain(chain, s, OPTS);
      expect(r, code).toMatchObject({ ok: false, code, step: s.length - 1 });
      return r;
    };
    // A rogue set approves itself, in a log it signs itself.
    const rogue = new MerkleLog();
    const rogueLeaf = leafOf(add(org('mallory'), [x, y, z], 100));
    await rogue.append([rogueLeaf]);
    const rogueCp = signNote(formatCheckpoint({ origin: ORIGIN, size: 1, root: rogue.root() }), ns([x, y, z]));
    await fails([{ entryLeaf: rogueLeaf, index: 0, proof: [], checkpoint: rogueCp }], 'checkpoint_quorum_not_met');
    // The record is final under the right set but its ballots are not from members / too few.
    await put(leafOf(add(org('mallory'), [x, y, z], 100)), 'rogue');
    await put(leafOf(add(org('mallory'), [a, b], 100)), 'few');
    const size = leaves.length;
    await fails([await step('rogue', size, [a, b, c])], 'gov_sig_not_member');
    await fails([await step('few', size, [a, b, c])], 'gov_quorum_not_met');
    // The step's checkpoint must be signed by the set in force at its size.
    await fails([steps[0]!, await step('rotate', 12, [a, b, c])], 'checkpoint_quorum_not_met');
    await fails([steps[0]!, { ...(await step('rotate', 12, [a, b, c, e])), checkpoint: await checkpoint(8, [a, b, c]) }], 'trust_step_stale_checkpoint');
    // Replay, order, wrong type, a tampered entry, a wrong proof.
    await fails([steps[0]!, steps[0]!], 'trust_step_replay');
    await fails([steps[0]!, { ...(await step('add', 12, [a, b, c, e])), entryLeaf: leaves[5]! }], 'trust_step_replay');
    await fails([steps[0]!, steps[1]!, steps[2]!, await step('add', 20, [a2, b, c])], 'trust_step_replay');
    await put(leafOf(add(org('org6'), [a, b, c], 100, 4)), 'late-add-old-ballots');
    await fails([steps[0]!, steps[1]!, steps[2]!, await step('late-add-old-ballots', leaves.length, [a2, b, c])], 'gov_sig_key_mismatch');
    await fails([await step('params', 20, [a, b, c])], 'trust_step_not_membership');
    // A skipped change: the rotation (set 2) served without the addition (set 1) before it.
    await fails([steps[1]!], 'trust_step_gap');
    await fails([steps[0]!, steps[2]!], 'trust_step_gap');
    const tampered = leaves[5]!.slice();
    tampered[tampered.length - 5] = tampered[tampered.length - 5]! ^ 1;
    await fails([{ ...steps[0]!, entryLeaf: tampered }], 'trust_step_entry_invalid');
    await fails([{ ...steps[0]!, entryLeaf: utf8('entry 0') }], 'trust_step_entry_invalid');
    await fails([{ ...steps[0]!, index: 4 }], 'proof_root_mismatch');
    const grantLeaf = leafOf(grant(a, { name: 'app', hex: clientKey('app').hex }, 100));
    expect(updateTrustChain(genesisChain, [{ ...steps[0]!, entryLeaf: grantLeaf }], OPTS)).toMatchObject({ ok: false, code: 'trust_step_not_membership' });
    // A failure keeps the steps before it.
    const partial = updateTrustChain(genesisChain, [steps[0]!, steps[0]!], OPTS);
    expect(!partial.ok && partial.chain.epochs.length).toBe(2);
  });

  it('rejects a step whose record precedes the previous handover (one change at a time, in order)', async () => {
    const first = updateTrustChain(genesisChain, [steps[0]!, steps[1]!], OPTS);
    if (!first.ok) throw new Error(first.message);
    // The removal record placed before the rotation's handover (size 12) would be out of order.
    const early = { ...(await step('remove', 16, [a2, b, c, d])), index: 11 };
    expect(updateTrustChain(first.chain, [early], OPTS)).toMatchObject({ ok: false, code: 'trust_step_out_of_order' });
  });

  it('keeps the trust file format: version 1 still parses, version 2 round-trips, export writes version 1', async () => {
    const r = updateTrustChain(genesisChain, steps, OPTS);
    if (!r.ok) throw new Error(r.message);
    const text = formatTrustChainFile(r.chain);
    expect(JSON.parse(text)).toMatchObject({ version: 2, origin: ORIGIN, quorum: 3 });
    const again = parseTrustChainFile(text);
    if (!again.ok) throw new Error(again.message);
    expect(formatTrustChainFile(again.chain)).toBe(text);
    expect(verifyCheckpointAt(again.chain, await checkpoint(20, [a2, b, e]), OPTS).ok).toBe(true);
    expect(verifyCheckpointAt(again.chain, await checkpoint(8, [a, b, c]), OPTS).ok).toBe(true);
    expect(formatTrustChainFile(genesisChain)).toBe(genesisTrustFile);
    // `cairn trust export`: the newest set as a version 1 file for tools that take a static key list.
    const exported = parseTrustFile(formatTrustFile(currentTrust(r.chain)));
    expect(exported.ok && exported.trust.keys.map((k) => k.text)).toEqual([a2, b, c, e].map((o) => o.key.text));
    // The old parser refuses a version 2 file explicitly instead of misreading it.
    expect(parseTrustFile(text)).toMatchObject({ ok: false, code: 'trust_unknown_field' });
    const doc = JSON.parse(text);
    const bad = (f: (o: any) => void, code: string) => {
      const o = structuredClone(doc);
      f(o);
      expect(parseTrustChainFile(JSON.stringify(o)), code).toMatchObject({ ok: false, code });
    };
    bad((o) => (o.version = 3), 'trust_bad_version');
    bad((o) => (o.extra = 1), 'trust_unknown_field');
    bad((o) => (o.epochs[1].afterSize = 8), 'trust_bad_epochs');
    bad((o) => (o.epochs[0].record = 'x'), 'trust_bad_epochs');
    bad((o) => (o.epochs[2].quorum = 2), 'trust_quorum_too_low');
    bad((o) => (o.epochs[0].keys = [o.epochs[0].keys[0], o.epochs[0].keys[0]]), 'trust_duplicate_key');
    bad((o) => (o.epochs = {}), 'trust_bad_epochs');
  });
});

// The monitors' one lookup of validator sets (node/peer/validator-sets.ts): `checkpointSetOf` reads
// a checkpoint note's claimed size and signer names before any signature is checked and gives the
// trust of the set that signs that size (the ledger's checkpointTrust), so a checkpoint signed
// after a key rotation verifies with the rotated set and one before it with the old set;
// `ValidatorSets.nameAt` names a validator index in the set of a height.
import { describe, expect, it } from 'vitest';
import { formatCheckpoint, verifyCheckpointQuorum } from '../../src/checkpoint/checkpoint.js';
import { signNote } from '../../src/checkpoint/note.js';
import { nodeSigner, nodeVerifier } from '../../src/crypto/node.js';
import { verifierKey } from '../../src/checkpoint/keys.js';
import { checkpointSetOf, ValidatorSets, type CheckpointTrust } from '../../node/peer/validator-sets.js';
import { makeClients, makeGenesis, makeOrgs, seedOf } from '../peer-support/fixtures.js';

const orgs = await makeOrgs(4, 'cpset');
const genesis = makeGenesis(orgs, makeClients(1, 'cpsetc'));
const origin = genesis.origin;
const rotated = nodeSigner(seedOf('cpset3/rotated'));
/** Sizes up to ROTATED_AFTER are signed by the genesis set, larger ones by the set where org 3 rotated its key. */
const ROTATED_AFTER = 10;
const oldSet: CheckpointTrust = { origin, keys: genesis.validators.map((v) => v.key), quorum: 3 };
const newSet: CheckpointTrust = { origin, keys: genesis.validators.map((v, i) => (i === 3 ? verifierKey(v.name, rotated.publicKey) : v.key)), quorum: 3 };
const ledger = { checkpointTrust: (size: number): CheckpointTrust => (size > ROTATED_AFTER ? newSet : oldSet) };

/** A checkpoint of `size` signed by orgs 1, 2 and 3, org 3 with `key3`. */
function note(size: number, key3: ReturnType<typeof nodeSigner>): string {
  const text = formatCheckpoint({ origin, size, root: new Uint8Array(32).fill(size) });
  return signNote(text, [
    { name: orgs[1]!.name, signer: orgs[1]!.signer },
    { name: orgs[2]!.name, signer: orgs[2]!.signer },
    { name: orgs[3]!.name, signer: key3 },
  ]);
}

describe('checkpointSetOf', () => {
  it('picks the set of the claimed size: the rotated key verifies after the rotation, the old one before', () => {
    for (const [size, key3, set] of [
      [ROTATED_AFTER, orgs[3]!.signer, oldSet],
      [ROTATED_AFTER + 1, rotated, newSet],
    ] as const) {
      const n = note(size, key3);
      const r = checkpointSetOf(n, ledger);
      if (!r.ok) throw new Error(r.message);
      expect(r.size).toBe(size);
      expect(r.signers).toEqual([orgs[1]!.name, orgs[2]!.name, orgs[3]!.name]);
      expect(r.trust).toBe(set);
      expect(verifyCheckpointQuorum(n, r.trust, nodeVerifier).ok).toBe(true);
    }
    // Signed with the old key after the rotation: org 3's line does not count, no quorum.
    const stale = checkpointSetOf(note(ROTATED_AFTER + 1, orgs[3]!.signer), ledger);
    expect(stale.ok && verifyCheckpointQuorum(note(ROTATED_AFTER + 1, orgs[3]!.signer), stale.trust, nodeVerifier).ok).toBe(false);
  });

  it('a note that does not parse, or whose text is no checkpoint, is refused with a code before any lookup', () => {
    let asked = 0;
    const counting = { checkpointTrust: (s: number) => (asked++, ledger.checkpointTrust(s)) };
    expect(checkpointSetOf('not a note', counting)).toMatchObject({ ok: false });
    expect(checkpointSetOf(signNote('hello\n', [{ name: orgs[1]!.name, signer: orgs[1]!.signer }]), counting)).toMatchObject({ ok: false });
    expect(asked).toBe(0);
  });
});

describe('ValidatorSets.nameAt', () => {
  it('names an index in the set of the height, and an index no set has by number', () => {
    const sets = new ValidatorSets(genesis, null, []);
    expect(sets.nameAt(5, 2)).toBe(orgs[2]!.name);
    expect(sets.nameAt(5, 9)).toBe('validator #9');
  });
});

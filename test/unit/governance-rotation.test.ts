// An organization key rotation in force in the peer's ledger: the record is accepted in a block,
// certificates of each height are checked against that height's set, the rotating organization
// (holding both keys) signs checkpoints with its old key before the effective height and with
// its new key from it on, checkpoints are final with the quorum of their size's set, and the
// light verifier follows the rotation from the genesis trust and accepts the new checkpoint.
// Real LevelDB in temp dirs, real Ed25519 keys.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../node/storage/store.js';
import { Ledger } from '../../node/peer/ledger.js';
import { createEntryChecker, fastLeafHash } from '../../node/peer/entries.js';
import { GovTracker } from '../../node/peer/governance.js';
import { p2pKeyFromSeed, parseConfig } from '../../node/peer/config.js';
import { loadNextSigners } from '../../node/peer/signing-keys.js';
import { writeFile } from 'node:fs/promises';
import { formatSignerKey } from '../../src/checkpoint/keys.js';
import { toHex } from '../../src/encoding/bytes.js';
import { nodeSigner, nodeVerifier } from '../../src/crypto/node.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { formatVerifierKey, verifierKey } from '../../src/checkpoint/keys.js';
import { parseNote } from '../../src/checkpoint/note.js';
import { inclusionProof } from '../../src/merkle/index.js';
import { entryLeaf, signEntry } from '../../src/entry/index.js';
import { fromUtf8 } from '../../src/encoding/bytes.js';
import { govEntry, signGovRecord, unsignedGovRecord } from '../../src/governance/index.js';
import { trustChainFromRoot, updateTrustChain, verifyCheckpointAt } from '../../src/verifier/chain.js';
import { makeClients, makeGenesis, makeOrgs, seedOf } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';
import { govLedgerFixture } from '../peer-support/gov-ledger.js';

const orgs = await makeOrgs(4, 'rot');
const clients = makeClients(2, 'rotc');
const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000 } });
const nextSigner = nodeSigner(seedOf('rot1/sign-next'));
const nextPeer = await p2pKeyFromSeed(seedOf('rot1/p2p-next'));
const EFFECTIVE = 3;
const fx = govLedgerFixture(genesis, 'rot');
const { bus, certificate, stores, dirs } = fx;
afterAll(() => fx.cleanup());

/** The rotating organization (1) holds its next key before the rotation is in force. */
const node = (i: number) => fx.node(i, orgs[i]!.signer, i === 1 ? { extraSigners: [nextSigner] } : {});

describe('org.key.rotate in force', () => {
  it('checks each height against its set, signs with the new key from the effective height, and the light verifier follows', async () => {
    const peers = await Promise.all([0, 1, 2, 3].map((i) => node(i)));
    const rotation = signGovRecord(
      unsignedGovRecord('org.key.rotate', { epoch: 1, org: 'rot1', key: formatVerifierKey('rot1', nextSigner.publicKey), peerId: nextPeer.peerId, effectiveHeight: EFFECTIVE, deadline: 100, nonce: 'rot-1' }),
      [
        { name: 'rot1', signer: orgs[1]!.signer },
        { name: 'rot1', signer: nextSigner },
      ],
    );
    const carrier = signEntry(govEntry(rotation, { time: new Date().toISOString(), actor: { id: 'rot', type: 'service' }, id: 'gov-rot-1' }), clients[0]!.signer);
    const oldSet: [number, Ed25519Signer][] = [0, 1, 2].map((v) => [v, orgs[v]!.signer]);
    const newSet: [number, Ed25519Signer][] = [
      [0, orgs[0]!.signer],
      [1, nextSigner],
      [2, orgs[2]!.signer],
    ];

    const decide = async (height: number, entries: unknown[], signers: [number, Ed25519Signer][], signing: number[]) => {
      const res = await peers[0]!.mempool.submit(entries);
      expect(res.every((r) => 'status' in r && r.status === 'accepted'), JSON.stringify(res)).toBe(true);
      const block = peers[0]!.ledger.buildBlock(height, height % 4);
      const cert = certificate(height, block, signers);
      for (const p of peers) {
        expect(p.ledger.verifyCertificate(height, block, cert)).toMatchObject({ ok: true });
        await p.ledger.apply(block, cert, { sign: false, mode: 'consensus' });
      }
      bus.length = 0;
      for (const i of signing) await peers[i]!.ledger.signHead();
      for (const m of bus.splice(0)) for (const [i, p] of peers.entries()) if (i !== m.from) expect(await p.ledger.onCheckpointSigMessage(m.bytes)).not.toBe('reject'); // 'ignore' once final
      return block;
    };

    // Height 1 carries the rotation (accepted: the type is in force); heights 1 and 2 are the old set's.
    await decide(1, [carrier, ...makeEntries(clients, 2, 'rot-a')], oldSet, [0, 1, 2, 3]);
    expect(peers[2]!.gov.summary().pending).toEqual({ type: 'org.key.rotate', effectiveHeight: EFFECTIVE });
    // The handover checkpoint (after block 2) signed by rot0, rot1 (old key) and rot2 only: under
    // the new set it would have two valid signatures, so it tells the sets apart.
    await decide(2, makeEntries(clients, 2, 'rot-b'), oldSet, [0, 1, 2]);
    const handover = peers[0]!.ledger.getHead().treeSize;
    const noteBefore = (await peers[3]!.store.latestFinalCheckpoint())!;
    // Before the effective height the rotating organization signed with its old key.
    const parsedBefore = parseNote(fromUtf8(noteBefore));
    if (!parsedBefore.ok) throw new Error('final note does not parse');
    expect(parsedBefore.note.signatures.find((s) => s.name === 'rot1')?.keyId).toEqual(verifierKey('rot1', orgs[1]!.publicKey).keyId);

    // Height 3: a certificate with the old key of rot1 is checked against the set of height 3 and fails.
    await peers[0]!.mempool.submit(makeEntries(clients, 2, 'rot-c'));
    const block3 = peers[0]!.ledger.buildBlock(3, 3);
    expect(peers[2]!.ledger.verifyCertificate(3, block3, certificate(3, block3, oldSet))).toMatchObject({ ok: false, code: 'sync_bad_certificate' });
    expect(peers[2]!.ledger.verifyCertificate(3, block3, certificate(3, block3, newSet))).toMatchObject({ ok: true });
    for (const p of peers) await p.ledger.apply(block3, certificate(3, block3, newSet), { sign: false, mode: 'consensus' });
    // Only rot0, rot1 and rot2 sign the checkpoint after block 3: final with rot1's NEW key.
    bus.length = 0;
    for (const i of [0, 1, 2]) await peers[i]!.ledger.signHead();
    for (const m of bus.splice(0)) for (const [i, p] of peers.entries()) if (i !== m.from) expect(await p.ledger.onCheckpointSigMessage(m.bytes)).not.toBe('reject'); // 'ignore' once final
    const size3 = peers[0]!.ledger.getHead().treeSize;
    expect(peers[3]!.ledger.finalSize()).toBe(size3);
    const noteAfter = (await peers[3]!.store.latestFinalCheckpoint())!;
    const parsedAfter = parseNote(fromUtf8(noteAfter));
    if (!parsedAfter.ok) throw new Error('final note does not parse');
    expect(parsedAfter.note.signatures.find((s) => s.name === 'rot1')?.keyId).toEqual(verifierKey('rot1', nextSigner.publicKey).keyId);

    // The light verifier: the genesis trust alone does not accept it (two of its keys signed) ...
    const root = trustChainFromRoot({ origin: genesis.origin, keys: genesis.validators.map((v) => v.key), quorum: genesis.quorum });
    expect(verifyCheckpointAt(root, noteAfter, { verifier: nodeVerifier })).toMatchObject({ ok: false });
    // ... and following the rotation (its entry, included in the handover checkpoint of height 2) it does.
    const leaf = entryLeaf(carrier);
    const index = (await peers[0]!.store.indexOfLeafHash(fastLeafHash(leaf)))!;
    const proof = await inclusionProof(peers[0]!.store, index, handover);
    const followed = updateTrustChain(root, [{ entryLeaf: leaf, index, proof, checkpoint: noteBefore }], { verifier: nodeVerifier });
    if (!followed.ok) throw new Error(`${followed.code}: ${followed.message}`);
    expect(verifyCheckpointAt(followed.chain, noteAfter, { verifier: nodeVerifier })).toMatchObject({ ok: true });
    // Checkpoints before the rotation stay verifiable under the old key.
    expect(verifyCheckpointAt(followed.chain, noteBefore, { verifier: nodeVerifier })).toMatchObject({ ok: true });
    // The peer agrees on which set signs which size, also after a restart (read back from blocks).
    expect(peers[3]!.ledger.checkpointTrust(handover).keys.map((k) => k.text)).toEqual(genesis.validators.map((v) => v.key.text));
    // Its own directory: the nodes are made concurrently, so `dirs` is not in node order.
    const dir = peers[3]!.dir;
    await peers[3]!.store.close();
    stores.splice(stores.indexOf(peers[3]!.store), 1);
    const store = await openStore(join(dir, 'store'), { genesisHash: genesis.hash });
    stores.push(store);
    const gov = await GovTracker.open(genesis, store, store.head()!.height);
    const reopened = await Ledger.open({ genesis, store, checker: createEntryChecker(genesis, undefined, gov), selfIndex: 3, signer: orgs[3]!.signer, gov });
    expect(reopened.checkpointTrust(handover).keys.map((k) => k.text)).toEqual(genesis.validators.map((v) => v.key.text));
    expect(reopened.checkpointTrust(handover + 1).keys[1]!.text).toBe(formatVerifierKey('rot1', nextSigner.publicKey));
    expect(await reopened.adoptFinalCheckpoint(noteBefore)).toMatchObject({ ok: true });
    expect(await reopened.adoptFinalCheckpoint(noteAfter)).toMatchObject({ ok: true });
  });

  it('the peer config lists the next signing keys (keys.next), resolved and loaded', async () => {
    const base = { dataDir: 'data', genesis: 'genesis.json', signingKey: 'org1.key', p2pKey: 'org1.p2p' };
    const dir = await mkdtemp(join(tmpdir(), 'cairn-rot-cfg-'));
    dirs.push(dir);
    const ok = parseConfig({ ...base, keys: { next: ['org1-next.key'] } }, dir);
    if (!ok.ok) throw new Error(ok.message);
    expect(ok.config.keys).toEqual({ next: [join(dir, 'org1-next.key')] });
    expect(parseConfig(base, dir)).toMatchObject({ ok: true, config: { signingKey: join(dir, 'org1.key') } });
    expect((parseConfig(base, dir) as { config: object }).config).not.toHaveProperty('keys');
    expect(parseConfig({ ...base, keys: { later: [] } }, dir)).toMatchObject({ ok: false, code: 'config_unknown_field' });
    expect(parseConfig({ ...base, keys: { next: ['a', 'b', 'c', 'd', 'e'] } }, dir)).toMatchObject({ ok: false, code: 'config_bad_keys' });
    expect(parseConfig({ ...base, keys: { next: [''] } }, dir)).toMatchObject({ ok: false, code: 'config_bad_path' });
    await writeFile(join(dir, 'org1-next.key'), formatSignerKey('rot1', seedOf('rot1/sign-next')) + '\n');
    const [loaded] = await loadNextSigners(ok.config.keys!.next);
    expect(toHex(loaded!.publicKey)).toBe(toHex(nextSigner.publicKey));
  });
});

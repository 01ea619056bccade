// org.add and org.remove in force in the peer's ledger: certificates of each height are checked
// against that height's set (an added organization's precommit counts from its first height,
// the quorum becomes 4 of 5; a removed one's no longer counts and indexes shift), and the
// checkpoints of each size are final with the quorum of their set (the added organization signs,
// the removed one's signature is refused). Real LevelDB in temp dirs, real Ed25519 keys.
import { afterAll, describe, expect, it } from 'vitest';
import { proposer } from '../../src/consensus/index.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import { parseNote, signText } from '../../src/checkpoint/note.js';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { encodeCheckpointSig } from '../../node/peer/checkpoint-sig.js';
import { fromUtf8 } from '../../src/encoding/bytes.js';
import { signEntry as signAuditEntry } from '../../src/entry/index.js';
import { govEntry, signGovRecord, unsignedGovRecord, type GovRecord } from '../../src/governance/index.js';
import { makeClients, makeGenesis, makeOrgs, type OrgFixture } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';
import { govLedgerFixture } from '../peer-support/gov-ledger.js';

const orgs = await makeOrgs(4, 'mem');
const [fifth] = (await makeOrgs(5, 'mem')).slice(4) as [OrgFixture];
const clients = makeClients(2, 'memc');
const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000 } });
const fx = govLedgerFixture(genesis, 'mem');
const { bus, certificate } = fx;
afterAll(() => fx.cleanup());

/** A ledger holding `signer` (an added organization's peer is no genesis validator). */
const node = (i: number, signer: Ed25519Signer) => fx.node(i, signer);

const ballots = (idx: number[]) => idx.map((i) => ({ name: orgs[i]!.name, signer: orgs[i]!.signer }));
let seq = 0;
const carry = (r: GovRecord) => signAuditEntry(govEntry(r, { time: new Date().toISOString(), actor: { id: 'mem', type: 'service' }, id: `gov-mem-${seq++}` }), clients[0]!.signer);

describe('org.add and org.remove in force', () => {
  it('an added organization counts from its first height (quorum 4 of 5), a removed one no longer does', async () => {
    const peers = await Promise.all([0, 1, 2, 3].map((i) => node(i, orgs[i]!.signer)));
    peers.push(await node(4, fifth.signer));
    const add = signGovRecord(unsignedGovRecord('org.add', { epoch: 1, org: { name: fifth.name, key: fifth.verifierKey, peerId: fifth.peerId }, deadline: 100, nonce: 'add-5' }), [
      ...ballots([0, 1, 2]),
      { name: fifth.name, signer: fifth.signer },
    ]);
    const remove = signGovRecord(unsignedGovRecord('org.remove', { epoch: 2, org: orgs[0]!.name, deadline: 100, nonce: 'rm-0' }), ballots([0, 1, 2, 3]));

    /** Decides block `height` with `cert` signers; then `signing` peers sign; returns the final note's signer names. */
    const decide = async (height: number, entries: unknown[], signers: [number, Ed25519Signer][], signing: number[], expectVerdicts?: Record<number, string>) => {
      const res = await peers[1]!.mempool.submit(entries);
      expect(res.every((r) => 'status' in r && r.status === 'accepted'), JSON.stringify(res)).toBe(true);
      const block = peers[1]!.ledger.buildBlock(height, prop(height));
      const cert = certificate(height, block, signers);
      for (const p of peers) {
        expect(p.ledger.verifyCertificate(height, block, cert)).toMatchObject({ ok: true });
        await p.ledger.apply(block, cert, { sign: false, mode: 'consensus' });
      }
      bus.length = 0;
      for (const i of signing) await peers[i]!.ledger.signHead();
      for (const m of bus.splice(0)) {
        for (const [i, p] of peers.entries()) {
          if (i === m.from) continue;
          const v = await p.ledger.onCheckpointSigMessage(m.bytes);
          expect(v).toBe(expectVerdicts?.[m.from] ?? (v === 'ignore' ? 'ignore' : 'accept'));
        }
      }
      return block;
    };
    const finalSigners = async (i: number) => {
      const n = parseNote(fromUtf8((await peers[i]!.store.latestFinalCheckpoint())!));
      if (!n.ok) throw new Error('final note does not parse');
      return n.note.signatures.map((s) => s.name);
    };
    /** proposer(h, 0) of the set of h (the block names it; catch-up checks the attribution). */
    const prop = (h: number) => proposer(h, 0, peers[1]!.ledger.validatorSets.view(h).validators.length);
    const genesisSet: [number, Ed25519Signer][] = [0, 1, 2].map((v) => [v, orgs[v]!.signer]);
    // GovTracker.onChange (for the networking side): after the block deciding a change and after
    // the block before its first height.
    const changes: [number, number][] = [];
    const unsubscribe = peers[2]!.gov.onChange((h) => changes.push([h, peers[2]!.gov.membershipEpoch()]));

    await decide(1, [carry(add), ...makeEntries(clients, 1, 'mem-a')], genesisSet, [0, 1, 2, 3]);
    expect(peers[0]!.gov.summary().pending).toEqual({ type: 'org.add', effectiveHeight: 3 });
    await decide(2, makeEntries(clients, 1, 'mem-b'), genesisSet, [0, 1, 2, 3]);
    // The added organization's peer signs nothing before its first height.
    expect(peers[4]!.ledger.validatorSets.at(2).selfIndex).toBeNull();
    expect(peers[4]!.ledger.validatorSets.at(3).selfIndex).toBe(4);

    // Height 3: 3 precommits are no longer a quorum; the fifth organization's precommit counts.
    await peers[1]!.mempool.submit([carry(remove), ...makeEntries(clients, 1, 'mem-c')]);
    const block3 = peers[1]!.ledger.buildBlock(3, prop(3));
    expect(peers[2]!.ledger.verifyCertificate(3, block3, certificate(3, block3, genesisSet))).toMatchObject({ ok: false, code: 'sync_bad_certificate' });
    const fiveSet: [number, Ed25519Signer][] = [...genesisSet, [4, fifth.signer]];
    expect(peers[2]!.ledger.verifyCertificate(3, block3, certificate(3, block3, fiveSet))).toMatchObject({ ok: true });
    const before3 = peers[2]!.ledger.finalSize();
    for (const p of peers) await p.ledger.apply(block3, certificate(3, block3, fiveSet), { sign: false, mode: 'consensus' });
    // Three signatures do not make the checkpoint after block 3 final; the fifth's makes it.
    bus.length = 0;
    for (const i of [1, 2, 3]) await peers[i]!.ledger.signHead();
    for (const m of bus.splice(0)) for (const [i, p] of peers.entries()) if (i !== m.from) await p.ledger.onCheckpointSigMessage(m.bytes);
    expect(peers[2]!.ledger.finalSize()).toBe(before3);
    await peers[4]!.ledger.signHead();
    for (const m of bus.splice(0)) for (const [i, p] of peers.entries()) if (i !== m.from) expect(await p.ledger.onCheckpointSigMessage(m.bytes)).toBe('accept');
    expect(peers[2]!.ledger.finalSize()).toBe(peers[2]!.ledger.getHead().treeSize);
    expect(await finalSigners(0)).toEqual([orgs[1]!.name, orgs[2]!.name, orgs[3]!.name, fifth.name]);
    expect(peers[0]!.gov.summary().pending).toEqual({ type: 'org.remove', effectiveHeight: 5 });

    await decide(4, makeEntries(clients, 1, 'mem-d'), fiveSet, [0, 1, 2, 3, 4]);
    // Height 5: org0 is gone, indexes shift (mem1 -> 0, ..., the fifth -> 3), quorum 3 of 4.
    const afterRemove: [number, Ed25519Signer][] = [
      [0, orgs[1]!.signer],
      [1, orgs[2]!.signer],
      [3, fifth.signer],
    ];
    // (org0's clients left with it: clients[1] is vouched by mem1)
    expect((await peers[1]!.mempool.submit(makeEntries(clients, 1, 'mem-e')))[0]).toMatchObject({ error: { code: 'client_revoked' } });
    await peers[1]!.mempool.submit(makeEntries([clients[1]!], 1, 'mem-e'));
    const block5 = peers[1]!.ledger.buildBlock(5, prop(5));
    expect(peers[2]!.ledger.verifyCertificate(5, block5, certificate(5, block5, fiveSet.slice(0, 4)))).toMatchObject({ ok: false, code: 'sync_bad_certificate' });
    for (const p of peers) await p.ledger.apply(block5, certificate(5, block5, afterRemove), { sign: false, mode: 'consensus' });
    expect(peers[0]!.ledger.validatorSets.at(5).selfIndex).toBeNull();
    bus.length = 0;
    // The removed organization signs nothing any more; a signature it makes up is refused.
    await peers[0]!.ledger.signHead();
    expect(bus).toHaveLength(0);
    const head5 = peers[2]!.ledger.getHead();
    const forged = signText(formatCheckpoint({ origin: genesis.origin, size: head5.treeSize, root: head5.root }), { name: orgs[0]!.name, signer: orgs[0]!.signer });
    expect(await peers[2]!.ledger.onCheckpointSigMessage(encodeCheckpointSig(head5.treeSize, forged, Date.now()))).toBe('reject');
    for (const i of [1, 2, 4]) await peers[i]!.ledger.signHead();
    for (const m of bus.splice(0)) for (const [i, p] of peers.entries()) if (i !== m.from) expect(await p.ledger.onCheckpointSigMessage(m.bytes)).not.toBe('reject');
    expect(peers[3]!.ledger.finalSize()).toBe(peers[3]!.ledger.getHead().treeSize);
    expect(await finalSigners(3)).toEqual([orgs[1]!.name, orgs[2]!.name, fifth.name]);
    // Decided at 1 (epoch 0 still in force next), in force from 3, decided at 3, in force from 5.
    expect(changes).toEqual([
      [1, 0],
      [2, 1],
      [3, 1],
      [4, 2],
    ]);
    expect(peers[2]!.gov.validatorsAt(5).map((o) => o.name)).toEqual([orgs[1]!.name, orgs[2]!.name, orgs[3]!.name, fifth.name]);
    expect(peers[2]!.gov.validatorsAt(2).map((o) => o.name)).toEqual(orgs.map((o) => o.name));
    unsubscribe();
    // Beyond our head the size's set is not final: a signer of no known set is ignored (not
    // refused, not kept); one of a known set is kept until we get there.
    const ahead = peers[2]!.ledger.getHead().treeSize + 3;
    const text = formatCheckpoint({ origin: genesis.origin, size: ahead, root: new Uint8Array(32) });
    const stranger = (await makeOrgs(1, 'stranger'))[0]!;
    const pending = peers[2]!.ledger.pendingSignatures();
    expect(peers[2]!.ledger.checkCheckpointSigShape(encodeCheckpointSig(ahead, signText(text, { name: stranger.name, signer: stranger.signer }), Date.now()), 'p1')).toBe('ignore');
    expect(peers[2]!.ledger.pendingSignatures()).toBe(pending);
    expect(peers[2]!.ledger.checkCheckpointSigShape(encodeCheckpointSig(ahead, signText(text, { name: fifth.name, signer: fifth.signer }), Date.now()), 'p1')).toBe('ignore');
    expect(peers[2]!.ledger.pendingSignatures()).toBe(pending + 1);
  });
});

// Governance wired into admission and blocks, on a real 4-peer cluster (libp2p on 127.0.0.1,
// LevelDB in temp dirs): a client granted live submits from the next block; revoked, its new
// entries are refused with `client_revoked` while its old ones stay final; a peer that was down
// catches up through the records (decided blocks), a restarted peer replays them from its store;
// bad records are refused by every peer with the same code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEntry } from '../../src/entry/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { fromHex, toHex } from '../../src/encoding/bytes.js';
import { govEntry, signGov, signGovRecord, unsignedGovRecord, withSigs, type GovRecord, type GovSigner } from '../../src/governance/index.js';
import { makeClients, type ClientFixture } from '../peer-support/fixtures.js';
import { clusterProgress, makeCluster, makeEntries, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';

let c: Cluster;
const errorCode = (r: unknown): string | undefined => (r as { error?: { code: string } }).error?.code;
const statusOf = (r: unknown): string | undefined => (r as { status?: string }).status;

beforeAll(async () => {
  c = await makeCluster(4, { clients: 4, label: 'gov' });
  for (let i = 0; i < 4; i++) await c.start(i);
  await waitConnected(c, [0, 1, 2, 3], 3);
}, 120_000);

afterAll(async () => {
  await c?.close();
}, 60_000);

const org = (i: number): GovSigner => ({ name: c.orgs[i]!.name, signer: c.orgs[i]!.signer });
const carry = (record: GovRecord, tag: string): AuditEntry =>
  signEntry(govEntry(record, { time: new Date().toISOString(), actor: { id: 'gov-test', type: 'service' }, id: `gov-${tag}-${Date.now()}` }), c.clients[0]!.signer);
/** The entry with `patch` applied, signed again by `signer`. */
function resign(e: AuditEntry, signer: ClientFixture['signer'], patch: Partial<AuditEntry> = {}): AuditEntry {
  const { sig: _sig, ...unsigned } = { ...e, ...patch };
  return signEntry(unsigned as never, signer);
}
const heads = () => c.peers.filter((p) => p !== null).map((p) => p!.status().height);
const govOf = (i: number) => c.peers[i]!.status().governance!;

async function waitRecords(idx: number[], n: number, what: string): Promise<void> {
  await waitFor(c, what, () => idx.every((i) => (c.peers[i]?.status().governance?.records ?? -1) >= n), () => clusterProgress(c), { stallMs: 30_000, maxMs: 90_000 });
}

async function waitFinal(idx: number[], leafHash: string): Promise<void> {
  await waitFor(
    c,
    `entry ${leafHash.slice(0, 12)} final`,
    async () => (await Promise.all(idx.map((i) => c.peers[i]!.getEntry(leafHash)))).every((s) => s.status === 'final'),
    () => clusterProgress(c),
    { stallMs: 30_000, maxMs: 90_000 },
  );
}

describe('governance on a 4-peer cluster', () => {
  let fresh: ClientFixture;
  let oldLeaf = '';

  it('grants a client live: refused before, accepted from the next block, on a peer that caught up too', async () => {
    fresh = makeClients(1, 'gov-fresh')[0]!;
    const before = makeEntries([fresh], 1, 'pre')[0]!;
    expect(errorCode((await c.peers[0]!.submit([before]))[0])).toBe('unknown_client');
    // One peer is down while the records are decided: it must catch up through them.
    await c.stop(3);
    const h = Math.max(...heads());
    const grant = signGovRecord(
      unsignedGovRecord('client.grant', { client: { name: 'gov-fresh0', publicKey: fresh.publicKeyHex, vouchedBy: c.orgs[1]!.name }, deadline: h + 1000, nonce: 'grant-1' }),
      [org(1)],
    );
    const r = await c.peers[0]!.submit([carry(grant, 'grant')]);
    expect(statusOf(r[0]), JSON.stringify(r)).toBe('accepted');
    await waitRecords([0, 1, 2], 1, 'grant applied');
    const e = makeEntries([fresh], 1, 'granted')[0]!;
    const s = await c.peers[1]!.submit([e]);
    expect(statusOf(s[0]), JSON.stringify(s)).toBe('accepted');
    oldLeaf = (s[0] as { leafHash: string }).leafHash;
    await waitFinal([0, 1, 2], oldLeaf);
  }, 180_000);

  it('revokes it: new entries refused with client_revoked by every peer, the old entry stays final', async () => {
    const h = Math.max(...heads());
    const revoke = signGovRecord(unsignedGovRecord('client.revoke', { publicKey: fresh.publicKeyHex, reason: 'test', deadline: h + 1000, nonce: 'revoke-1' }), [org(1)]);
    const r = await c.peers[2]!.submit([carry(revoke, 'revoke')]);
    expect(statusOf(r[0]), JSON.stringify(r)).toBe('accepted');
    await waitRecords([0, 1, 2], 2, 'revoke applied');
    const after = makeEntries([fresh], 1, 'revoked')[0]!;
    for (const i of [0, 1, 2]) expect(errorCode((await c.peers[i]!.submit([after]))[0]), `peer ${i}`).toBe('client_revoked');
    for (const i of [0, 1, 2]) expect((await c.peers[i]!.getEntry(oldLeaf)).status).toBe('final');
    const hashes = new Set([0, 1, 2].map((i) => govOf(i).govStateHash));
    expect(hashes.size).toBe(1);
    expect(govOf(0).epoch).toBe(0);
  }, 120_000);

  it('a peer that was down catches up through the records; a restarted peer replays them from its store', async () => {
    await c.start(3);
    await waitFor(c, 'peer 3 caught up', () => (c.peers[3]!.status().governance?.records ?? 0) >= 2 && c.peers[3]!.status().height >= c.peers[0]!.status().height, () => clusterProgress(c), {
      stallMs: 30_000,
      maxMs: 90_000,
    });
    expect(govOf(3).govStateHash).toBe(govOf(0).govStateHash);
    expect((await c.peers[3]!.getEntry(oldLeaf)).status).not.toBe('unknown');
    await c.stop(2);
    await c.start(2);
    expect(govOf(2)).toEqual(govOf(0));
    const after = makeEntries([fresh], 1, 'revoked2')[0]!;
    for (const i of [2, 3]) expect(errorCode((await c.peers[i]!.submit([after]))[0]), `peer ${i}`).toBe('client_revoked');
    // Ordinary entries from genesis clients still flow.
    const ok = await c.peers[3]!.submit(makeEntries(c.clients, 4, 'after-gov'));
    expect(ok.map(statusOf)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
    await waitConnected(c, [0, 1, 2, 3], 3);
    await waitFinal([0, 1, 2, 3], (ok[0] as { leafHash: string }).leafHash);
  }, 180_000);

  it('bad records are refused by every peer with the same code', async () => {
    const h = Math.max(...heads());
    const params = unsignedGovRecord('params.set', { params: { maxBlockEntries: 500 }, deadline: h + 1000, nonce: 'params-1' });
    const other = unsignedGovRecord('params.set', { params: { maxBlockEntries: 400 }, deadline: h + 1000, nonce: 'params-2' });
    const forgedGrant = signGovRecord(
      unsignedGovRecord('client.grant', { client: { name: 'forged', publicKey: makeClients(1, 'gov-forged')[0]!.publicKeyHex, vouchedBy: c.orgs[0]!.name }, deadline: h + 1000, nonce: 'forged' }),
      [org(0)],
    );
    const sig = fromHex(forgedGrant.sigs[0]!.sig)!;
    sig[5] = sig[5]! ^ 1;
    const forged = { ...forgedGrant, sigs: [{ ...forgedGrant.sigs[0]!, sig: toHex(sig) }] } as GovRecord;
    const cases: [string, GovRecord][] = [
      ['gov_quorum_not_met', signGovRecord(params, [org(0), org(1)])],
      ['gov_sig_invalid', forged],
      ['gov_deadline_passed', signGovRecord(unsignedGovRecord('params.set', { params: { maxBlockEntries: 450 }, deadline: 1, nonce: 'late' }), [org(0), org(1), org(2)])],
      // A ballot cast for another proposal, copied onto this one.
      ['gov_ballot_wrong_proposal', withSigs(params, [signGov(params, org(0)), signGov(params, org(1)), signGov(other, org(2))])],
      ['gov_ballot_duplicate', withSigs(params, [signGov(params, org(0)), signGov(params, org(1)), signGov(params, org(1))])],
      // Signed by a quorum, but the parameters it makes are inconsistent (mempool below a block).
      ['gov_params_invalid', signGovRecord(unsignedGovRecord('params.set', { params: { mempoolMaxEntries: 1 }, deadline: h + 1000, nonce: 'bad-params' }), [org(0), org(1), org(2)])],
    ];
    for (const [code, record] of cases) {
      const entry = carry(record, code);
      const got = await Promise.all([0, 1, 2, 3].map(async (i) => errorCode((await c.peers[i]!.submit([entry]))[0])));
      expect(got, code).toEqual([code, code, code, code]);
    }
    // An entry under cairn.gov. that carries no record is refused too (parse code).
    const bogus = resign(makeEntries([c.clients[0]!], 1, 'bogus')[0]!, c.clients[0]!.signer, { action: 'cairn.gov.client.grant' });
    const got = await Promise.all([0, 1, 2, 3].map(async (i) => errorCode((await c.peers[i]!.submit([bogus]))[0])));
    expect(new Set(got).size).toBe(1);
    expect(got[0]).toMatch(/^gov_/);
    // Nothing was applied.
    expect(govOf(0).records).toBe(2);
  }, 120_000);
});

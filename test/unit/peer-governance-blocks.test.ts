// Governance in blocks (node/peer/governance.ts wired into the ledger): the proposer leaves out a
// record the block would refuse after an earlier one, block validity refuses a block carrying
// such a record, a certified block applies its records, and the state is replayed from the
// store at restart (records of a block that was never applied are forgotten).
// Real LevelDB in temp dirs, real Ed25519 keys.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../node/storage/store.js';
import { Ledger } from '../../node/peer/ledger.js';
import { Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { GovTracker, authorizedByCore } from '../../node/peer/governance.js';
import { parseGovRecord } from '../../src/governance/index.js';
import { blockHash, encodeBlock, entriesHashOf } from '../../node/peer/block.js';
import { fastLeafHash } from '../../node/peer/entries.js';
import { appendLeafHashes, decodeState, rootOf } from '../../src/merkle/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { encodeCertificate, voteSignBytes, type CommitCertificate } from '../../src/consensus/index.js';
import { entryLeaf, signEntry } from '../../src/entry/index.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { govEntry, signGovRecord, unsignedGovRecord, type GovRecord } from '../../src/governance/index.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';

const orgs = await makeOrgs(4, 'gb');
const clients = makeClients(2, 'gbc');
const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000 } });
const dirs: string[] = [];
const stores: Store[] = [];

async function node(i: number, withGov = true, dir?: string) {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'cairn-gb-')));
  if (dir === undefined) dirs.push(d);
  const store = await openStore(join(d, 'store'), { genesisHash: genesis.hash });
  stores.push(store);
  const gov = withGov ? await GovTracker.open(genesis, store, store.head()?.height ?? 0) : null;
  const checker = createEntryChecker(genesis, undefined, gov);
  const ledger = await Ledger.open({ genesis, store, checker, selfIndex: i, signer: orgs[i]!.signer, gov });
  const mempool = new Mempool(genesis.limits, checker, { indexOfLeafHash: (h) => store.indexOfLeafHash(h), lookupClientId: (c, x) => store.lookupClientId(c, x), finalSize: () => ledger.finalSize() }, null);
  ledger.attachMempool(mempool);
  return { ledger, mempool, store, gov, dir: d };
}

function certificate(height: number, block: Uint8Array): Uint8Array {
  const valueId = blockHash(block);
  const cert: CommitCertificate = {
    height,
    round: 0,
    valueId,
    signatures: [0, 1, 2].map((v) => ({ validator: v, signature: orgs[v]!.signer.sign(voteSignBytes(genesis.origin, 'precommit', height, 0, valueId)) })),
  };
  return encodeCertificate(cert);
}

const signers = [0, 1, 2].map((i) => ({ name: orgs[i]!.name, signer: orgs[i]!.signer }));
const params = (n: number, nonce: string): GovRecord => signGovRecord(unsignedGovRecord('params.set', { params: { maxBlockEntries: n }, deadline: 100, nonce }), signers);
const newClient = makeClients(1, 'gb-new')[0]!;
/** A grant of the same new client key (each valid on its own; after one, another is refused: gov_client_active). */
const grant = (nonce: string): GovRecord =>
  signGovRecord(unsignedGovRecord('client.grant', { client: { name: `gb-new-${nonce}`, publicKey: newClient.publicKeyHex, vouchedBy: orgs[0]!.name }, deadline: 100, nonce }), [signers[0]!]);
const carry = (r: GovRecord, tag: string) => signEntry(govEntry(r, { time: new Date().toISOString(), actor: { id: 'gb', type: 'service' }, id: `gov-${tag}` }), clients[0]!.signer);

afterAll(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('governance records in blocks', () => {
  it('the proposer leaves out a record refused after an earlier one; validity refuses a block carrying both', async () => {
    // Two grants of one key, each valid on its own: after the first, the second is refused.
    const a = carry(grant('g-a'), 'a');
    const b = carry(grant('g-b'), 'b');
    const proposer = await node(0);
    const res = await proposer.mempool.submit([a, ...makeEntries(clients, 2, 'gb1'), b]);
    expect(res.map((r) => ('status' in r ? r.status : r.error.code))).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
    const block = proposer.ledger.buildBlock(1, 1);
    const other = await node(2);
    expect(await other.ledger.prevalidate(block)).toEqual({ ok: true });
    // Three entries: `b` was left out, and dropped from the mempool (it can never enter a block now).
    const info = await other.ledger.apply(block, certificate(1, block), { sign: false, mode: 'consensus' });
    expect(info.count).toBe(3);
    expect(proposer.mempool.size).toBe(3);
    await proposer.ledger.apply(block, certificate(1, block), { sign: false, mode: 'consensus' });
    expect(proposer.mempool.size).toBe(0);
    expect(other.gov!.summary()).toMatchObject({ records: 1, pending: null, epoch: 0 });
    expect(proposer.gov!.summary()).toEqual(other.gov!.summary());
    // After the block, `b` is refused on admission with its code.
    const again = await other.mempool.submit([b]);
    expect(again[0]).toMatchObject({ error: { code: 'gov_client_active' } });
    // The granted key submits from the next block on.
    expect((await other.mempool.submit(makeEntries([newClient], 1, 'gb-new')))[0]).toMatchObject({ status: 'accepted' });

    // A proposer without the governance wiring puts both records in one block: refused.
    const old = await node(1, false);
    await old.mempool.submit([carry(grant('g-c'), 'c'), carry(grant('g-d'), 'd')]);
    const both = old.ledger.buildBlock(1, 1);
    const judge = await node(3);
    const v = await judge.ledger.prevalidate(both);
    expect(v).toMatchObject({ ok: false, code: 'block_gov_rejected' });
    expect((v as { message: string }).message).toContain('gov_client_active');
    // A decided block carrying it cannot be applied either (the state would diverge).
    await expect(judge.ledger.apply(both, certificate(1, both), { sign: false, mode: 'sync' })).rejects.toThrow(/gov_client_active/);
  });

  it('a record type not in force (GOV_TYPES_IN_FORCE) is refused (gov_type_unsupported), after its own checks', async () => {
    // This version applies every type: take params.set out to see the rule a peer version
    // without a type follows.
    const inForce = (await import('../../node/peer/governance.js')).GOV_TYPES_IN_FORCE as Set<string>;
    inForce.delete('params.set');
    try {
      const n = await node(0);
      const r = await n.mempool.submit([carry(params(450, 'u-a'), 'ua'), carry(signGovRecord(unsignedGovRecord('params.set', { params: { maxBlockEntries: 450 }, deadline: 100, nonce: 'u-b' }), signers.slice(0, 2)), 'ub')]);
      expect(r.map((x) => ('error' in x ? x.error.code : x.status))).toEqual(['gov_type_unsupported', 'gov_quorum_not_met']);
      // In a block (built by a peer without the wiring) it makes the block invalid.
      const old = await node(1, false);
      await old.mempool.submit([carry(params(450, 'u-c'), 'uc')]);
      const block = old.ledger.buildBlock(1, 1);
      expect(await n.ledger.prevalidate(block)).toMatchObject({ ok: false, code: 'block_gov_rejected' });
    } finally {
      inForce.add('params.set');
    }
  });

  it('restart replays the records from the store; records listed for a block never applied are forgotten', async () => {
    const n = await node(0);
    await n.mempool.submit([carry(grant('r-a'), 'ra'), ...makeEntries(clients, 1, 'gb2')]);
    const block = n.ledger.buildBlock(1, 0);
    await n.ledger.apply(block, certificate(1, block), { sign: false, mode: 'consensus' });
    const before = n.gov!.summary();
    expect(before.records).toBe(1);
    // A crash after the record list of block 2 was written, before the block itself.
    await n.store.putMeta('gov/r/1', utf8('2,5'));
    await n.store.putMeta('gov/n', utf8('2'));
    await n.store.close();
    stores.splice(stores.indexOf(n.store), 1);
    const r = await node(0, true, n.dir);
    expect(r.gov!.summary()).toEqual(before);
    expect(new TextDecoder().decode(await r.store.getMeta('gov/n'))).toBe('1');
  });

  it('client authorization (cached per height) agrees with the pure clientAuthorizedAt, at every height around grants, expiry and revocation', () => {
    const t = GovTracker.genesisOnly(genesis);
    const keys = [clients[0]!.publicKeyHex, newClient.publicKeyHex, makeClients(1, 'gb-other')[0]!.publicKeyHex];
    const rec = (r: GovRecord) => {
      const p = parseGovRecord(JSON.parse(JSON.stringify(r)));
      if (!p.ok) throw new Error(p.message);
      return p.parsed;
    };
    const steps: [number, GovRecord][] = [
      [3, signGovRecord(unsignedGovRecord('client.grant', { client: { name: 'x1', publicKey: keys[1]!, vouchedBy: orgs[0]!.name, expiresAt: 9 }, deadline: 100, nonce: 'c1' }), [signers[0]!])],
      [5, signGovRecord(unsignedGovRecord('client.grant', { client: { name: 'x2', publicKey: keys[2]!, vouchedBy: orgs[1]!.name }, deadline: 100, nonce: 'c2' }), [signers[1]!])],
      [7, signGovRecord(unsignedGovRecord('client.revoke', { publicKey: keys[0]!, deadline: 100, nonce: 'c3' }), [signers[0]!])],
    ];
    let checked = 0;
    for (let h = 1; h <= 12; h++) {
      const step = steps.find(([at]) => at === h);
      const a = t.applyBlock(step ? [{ offset: 0, parsed: rec(step[1]) }] : [], h);
      if (!a.ok) throw new Error(a.message);
      t.commit(h, a.state, step ? 1 : 0);
      for (let q = h; q <= h + 3; q++) {
        for (const k of keys) {
          expect(t.clientRefusal(k, q) === null, `key ${k.slice(0, 6)} height ${q} after ${h}`).toBe(authorizedByCore(t.state, k, q));
          checked++;
        }
      }
    }
    expect(checked).toBe(144);
    // Revoked: client_revoked; never granted: unknown_client; expired at 9: client_revoked.
    expect(t.clientRefusal(keys[0]!)?.code).toBe('client_revoked');
    expect(t.clientRefusal(keys[1]!)?.code).toBe('client_revoked');
    expect(t.clientRefusal(keys[2]!)).toBeNull();
    expect(t.clientRefusal(makeClients(1, 'gb-none')[0]!.publicKeyHex)?.code).toBe('unknown_client');
  });

  it('a block carrying an entry of a revoked client is invalid, also at a validator that admitted the entry before the revocation', async () => {
    const other = makeClients(1, 'gb-rv')[0]!;
    const grantRv = signGovRecord(unsignedGovRecord('client.grant', { client: { name: 'gb-rv', publicKey: other.publicKeyHex, vouchedBy: orgs[1]!.name }, deadline: 100, nonce: 'rv-g' }), [signers[1]!]);
    const revoke = signGovRecord(unsignedGovRecord('client.revoke', { publicKey: other.publicKeyHex, deadline: 100, nonce: 'rv-r' }), [signers[1]!]);
    const p = await node(0);
    const v = await node(2);
    const decide = async (height: number, entries: AuditEntry[]) => {
      expect((await p.mempool.submit(entries)).every((r) => 'status' in r)).toBe(true);
      const block = p.ledger.buildBlock(height, 0);
      for (const x of [p, v]) await x.ledger.apply(block, certificate(height, block), { sign: false, mode: 'consensus' });
    };
    await decide(1, [carry(grantRv, 'rv-g')]);
    // The validator admits an entry of the granted client; it stays pending (not in block 2).
    const late = makeEntries([other], 1, 'gb-rv-late')[0]!;
    expect((await v.mempool.submit([late]))[0]).toMatchObject({ status: 'accepted' });
    await decide(2, [carry(revoke, 'rv-r')]);
    expect(v.mempool.size).toBe(1);
    expect((await p.mempool.submit([late]))[0]).toMatchObject({ error: { code: 'client_revoked' } });
    // Block 3 carrying it, as a proposer ignoring governance would build it.
    const head = v.store.head()!;
    const leaf = entryLeaf(late);
    const lh = fastLeafHash(leaf);
    const app = appendLeafHashes(decodeState(head.logState), [lh]);
    const bytes = encodeBlock({
      header: { height: 3, prevHash: head.blockHash, proposer: 0, timeMs: Math.max(Date.now(), v.ledger.getHead().timeMs + 1), treeSize: app.state.size, root: rootOf(app.state), entriesHash: entriesHashOf([lh]) },
      entries: [leaf],
    });
    for (const x of [v, p]) {
      const r = await x.ledger.prevalidate(bytes);
      expect(r).toMatchObject({ ok: false, code: 'block_bad_entry' });
      expect((r as { message: string }).message).toContain('client_revoked');
    }
  });
});

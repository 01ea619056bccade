// Ledger rules that consensus relies on: validity is deterministic (a peer whose clock is 10
// minutes off still finds a correct block valid; only `timely` says no), catch-up checks the
// block's attribution against its certificate's round, and applying a decision for any height
// but head + 1 is a broken invariant. Real LevelDB in temp dirs, real Ed25519 keys.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../node/storage/store.js';
import { Ledger } from '../../node/peer/ledger.js';
import { Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { blockHash } from '../../node/peer/block.js';
import { encodeCertificate, voteSignBytes, type CommitCertificate } from '../../src/consensus/index.js';
import { InvariantError } from '../../src/assert.js';
import { toHex } from '../../src/encoding/bytes.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';

const orgs = await makeOrgs(4, 'lr');
const clients = makeClients(2, 'lrc');
const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000 } });
const TEN_MINUTES = 600_000;
const dirs: string[] = [];
const stores: Store[] = [];

async function node(i: number, clockOffsetMs = 0): Promise<{ ledger: Ledger; mempool: Mempool; store: Store }> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-lr-'));
  dirs.push(dir);
  const store = await openStore(join(dir, 'store'), { genesisHash: genesis.hash });
  stores.push(store);
  const checker = createEntryChecker(genesis);
  const now = () => Date.now() + clockOffsetMs;
  const ledger = await Ledger.open({ genesis, store, checker, selfIndex: i, signer: orgs[i]!.signer, now });
  const mempool = new Mempool(genesis.limits, checker, { indexOfLeafHash: (h) => store.indexOfLeafHash(h), lookupClientId: (c, x) => store.lookupClientId(c, x), finalSize: () => ledger.finalSize() }, null, now);
  ledger.attachMempool(mempool);
  return { ledger, mempool, store };
}

/** A real commit certificate: precommits of validators 0..2 for the block at (height, round). */
function certificate(height: number, round: number, block: Uint8Array): { cert: CommitCertificate; bytes: Uint8Array } {
  const valueId = blockHash(block);
  const cert: CommitCertificate = {
    height,
    round,
    valueId,
    signatures: [0, 1, 2].map((v) => ({ validator: v, signature: orgs[v]!.signer.sign(voteSignBytes(genesis.origin, 'precommit', height, round, valueId)) })),
  };
  return { cert, bytes: encodeCertificate(cert) };
}

afterAll(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('ledger rules for consensus', () => {
  it('a peer whose clock is 10 minutes ahead finds a correct block valid (cached verdict true) but not timely', async () => {
    const proposer = await node(1);
    const skewed = await node(3, TEN_MINUTES);
    await proposer.mempool.submit(makeEntries(clients, 5, 'skew'));
    const block = proposer.ledger.buildBlock(1, 1);
    const r = await skewed.ledger.prevalidate(block);
    expect(r).toEqual({ ok: true });
    expect(skewed.ledger.verdict(toHex(blockHash(block)))).toBe(true);
    expect(skewed.ledger.timely(block)).toBe(false);
    expect(proposer.ledger.timely(block)).toBe(true);
    expect(skewed.ledger.proposerOf(block)).toBe(1);
    // Timeliness is not cached: the verdict stays, and a clock that agrees makes it timely.
    const sameClock = await node(2);
    expect(sameClock.ledger.timely(block)).toBe(true);
    expect(skewed.ledger.timely(new Uint8Array([1, 2, 3]))).toBe(false);
    // The skewed peer applies the decided block like anyone else.
    const info = await skewed.ledger.apply(block, certificate(1, 0, block).bytes, { sign: false, mode: 'consensus' });
    expect(info.treeSize).toBe(5);
  });

  it('catch-up: a certified block must name a proposer of a round up to the certificate round', async () => {
    const a = await node(0);
    await a.mempool.submit(makeEntries(clients, 3, 'attr'));
    // Height 1: proposer(1, 0) = 1, proposer(1, 1) = 2, proposer(1, 2) = 3.
    const named0 = a.ledger.buildBlock(1, 0);
    const named2 = a.ledger.buildBlock(1, 2);
    const c0 = certificate(1, 0, named0);
    const r0 = a.ledger.verifyCertificate(1, named0, c0.bytes);
    expect(r0.ok ? 'ok' : r0.code).toBe('sync_wrong_proposer');
    // Validator 0 first proposes at round 3 of height 1: certified in round 3, it is accepted.
    const r3 = a.ledger.verifyCertificate(1, named0, certificate(1, 3, named0).bytes);
    expect(r3.ok ? 'ok' : r3.code).toBe('ok');
    // Named 2 = proposer(1, 1): fine for a decision in round 1 (fresh) or later (re-proposed).
    expect(a.ledger.verifyCertificate(1, named2, certificate(1, 1, named2).bytes).ok).toBe(true);
    expect(a.ledger.verifyCertificate(1, named2, certificate(1, 2, named2).bytes).ok).toBe(true);
    const r = a.ledger.verifyCertificate(1, named2, certificate(1, 0, named2).bytes);
    expect(r.ok ? 'ok' : r.code).toBe('sync_wrong_proposer');
  });

  it('applying a consensus decision that is not for head + 1 is a broken invariant, and nothing is stored', async () => {
    const a = await node(0);
    await a.mempool.submit(makeEntries(clients, 2, 'inv'));
    const b1 = a.ledger.buildBlock(1, 1);
    await a.ledger.apply(b1, certificate(1, 0, b1).bytes, { sign: false, mode: 'consensus' });
    const err = await a.ledger.apply(b1, certificate(1, 0, b1).bytes, { sign: false, mode: 'consensus' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvariantError);
    expect((err as InvariantError).code).toBe('decided_height');
    expect(a.ledger.getHead().height).toBe(1);
    // In sync mode a stale block is an ordinary failure (catch-up races are expected).
    const e2 = await a.ledger.apply(b1, certificate(1, 0, b1).bytes, { sign: false, mode: 'sync' }).catch((e: unknown) => e);
    expect(e2).not.toBeInstanceOf(InvariantError);
  });
  it('applying a decided block we validated as a proposal at this head reuses that validation; a block we never checked is validated as decided', async () => {
    const proposer = await node(1);
    const a = await node(0);
    const batch1 = makeEntries(clients, 3, 'reuse');
    await proposer.mempool.submit(batch1);
    await a.mempool.submit(batch1);
    const modes: string[] = [];
    const validate = a.ledger.validateBlock.bind(a.ledger);
    a.ledger.validateBlock = (bytes, mode, verify) => {
      modes.push(mode);
      return validate(bytes, mode, verify);
    };
    const b1 = proposer.ledger.buildBlock(1, 1);
    expect(await a.ledger.prevalidate(b1)).toEqual({ ok: true });
    expect(modes).toEqual(['proposal']);
    const info = await a.ledger.apply(b1, certificate(1, 0, b1).bytes, { sign: false, mode: 'consensus' });
    expect(modes).toEqual(['proposal']);
    expect(info.treeSize).toBe(3);
    expect(a.ledger.getHead()).toMatchObject({ height: 1, treeSize: 3, blockHash: blockHash(b1) });

    await proposer.ledger.apply(b1, certificate(1, 0, b1).bytes, { sign: false, mode: 'consensus' });
    await proposer.mempool.submit(makeEntries(clients, 2, 'reuse-2'));
    const b2 = proposer.ledger.buildBlock(2, 2);
    await a.ledger.apply(b2, certificate(2, 0, b2).bytes, { sign: false, mode: 'consensus' });
    expect(modes).toEqual(['proposal', 'decided']);
    await proposer.ledger.apply(b2, certificate(2, 0, b2).bytes, { sign: false, mode: 'consensus' });
    expect(a.ledger.getHead()).toMatchObject({ height: 2, treeSize: 5 });
    expect(Buffer.from(a.ledger.getHead().root).equals(Buffer.from(proposer.ledger.getHead().root))).toBe(true);
  });
});

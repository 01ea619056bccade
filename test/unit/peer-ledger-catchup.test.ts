// The catch-up apply path of the ledger: each leaf is hashed once. validateBlock hashes a decided
// block's leaf bytes, hands that hash to the entry checker, and the store is told the hashes come
// from the leaves (leafHashesFromLeaves), so neither hashes them again.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type AppliedBlock, type Store } from '../../node/storage/store.js';
import { Ledger } from '../../node/peer/ledger.js';
import { Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker, type EntryChecker } from '../../node/peer/entries.js';
import { decodeBlock } from '../../node/peer/block.js';
import { encodeCertificate } from '../../src/consensus/index.js';
import { bytesEqual } from '../../src/encoding/bytes.js';
import { leafHash } from '../../src/merkle/index.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';

const orgs = await makeOrgs(4, 'lc');
const clients = makeClients(2, 'lcc');
const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000 } });
const dirs: string[] = [];
const stores: Store[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function newStore(): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-lc-'));
  dirs.push(dir);
  const s = await openStore(join(dir, 'store'), { genesisHash: genesis.hash });
  stores.push(s);
  return s;
}

const cert = (h: number) => encodeCertificate({ height: h, round: 0, valueId: new Uint8Array(32).fill(1), signatures: [{ validator: 0, signature: new Uint8Array(64) }] });

describe('ledger catch-up apply', () => {
  it('hashes each leaf once: the checker gets the hash, the store is told not to hash again', async () => {
    // The proposer builds a block from its mempool.
    const ps = await newStore();
    const pc = createEntryChecker(genesis);
    const proposer = await Ledger.open({ genesis, store: ps, checker: pc, selfIndex: 0, signer: orgs[0]!.signer });
    const mp = new Mempool(genesis.limits, pc, { indexOfLeafHash: (h) => ps.indexOfLeafHash(h), lookupClientId: (c, x) => ps.lookupClientId(c, x), finalSize: () => proposer.finalSize() }, null);
    proposer.attachMempool(mp);
    await mp.submit(makeEntries(clients, 12, 'lc1'));
    const bytes = proposer.buildBlock(1, 0);
    const d = decodeBlock(bytes, genesis.limits);
    if (!d.ok) throw new Error(d.message);

    // A catching-up peer (fresh checker, empty mempool) applies it as a synced block.
    const store = await newStore();
    const applied: AppliedBlock[] = [];
    const spyStore = new Proxy(store, {
      get(t, k) {
        if (k === 'applyBlock') return (b: AppliedBlock) => (applied.push(b), t.applyBlock(b));
        const v = Reflect.get(t, k, t) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    const inner = createEntryChecker(genesis);
    let hashCalls = 0;
    const given: (Uint8Array | undefined)[] = [];
    const checker: EntryChecker = {
      ...inner,
      leafHash: (leaf) => (hashCalls++, inner.leafHash(leaf)),
      parseDecided: (leaf, lh) => (given.push(lh), inner.parseDecided(leaf, lh)),
    };
    const ledger = await Ledger.open({ genesis, store: spyStore, checker, selfIndex: null, signer: null });
    // An (empty) mempool as on a running peer: the ledger looks each leaf up in it by hash.
    ledger.attachMempool(new Mempool(genesis.limits, checker, { indexOfLeafHash: (h) => store.indexOfLeafHash(h), lookupClientId: (c, x) => store.lookupClientId(c, x), finalSize: () => ledger.finalSize() }, null));
    const info = await ledger.apply(bytes, cert(1), { sign: false, mode: 'sync' });
    expect(info.count).toBe(12);
    expect(hashCalls).toBe(12);
    // Every parse got the leaf hash of its own bytes (the old code let the checker hash again).
    expect(given.length).toBe(12);
    given.forEach((lh, i) => expect(lh !== undefined && bytesEqual(lh, leafHash(d.block.entries[i]!))).toBe(true));
    expect(applied.length).toBe(1);
    expect(applied[0]!.leafHashesFromLeaves).toBe(true);
    expect(store.head()?.treeSize).toBe(12);
    await proposer.apply(bytes, cert(1), { sign: false, mode: 'sync' });
    expect(bytesEqual(store.head()!.root, proposer.getHead().root)).toBe(true);
  });
});

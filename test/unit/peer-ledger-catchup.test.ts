// The catch-up apply path of the ledger: each leaf is hashed once (validateBlock hashes a decided
// block's leaf bytes, hands that hash to the entry checker, and the store is told the hashes come
// from the leaves, so neither hashes them again); syncVerifyClientSignatures makes catch-up verify
// every entry signature again; a certificate that does not verify is refused either way.
import { describe, expect, it } from 'vitest';
import type { AppliedBlock } from '../../node/storage/store.js';
import { Ledger } from '../../node/peer/ledger.js';
import { Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker, type EntryChecker } from '../../node/peer/entries.js';
import { decodeBlock, encodeBlock, entriesHashOf } from '../../node/peer/block.js';
import { encodeCertificate } from '../../src/consensus/index.js';
import { bytesEqual } from '../../src/encoding/bytes.js';
import { EMPTY_RANGE, appendLeafHashes, leafHash, rootOf } from '../../src/merkle/index.js';
import { entryLeaf } from '../../src/entry/index.js';
import { ledgerNetwork } from './support/ledger-fixture.js';
import { makeEntries } from '../peer-support/cluster.js';

const { orgs, clients, genesis, newStore, realCert: certAt } = await ledgerNetwork('lc');

const cert = (h: number) => encodeCertificate({ height: h, round: 0, valueId: new Uint8Array(32).fill(1), signatures: [{ validator: 0, signature: new Uint8Array(64) }] });
/** A commit certificate that verifies for `block` at height 1. */
const realCert = (block: Uint8Array) => certAt(1, block);

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

  /** Block 1 of `leaves`, structurally valid (chain, entries hash, tree size, root), any signatures; proposer 1 (height 1, round 0 of 4). */
  function blockOf(leaves: Uint8Array[]): Uint8Array {
    const hashes = leaves.map((l) => leafHash(l));
    const state = appendLeafHashes(EMPTY_RANGE, hashes).state;
    return encodeBlock({
      header: { height: 1, prevHash: genesis.hash, proposer: 1, timeMs: Date.now(), treeSize: state.size, root: rootOf(state), entriesHash: entriesHashOf(hashes) },
      entries: leaves,
    });
  }

  it('syncVerifyClientSignatures: a caught-up block with a bad client signature is refused when on, applied when off; consensus decisions are not affected', async () => {
    const es = makeEntries(clients, 6, 'lc2');
    const sig = es[3]!.sig;
    es[3] = { ...es[3]!, sig: (sig[0] === '0' ? '1' : '0') + sig.slice(1) };
    const bytes = blockOf(es.map((e) => entryLeaf(e)));
    const open = async (verify: boolean) => {
      const store = await newStore();
      return { store, ledger: await Ledger.open({ genesis, store, checker: createEntryChecker(genesis), selfIndex: null, signer: null, syncVerifyClientSignatures: verify }) };
    };
    // The certificate verifies (as sync.ts checks before applying): only the client signature is wrong.
    const c = realCert(bytes);
    const on = await open(true);
    expect(on.ledger.verifyCertificate(1, bytes, c).ok).toBe(true);
    const err = await on.ledger.apply(bytes, c, { sign: false, mode: 'sync' }).then(() => null, (e: unknown) => e as Error & { code?: string });
    expect(err?.code).toBe('ledger_decided_block_invalid');
    expect(err?.message).toContain('bad_signature');
    expect(on.store.head()).toBeNull();
    expect(on.ledger.getHead().height).toBe(0);
    // The same block with good signatures applies with the switch on.
    const good = blockOf(makeEntries(clients, 6, 'lc3').map((e) => entryLeaf(e)));
    const goodCert = realCert(good);
    expect(on.ledger.verifyCertificate(1, good, goodCert).ok).toBe(true);
    expect((await on.ledger.apply(good, goodCert, { sign: false, mode: 'sync' })).count).toBe(6);
    // Off (the default): the certificate stands for the signatures; the structure is still checked.
    const off = await open(false);
    expect(off.ledger.verifyCertificate(1, bytes, c).ok).toBe(true);
    expect((await off.ledger.apply(bytes, c, { sign: false, mode: 'sync' })).count).toBe(6);
    // The switch is for catch-up only: a consensus decision was checked as a proposal first.
    const cons = await open(true);
    expect((await cons.ledger.apply(bytes, c, { sign: false, mode: 'consensus' })).count).toBe(6);
  });

  it('refuses a block whose commit certificate does not verify, with or without the switch', async () => {
    const good = blockOf(makeEntries(clients, 3, 'lc4').map((e) => entryLeaf(e)));
    for (const verify of [false, true]) {
      const store = await newStore();
      const ledger = await Ledger.open({ genesis, store, checker: createEntryChecker(genesis), selfIndex: null, signer: null, syncVerifyClientSignatures: verify });
      const v = ledger.verifyCertificate(1, good, cert(1));
      expect(v.ok).toBe(false);
    }
  });
});

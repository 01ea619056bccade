// Ledger.applyRange (catch-up by range): a response of certified blocks is verified (every
// certificate against its height's set) and validated block after block, then written in ONE
// synced store batch per range; 'block' is emitted for each block only once the batch holding it
// is durable, in height order; a block whose certificate fails ends the range: the blocks before
// it are applied (durable, emitted), nothing after it is.
import { describe, expect, it, vi } from 'vitest';
import type { AppliedBlock, Store } from '../../node/storage/store.js';
import { Ledger, type AppliedInfo } from '../../node/peer/ledger.js';
import { Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { blockHash } from '../../node/peer/block.js';
import { toHex } from '../../src/encoding/bytes.js';
import { ledgerNetwork } from './support/ledger-fixture.js';
import { makeEntries } from '../peer-support/cluster.js';

// Counts the expensive per-block work (commit certificate verifications, block hashes): the real
// functions, wrapped.
const work = vi.hoisted(() => ({ certs: 0, hashes: 0 }));
vi.mock('../../src/consensus/index.js', async (load) => {
  const m = await load<typeof import('../../src/consensus/index.js')>();
  return { ...m, verifyCommitCertificate: (...a: Parameters<typeof m.verifyCommitCertificate>) => (work.certs++, m.verifyCommitCertificate(...a)) };
});
vi.mock('../../node/peer/block.js', async (load) => {
  const m = await load<typeof import('../../node/peer/block.js')>();
  return { ...m, blockHash: (b: Uint8Array) => (work.hashes++, m.blockHash(b)) };
});

const { orgs, clients, genesis, newStore, realCert } = await ledgerNetwork('lr');

/** `n` decided blocks as a source peer serves them (built and applied by a proposer ledger). */
async function chain(n: number, perBlock: number): Promise<{ block: Uint8Array; certificate: Uint8Array }[]> {
  const store = await newStore();
  const checker = createEntryChecker(genesis);
  const p = await Ledger.open({ genesis, store, checker, selfIndex: 0, signer: orgs[0]!.signer });
  const mp = new Mempool(genesis.limits, checker, { indexOfLeafHash: (h) => store.indexOfLeafHash(h), lookupClientId: (c, x) => store.lookupClientId(c, x), finalSize: () => p.finalSize() }, null);
  p.attachMempool(mp);
  const out: { block: Uint8Array; certificate: Uint8Array }[] = [];
  for (let h = 1; h <= n; h++) {
    await mp.submit(makeEntries(clients, perBlock, `lr${h}`));
    // Proposer of (h, round 0) among 4: the certificate's attribution check wants it.
    const block = p.buildBlock(h, h % 4);
    const certificate = realCert(h, block);
    await p.apply(block, certificate, { sign: false, mode: 'sync' });
    out.push({ block, certificate });
  }
  return out;
}

/** A catching-up ledger over a store that counts its writes and records, at each 'block', the store's durable head. */
async function catcher(): Promise<{ ledger: Ledger; store: Store; writes: number[]; emitted: { info: AppliedInfo; storeHeight: number }[] }> {
  const store = await newStore();
  const writes: number[] = [];
  const counted = new Proxy(store, {
    get(t, k) {
      if (k === 'applyBlock') return (b: AppliedBlock) => (writes.push(1), t.applyBlock(b));
      if (k === 'applyBlocks') return (bs: AppliedBlock[]) => (writes.push(bs.length), t.applyBlocks(bs));
      const v = Reflect.get(t, k, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  const ledger = await Ledger.open({ genesis, store: counted, checker: createEntryChecker(genesis), selfIndex: null, signer: null });
  const emitted: { info: AppliedInfo; storeHeight: number }[] = [];
  ledger.on('block', (info) => emitted.push({ info, storeHeight: store.head()?.height ?? 0 }));
  return { ledger, store, writes, emitted };
}

describe('ledger applyRange (catch-up by range)', () => {
  it('writes a response of certified blocks in one synced store batch and emits each block once it is durable', async () => {
    const blocks = await chain(10, 7);
    const c = await catcher();
    const r = await c.ledger.applyRange(blocks);
    expect(r).toEqual({ applied: 10, failure: null });
    // One store write for the 10 blocks (the per-block path wrote 10).
    expect(c.writes).toEqual([10]);
    expect(c.emitted.map((e) => e.info.height)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const e of c.emitted) expect(e.storeHeight).toBeGreaterThanOrEqual(e.info.height);
    // Each event carries the certificate its block was applied with (the rounds metric decodes it).
    expect(c.emitted.map((e) => toHex(e.info.certificate))).toEqual(blocks.map((b) => toHex(b.certificate)));
    expect(c.ledger.getHead().height).toBe(10);
    expect(c.ledger.getHead().treeSize).toBe(70);
    // The same log as the source's: root and head block hash.
    expect(toHex(c.store.head()!.blockHash)).toBe(toHex(blockHash(blocks[9]!.block)));
  });

  it('stops at a block whose certificate does not verify: the blocks before it are applied and durable, none after it', async () => {
    const blocks = await chain(6, 3);
    const forged = blocks.map((b, i) => (i === 3 ? { block: b.block, certificate: blocks[2]!.certificate } : b));
    const c = await catcher();
    const r = await c.ledger.applyRange(forged);
    expect(r.applied).toBe(3);
    expect(r.failure?.code).toBe('sync_bad_certificate');
    expect(c.store.head()?.height).toBe(3);
    expect(c.emitted.map((e) => e.info.height)).toEqual([1, 2, 3]);
    expect(c.writes).toEqual([3]);
    // The rest applies from there.
    expect((await c.ledger.applyRange(blocks.slice(3))).applied).toBe(3);
    expect(c.ledger.getHead().height).toBe(6);
  });

  it('refuses a block that does not chain (wrong height) without writing it', async () => {
    const blocks = await chain(4, 2);
    const c = await catcher();
    const r = await c.ledger.applyRange([blocks[0]!, blocks[2]!]);
    expect(r.applied).toBe(1);
    // Block 3's certificate names height 3; offered as height 2 it fails the cheap height check
    // before any signature is verified.
    expect(r.failure).toMatchObject({ code: 'sync_bad_certificate' });
    expect(r.failure?.message).toContain('certificate is for height 3, block is 2');
    expect(c.store.head()?.height).toBe(1);
    expect(c.writes).toEqual([1]);
    expect(c.emitted.map((e) => e.info.height)).toEqual([1]);
  });

  it('verifies each certificate and hashes each block once, the first block\'s check (done before pipelining) included', async () => {
    const blocks = await chain(8, 2);
    const c = await catcher();
    work.certs = 0;
    work.hashes = 0;
    // As catch-up does: the response's first block is checked before the next request is sent,
    // and that verdict goes with that block to the range (for that height).
    const first = c.ledger.verifyCertificate(1, blocks[0]!.block, blocks[0]!.certificate);
    if (!first.ok) throw new Error(first.message);
    const items = [{ ...blocks[0]!, verified: { height: 1, hash: first.hash } }, ...blocks.slice(1)];
    expect(await c.ledger.applyRange(items)).toEqual({ applied: 8, failure: null });
    expect(work.certs).toBe(8);
    expect(work.hashes).toBe(8);
    expect(toHex(c.store.head()!.blockHash)).toBe(toHex(blockHash(blocks[7]!.block)));
  });

  it('does not take a verdict given for another height: that block is verified itself', async () => {
    const blocks = await chain(3, 2);
    const c = await catcher();
    const ok = c.ledger.verifyCertificate(1, blocks[0]!.block, blocks[0]!.certificate);
    if (!ok.ok) throw new Error(ok.message);
    const verdict = { height: 1, hash: ok.hash };
    // Block 2 with a forged certificate, carrying block 1's verdict: still refused.
    const forged = { block: blocks[1]!.block, certificate: blocks[0]!.certificate, verified: verdict };
    const r = await c.ledger.applyRange([blocks[0]!, forged]);
    expect(r.applied).toBe(1);
    expect(r.failure?.code).toBe('sync_bad_certificate');
    // Block 2 as served (its own certificate) carrying the height-1 verdict: verified itself all the same.
    const shifted = { ...blocks[1]!, verified: verdict };
    work.certs = 0;
    expect((await c.ledger.applyRange([shifted, blocks[2]!])).applied).toBe(2);
    expect(work.certs).toBe(2);
    expect(c.store.head()?.height).toBe(3);
  });
});

// Checkpoint-signature gossip: nothing unverified is relayed, stored where it could displace a
// verified signature, or penalized when an honest peer may have relayed it. The gossip pipeline is
// driven as the network does it: the topic validator first, the handler only after 'accept'.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../node/storage/store.js';
import { Ledger, decodeCheckpointSig, encodeCheckpointSig } from '../../node/peer/ledger.js';
import { Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { encodeCertificate } from '../../src/consensus/index.js';
import { formatCheckpoint, verifyCheckpointQuorum } from '../../src/checkpoint/checkpoint.js';
import { signText } from '../../src/checkpoint/note.js';
import { nobleVerifier } from '../../src/crypto/noble.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';

const orgs = await makeOrgs(4, 'cs');
const clients = makeClients(2, 'csc');
const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000 } });
const dirs: string[] = [];
const stores: Store[] = [];

interface Node {
  store: Store;
  ledger: Ledger;
  mempool: Mempool;
  sigs: Uint8Array[];
}

async function node(i: number): Promise<Node> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cs-'));
  dirs.push(dir);
  const store = await openStore(join(dir, 'store'), { genesisHash: genesis.hash });
  stores.push(store);
  const checker = createEntryChecker(genesis);
  const sigs: Uint8Array[] = [];
  const ledger = await Ledger.open({ genesis, store, checker, selfIndex: i, signer: orgs[i]!.signer, publishCheckpointSig: (b) => sigs.push(b) });
  const mempool = new Mempool(genesis.limits, checker, { indexOfLeafHash: (h) => store.indexOfLeafHash(h), lookupClientId: (c, x) => store.lookupClientId(c, x), finalSize: () => ledger.finalSize() }, null);
  ledger.attachMempool(mempool);
  return { store, ledger, mempool, sigs };
}

const cert = (h: number) => encodeCertificate({ height: h, round: 0, valueId: new Uint8Array(32).fill(1), signatures: [{ validator: 0, signature: new Uint8Array(64) }] });

/** What the network does with a received message: validator, then the handler if accepted. */
async function deliver(n: Node, msg: Uint8Array, from: string): Promise<string> {
  const v = n.ledger.checkCheckpointSigShape(msg, from);
  if (v === 'accept') await n.ledger.onCheckpointSigMessage(msg);
  return v;
}

/** A signature line that claims validator `as` (its name and key id) but is made with `by`'s key. */
function forged(size: number, root: Uint8Array, as: number, by: number): Uint8Array {
  const text = formatCheckpoint({ origin: genesis.origin, size, root });
  const real = signText(text, { name: orgs[as]!.name, signer: orgs[as]!.signer });
  const other = signText(text, { name: orgs[as]!.name, signer: orgs[by]!.signer });
  return encodeCheckpointSig(size, { name: real.name, keyId: real.keyId, signature: other.signature }, Date.now());
}

let nodes: Node[];
beforeAll(async () => {
  nodes = [await node(0), await node(1), await node(2), await node(3)];
  // Height 1 (20 entries) applied everywhere; height 2 (+10 entries) applied by nodes 1-3 only,
  // so node 0 is one block behind the signatures they send for size 30.
  await nodes[0]!.mempool.submit(makeEntries(clients, 20, 'cs1'));
  const b1 = nodes[0]!.ledger.buildBlock(1, 0);
  for (const n of nodes) await n.ledger.apply(b1, cert(1), { sign: false, mode: 'sync' });
  await nodes[1]!.mempool.submit(makeEntries(clients, 10, 'cs2'));
  const b2 = nodes[1]!.ledger.buildBlock(2, 1);
  for (const n of nodes.slice(1)) await n.ledger.apply(b2, cert(2), { sign: true, mode: 'consensus' });
  (globalThis as { b2?: Uint8Array }).b2 = b2;
});
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('checkpoint signature gossip', () => {
  it('a forged signature for a size ahead of us is not relayed and does not displace the real one', async () => {
    const [n0, n1, n2, n3] = nodes as [Node, Node, Node, Node];
    const root30 = n1.ledger.getHead().root;
    const real2 = n2.sigs.find((m) => (decodeCheckpointSig(m) as { size: number }).size === 30)!;
    const real3 = n3.sigs.find((m) => (decodeCheckpointSig(m) as { size: number }).size === 30)!;
    // Size 30 is beyond node 0's head: it cannot check these, so it relays none of them.
    expect(await deliver(n0, real2, orgs[2]!.peerId)).toBe('ignore');
    expect(await deliver(n0, real3, orgs[3]!.peerId)).toBe('ignore');
    // A Byzantine peer then sends signatures that claim org2 but are made with org3's key, for
    // the same size and for a larger one (the old code kept only the latest size per validator).
    expect(await deliver(n0, forged(30, root30, 2, 3), orgs[1]!.peerId)).toBe('ignore');
    expect(await deliver(n0, forged(35, root30, 2, 3), orgs[1]!.peerId)).toBe('ignore');
    expect(n0.ledger.finalSize()).toBe(0);
    // Node 0 reaches size 30 and signs: with org2's and org3's real signatures that is a quorum.
    await n0.ledger.apply((globalThis as { b2?: Uint8Array }).b2!, cert(2), { sign: true, mode: 'consensus' });
    expect(n0.ledger.finalSize()).toBe(30);
    const note = await n0.store.latestFinalCheckpoint();
    const v = verifyCheckpointQuorum(note!, { origin: genesis.origin, keys: genesis.validators.map((x) => x.key), quorum: genesis.quorum }, nobleVerifier);
    expect(v.ok, JSON.stringify(v)).toBe(true);
  });

  it('accepts a verified signature for a size it knows and rejects a forged one for it', async () => {
    const [, n1, n2, n3] = nodes as [Node, Node, Node, Node];
    const root30 = n1.ledger.getHead().root;
    // Node 1 is at 30 and has collected only its own signature (nothing was delivered to it yet).
    expect(await deliver(n1, forged(30, root30, 2, 3), orgs[3]!.peerId)).toBe('reject');
    const real2 = n2.sigs.find((m) => (decodeCheckpointSig(m) as { size: number }).size === 30)!;
    const real3 = n3.sigs.find((m) => (decodeCheckpointSig(m) as { size: number }).size === 30)!;
    expect(await deliver(n1, real2, orgs[2]!.peerId)).toBe('accept');
    expect(await deliver(n1, real3, orgs[3]!.peerId)).toBe('accept');
    expect(n1.ledger.finalSize()).toBe(30);
    // Already final: nothing to relay, and no penalty for whoever sends it late.
    expect(await deliver(n1, real2, orgs[2]!.peerId)).toBe('ignore');
  });

  it('keeps early signatures bounded per sender, so one sender cannot crowd out another', async () => {
    const n = await node(0);
    const root = new Uint8Array(32).fill(7);
    // A flood of unverifiable (future) signatures from one sender: all ignored, few kept.
    for (let s = 1; s <= 500; s++) expect(await deliver(n, forged(s, root, 1, 2), 'flooder')).toBe('ignore');
    expect(n.ledger.pendingSignatures()).toBeLessThanOrEqual(64);
    // Far beyond the window: not even kept.
    const before = n.ledger.pendingSignatures();
    expect(await deliver(n, forged(1e12, root, 1, 2), 'other')).toBe('ignore');
    expect(n.ledger.pendingSignatures()).toBe(before);
  });

  it('our signature line leaves as soon as the block is applied, before the synced write of our own note', async () => {
    const n = await node(0);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const put = n.store.putCheckpoint.bind(n.store);
    n.store.putCheckpoint = async (size, note, final) => {
      await gate;
      return put(size, note, final);
    };
    await n.mempool.submit(makeEntries(clients, 5, 'cs-early-line'));
    const applied = n.ledger.apply(n.ledger.buildBlock(1, 0), cert(1), { sign: true, mode: 'consensus' });
    const end = Date.now() + 5_000;
    while (n.sigs.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(n.sigs.map((m) => (decodeCheckpointSig(m) as { size: number }).size)).toEqual([5]);
    release();
    await applied;
    // Nor does apply wait for that note: it is written NOTE_DELAY_MS later if still not final.
    expect(await n.store.getCheckpoint(5)).toBeUndefined();
  });
});

describe('own checkpoint signature', () => {
  // It counts towards the quorum before the synced write of our one-signature note: when the
  // others' lines are already here, the final checkpoint is the only checkpoint write.
  it('completes the quorum before our one-signature note is written; that note is then skipped', async () => {
    const fresh = [await node(0), await node(1), await node(2)];
    await fresh[1]!.mempool.submit(makeEntries(clients, 5, 'co1'));
    const b1 = fresh[1]!.ledger.buildBlock(1, 1);
    // Node 0 applies without signing; nodes 1 and 2 sign, and their lines reach node 0 first.
    await fresh[0]!.ledger.apply(b1, cert(1), { sign: false, mode: 'sync' });
    for (const n of fresh.slice(1)) await n.ledger.apply(b1, cert(1), { sign: true, mode: 'consensus' });
    const n0 = fresh[0]!;
    for (const [i, n] of fresh.slice(1).entries()) expect(await deliver(n0, n.sigs.at(-1)!, `peer${i + 1}`)).toBe('accept');
    expect(n0.ledger.finalSize()).toBe(0); // 2 of 4: no quorum yet
    const writes: boolean[] = [];
    const put = n0.store.putCheckpoint.bind(n0.store);
    n0.store.putCheckpoint = (size: number, note: Uint8Array, final: boolean) => {
      writes.push(final);
      return put(size, note, final);
    };
    await n0.ledger.signHead();
    expect(n0.ledger.finalSize()).toBe(5);
    expect(writes).toEqual([true]);
    const note = await n0.store.latestFinalCheckpoint();
    expect(verifyCheckpointQuorum(note!, { origin: genesis.origin, keys: genesis.validators.map((x) => x.key), quorum: genesis.quorum }, nobleVerifier).ok).toBe(true);
  });
});

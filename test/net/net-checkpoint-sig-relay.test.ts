// An honest relayer is never penalized for a checkpoint signature it could not check. Three real
// libp2p hosts in a line, X — B — C (X and C do not know each other): X forges signatures for a
// tree size B has not reached (B cannot verify them) but C has (C can). B must neither relay them
// (so C never sees them through B) nor be penalized by C: gossipsub's P4 score counts every
// 'reject' against the peer that delivered the message, and a few of them graylist it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPeerNetwork, type PeerNetwork } from '../../node/net/index.js';
import { openStore, type Store } from '../../node/storage/store.js';
import { Ledger, encodeCheckpointSig } from '../../node/peer/ledger.js';
import { Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { encodeCertificate } from '../../src/consensus/index.js';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { signText } from '../../src/checkpoint/note.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';
import { identities, TEST_LIMITS, waitFor, GENESIS_A, NS_A } from './net-helpers.js';

const orgs = await makeOrgs(4, 'relay');
const clients = makeClients(2, 'relayc');
const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000 } });
const dirs: string[] = [];
const stores: Store[] = [];
const hosts: PeerNetwork[] = [];

async function ledger(i: number): Promise<{ ledger: Ledger; mempool: Mempool }> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-relay-'));
  dirs.push(dir);
  const store = await openStore(join(dir, 'store'), { genesisHash: genesis.hash });
  stores.push(store);
  const checker = createEntryChecker(genesis);
  const l = await Ledger.open({ genesis, store, checker, selfIndex: i, signer: orgs[i]!.signer });
  const mempool = new Mempool(genesis.limits, checker, { indexOfLeafHash: (h) => store.indexOfLeafHash(h), lookupClientId: (c, x) => store.lookupClientId(c, x), finalSize: () => l.finalSize() }, null);
  l.attachMempool(mempool);
  return { ledger: l, mempool };
}
const cert = (h: number) => encodeCertificate({ height: h, round: 0, valueId: new Uint8Array(32).fill(1), signatures: [{ validator: 0, signature: new Uint8Array(64) }] });

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop().catch(() => {})));
  for (const s of stores) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

let lb: Ledger;
let lc: Ledger;
beforeAll(async () => {
  // B is at tree size 20, C at 30.
  const b = await ledger(1);
  const c = await ledger(2);
  lb = b.ledger;
  lc = c.ledger;
  await b.mempool.submit(makeEntries(clients, 20, 'r1'));
  const b1 = lb.buildBlock(1, 0);
  await lb.apply(b1, cert(1), { sign: false, mode: 'sync' });
  await lc.apply(b1, cert(1), { sign: false, mode: 'sync' });
  await c.mempool.submit(makeEntries(clients, 10, 'r2'));
  const b2 = lc.buildBlock(2, 1);
  await lc.apply(b2, cert(2), { sign: false, mode: 'sync' });
});

describe('checkpoint signature relay', () => {
  it('a signature B cannot check is not relayed to C, and C does not penalize B', async () => {
    const [x, b, c] = await identities(3);
    const start = async (id: typeof x, peers: (typeof x)[], addrs: Map<string, string[]>) =>
      createPeerNetwork({
        privateKey: id!.key,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        peers: peers.map((p) => ({ peerId: p!.peerId, addrs: addrs.get(p!.peerId) ?? [] })),
        namespace: NS_A,
        genesisHash: GENESIS_A,
        limits: TEST_LIMITS,
      });
    const addrs = new Map<string, string[]>();
    const hb = await start(b, [x, c], addrs);
    addrs.set(b!.peerId, hb.addresses());
    const hx = await start(x, [b], addrs);
    const hc = await start(c, [b], addrs);
    hosts.push(hb, hx, hc);
    await waitFor('B connected to X and C', () => hb.connectedPeers().length === 2, 15_000);
    const topic = hb.topics.checkpointSigs;
    const seenByC: string[] = [];
    hx.subscribe(topic, () => 'accept', () => {});
    hb.subscribe(topic, (from, data) => lb.checkCheckpointSigShape(data, from), () => {});
    hc.subscribe(
      topic,
      (from, data) => {
        seenByC.push(from);
        return lc.checkCheckpointSigShape(data, from);
      },
      () => {},
    );
    await waitFor('subscriptions known', () => hx.topicPeers(topic).length === 1 && hc.topicPeers(topic).length === 1 && hb.topicPeers(topic).length === 2, 15_000);

    // Ten forged signatures for size 30 (org3's name and key id, made with org0's key).
    const text = formatCheckpoint({ origin: genesis.origin, size: 30, root: lc.getHead().root });
    for (let k = 0; k < 10; k++) {
      const real = signText(text, { name: orgs[3]!.name, signer: orgs[3]!.signer });
      const fake = signText(text, { name: orgs[3]!.name, signer: orgs[0]!.signer });
      await hx.publish(topic, encodeCheckpointSig(30, { name: real.name, keyId: real.keyId, signature: fake.signature }, 1_000 + k));
    }
    await waitFor('B saw the forged signatures', () => hb.stats().gossipIgnored + hb.stats().gossipAccepted >= 10, 10_000);
    // Several gossip heartbeats (IHAVE/IWANT exchange every ~1 s): time for B to relay, if it would.
    await new Promise((r) => setTimeout(r, 4_000));
    expect(hb.stats().gossipAccepted).toBe(0);
    expect(seenByC).toEqual([]);
    expect(hc.peerScore(b!.peerId)).toBeGreaterThanOrEqual(0);
  }, 60_000);
});

// Our own checkpoint signature counts towards the quorum before the synced write of our
// one-signature note: when the others' lines are already here, the final checkpoint is the first
// (and only) checkpoint write, not the second after an fsync of a note nobody needs any more.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../node/storage/store.js';
import { Ledger } from '../../node/peer/ledger.js';
import { Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { encodeCertificate } from '../../src/consensus/index.js';
import { verifyCheckpointQuorum } from '../../src/checkpoint/checkpoint.js';
import { nobleVerifier } from '../../src/crypto/noble.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';

const orgs = await makeOrgs(4, 'co');
const clients = makeClients(2, 'coc');
const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000 } });
const dirs: string[] = [];
const stores: Store[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function node(i: number) {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-co-'));
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

describe('own checkpoint signature', () => {
  it('completes the quorum before our one-signature note is written; that note is then skipped', async () => {
    const nodes = [await node(0), await node(1), await node(2)];
    await nodes[1]!.mempool.submit(makeEntries(clients, 5, 'co1'));
    const b1 = nodes[1]!.ledger.buildBlock(1, 1);
    // Node 0 applies without signing; nodes 1 and 2 sign, and their lines reach node 0 first.
    await nodes[0]!.ledger.apply(b1, cert(1), { sign: false, mode: 'sync' });
    for (const n of nodes.slice(1)) await n.ledger.apply(b1, cert(1), { sign: true, mode: 'consensus' });
    const n0 = nodes[0]!;
    for (const n of nodes.slice(1)) {
      const line = n.sigs.at(-1)!;
      expect(n0.ledger.checkCheckpointSigShape(line, `peer${nodes.indexOf(n)}`)).toBe('accept');
      await n0.ledger.onCheckpointSigMessage(line);
    }
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
    const v = verifyCheckpointQuorum(note!, { origin: genesis.origin, keys: genesis.validators.map((x) => x.key), quorum: genesis.quorum }, nobleVerifier);
    expect(v.ok).toBe(true);
  });
});

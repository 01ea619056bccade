// One organization's ledger on a real LevelDB store in a temp dir, with a mempool attached and
// its published checkpoint-signature lines collected: for tests of the ledger's checkpoint path.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../../node/storage/store.js';
import { Ledger } from '../../../node/peer/ledger.js';
import { Mempool } from '../../../node/peer/mempool.js';
import { createEntryChecker } from '../../../node/peer/entries.js';
import { encodeCertificate } from '../../../src/consensus/index.js';
import type { Genesis } from '../../../node/peer/genesis.js';
import type { Ed25519Signer } from '../../../src/crypto/types.js';

export interface LedgerNode {
  store: Store;
  ledger: Ledger;
  mempool: Mempool;
  /** Checkpoint-signature gossip messages this ledger published, in order. */
  sigs: Uint8Array[];
}

/** Opens ledger nodes for one genesis and removes them all at close(). */
export class LedgerNodes {
  private readonly dirs: string[] = [];
  private readonly stores: Store[] = [];

  constructor(
    private readonly genesis: Genesis,
    private readonly signers: readonly Ed25519Signer[],
  ) {}

  async open(i: number): Promise<LedgerNode> {
    const g = this.genesis;
    const dir = await mkdtemp(join(tmpdir(), 'cairn-ln-'));
    this.dirs.push(dir);
    const store = await openStore(join(dir, 'store'), { genesisHash: g.hash });
    this.stores.push(store);
    const checker = createEntryChecker(g);
    const sigs: Uint8Array[] = [];
    const ledger = await Ledger.open({ genesis: g, store, checker, selfIndex: i, signer: this.signers[i]!, publishCheckpointSig: (b) => sigs.push(b) });
    const mempool = new Mempool(g.limits, checker, { indexOfLeafHash: (h) => store.indexOfLeafHash(h), lookupClientId: (c, x) => store.lookupClientId(c, x), finalSize: () => ledger.finalSize() }, null);
    ledger.attachMempool(mempool);
    return { store, ledger, mempool, sigs };
  }

  async close(): Promise<void> {
    for (const s of this.stores) await s.close();
    for (const d of this.dirs) await rm(d, { recursive: true, force: true });
  }
}

/** A commit certificate the ledger stores as it is (apply does not verify it). */
export const fakeCertificate = (h: number) => encodeCertificate({ height: h, round: 0, valueId: new Uint8Array(32).fill(1), signatures: [{ validator: 0, signature: new Uint8Array(64) }] });

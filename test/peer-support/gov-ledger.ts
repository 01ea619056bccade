// A ledger fixture for the governance unit tests: real LevelDB stores in temp dirs, each with its
// governance tracker, entry checker, ledger and mempool, and commit certificates signed by hand.
// No network: checkpoint signatures go to a shared `bus` the test delivers itself.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../node/storage/store.js';
import { Ledger } from '../../node/peer/ledger.js';
import { Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { GovTracker } from '../../node/peer/governance.js';
import { blockHash } from '../../node/peer/block.js';
import type { Genesis } from '../../node/peer/genesis.js';
import { encodeCertificate, voteSignBytes, type CommitCertificate } from '../../src/consensus/index.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';

export interface GovLedgerNode {
  ledger: Ledger;
  mempool: Mempool;
  store: Store;
  gov: GovTracker;
  dir: string;
}

export interface GovLedgerFixture {
  /** Checkpoint signatures published by the ledgers, in order. */
  bus: { from: number; bytes: Uint8Array }[];
  /** A ledger `i` holding `signer` (and `extraSigners`); selfIndex i below `validators`, else an observer. */
  node(i: number, signer: Ed25519Signer, opts?: { extraSigners?: readonly Ed25519Signer[] }): Promise<GovLedgerNode>;
  /** A commit certificate of round 0 for `block` at `height`, signed by (validator index, key) pairs. */
  certificate(height: number, block: Uint8Array, signers: [number, Ed25519Signer][]): Uint8Array;
  /** Stores closed and temp dirs removed by cleanup (a test may add its own). */
  stores: Store[];
  dirs: string[];
  /** Closes every store and removes every temp dir. */
  cleanup(): Promise<void>;
}

export function govLedgerFixture(genesis: Genesis, prefix: string): GovLedgerFixture {
  const dirs: string[] = [];
  const stores: Store[] = [];
  const bus: { from: number; bytes: Uint8Array }[] = [];
  const validators = genesis.validators.length;
  return {
    bus,
    stores,
    dirs,
    async node(i, signer, opts) {
      const dir = await mkdtemp(join(tmpdir(), `cairn-${prefix}-`));
      dirs.push(dir);
      const store = await openStore(join(dir, 'store'), { genesisHash: genesis.hash });
      stores.push(store);
      const gov = await GovTracker.open(genesis, store, 0);
      const checker = createEntryChecker(genesis, undefined, gov);
      const ledger = await Ledger.open({
        genesis,
        store,
        checker,
        selfIndex: i < validators ? i : null,
        signer,
        ...(opts?.extraSigners ? { extraSigners: opts.extraSigners } : {}),
        gov,
        publishCheckpointSig: (bytes) => bus.push({ from: i, bytes }),
      });
      const mempool = new Mempool(genesis.limits, checker, { indexOfLeafHash: (h) => store.indexOfLeafHash(h), lookupClientId: (c, x) => store.lookupClientId(c, x), finalSize: () => ledger.finalSize() }, null);
      ledger.attachMempool(mempool);
      return { ledger, mempool, store, gov, dir };
    },
    certificate(height, block, signers) {
      const valueId = blockHash(block);
      const cert: CommitCertificate = { height, round: 0, valueId, signatures: signers.map(([v, s]) => ({ validator: v, signature: s.sign(voteSignBytes(genesis.origin, 'precommit', height, 0, valueId)) })) };
      return encodeCertificate(cert);
    },
    async cleanup() {
      for (const s of stores) await s.close();
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    },
  };
}

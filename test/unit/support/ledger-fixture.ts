// The catch-up ledger tests' network: 4 organizations, 2 clients, real stores in temp dirs (closed
// and removed after the file), and commit certificates that verify (precommits of validators 0..2).
import { afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../../node/storage/store.js';
import { blockHash } from '../../../node/peer/block.js';
import { encodeCertificate, voteSignBytes } from '../../../src/consensus/index.js';
import { makeClients, makeGenesis, makeOrgs } from '../../peer-support/fixtures.js';

export async function ledgerNetwork(tag: string) {
  const orgs = await makeOrgs(4, tag);
  const clients = makeClients(2, `${tag}c`);
  const genesis = makeGenesis(orgs, clients, { limits: { maxClockSkewMs: 60_000 } });
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterAll(async () => {
    for (const s of stores) await s.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const newStore = async (): Promise<Store> => {
    const dir = await mkdtemp(join(tmpdir(), `cairn-${tag}-`));
    dirs.push(dir);
    const s = await openStore(join(dir, 'store'), { genesisHash: genesis.hash });
    stores.push(s);
    return s;
  };
  /** A commit certificate that verifies for `block` at `height`: its real value id, precommits of validators 0..2 (a quorum of 4). */
  const realCert = (height: number, block: Uint8Array) => {
    const valueId = blockHash(block);
    const signBytes = voteSignBytes(genesis.origin, 'precommit', height, 0, valueId);
    return encodeCertificate({ height, round: 0, valueId, signatures: [0, 1, 2].map((v) => ({ validator: v, signature: orgs[v]!.signer.sign(signBytes) })) });
  };
  return { orgs, clients, genesis, newStore, realCert };
}

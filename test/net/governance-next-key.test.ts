// Key rotation WITHOUT a restart, in a peer started from its config file (loadConfig +
// startPeerFromConfig, as `cairn start` does). Organization 3's config lists its next signing key
// under `keys.next` from the start and keeps its libp2p identity; organizations 0-2 are ordinary
// peers (real libp2p on 127.0.0.1, real LevelDB in temp dirs, one process). While a bounded load
// of signed entries flows into all four peers, an org.key.rotate record (signed by the old and the
// new key) becomes final, effective a few heights later. Then, in the same running peer:
//   - it signs checkpoints with its new key: with organization 2 stopped, new entries still
//     become final (quorum 3 of 4 needs 0, 1 and 3), and that final checkpoint carries
//     organization 3's signature under the new key and none under the old one;
//   - it still reports itself as organization 3's validator (status; no "not in the validator
//     set" warning);
//   - no entry lost: every entry a peer accepted is final.
// ~15 s with the machine lightly loaded, ~45 s at load ~19 on 2 cores (most of it waiting for the
// heights up to the effective one).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCheckpointQuorum } from '../../src/checkpoint/checkpoint.js';
import { formatSignerKey, formatVerifierKey, verifierKey } from '../../src/checkpoint/keys.js';
import { nodeSigner, nodeVerifier } from '../../src/crypto/node.js';
import { signEntry } from '../../src/entry/index.js';
import { govEntry, signGovRecord, unsignedGovRecord } from '../../src/governance/index.js';
import { formatP2PKey, loadConfig } from '../../node/peer/config.js';
import { formatGenesis } from '../../node/peer/genesis.js';
import { startPeerFromConfig, type Peer } from '../../node/peer/peer.js';
import { seedOf } from '../peer-support/fixtures.js';
import { clusterProgress, makeCluster, makeEntries, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';

/** Load: LOAD_BATCH entries every LOAD_EVERY_MS into each peer in turn, at most LOAD_MAX in all and
 *  for at most LOAD_MS_MAX. It also drives the heights: blocks are never empty. */
const LOAD_MAX = 4_000;
const LOAD_MS_MAX = 80_000;
const LOAD_BATCH = 5;
const LOAD_EVERY_MS = 100;
/** Heights between the record's submission and its effective height (it must be final first). */
const EFFECTIVE_AHEAD = 12;
const nextSeed = seedOf('gnext3/next');

let c: Cluster;
/** Warnings and errors organization 3's peer logged. */
const warnings3: string[] = [];

beforeAll(async () => {
  c = await makeCluster(4, { label: 'gnext', clients: 2 });
  await Promise.all([0, 1, 2].map((i) => c.start(i)));
  // Organization 3's operator: genesis, keys and a config file with the next key, started like `cairn start`.
  const o3 = c.orgs[3]!;
  const dir = c.dirs[3]!;
  await mkdir(join(dir, 'data'), { recursive: true });
  await writeFile(join(dir, 'genesis.json'), formatGenesis(c.genesis));
  await writeFile(join(dir, 'sign.key'), o3.signerKeyText + '\n', { mode: 0o600 });
  await writeFile(join(dir, 'next.key'), formatSignerKey(o3.name, nextSeed) + '\n', { mode: 0o600 });
  await writeFile(join(dir, 'p2p.key'), formatP2PKey(o3.p2pSeed), { mode: 0o600 });
  const cfg = { dataDir: 'data', genesis: 'genesis.json', signingKey: 'sign.key', p2pKey: 'p2p.key', listen: [`/ip4/127.0.0.1/tcp/${o3.port}`], keys: { next: ['next.key'] } };
  await writeFile(join(dir, 'config.json'), JSON.stringify(cfg));
  const rec = (level: string) => (_o: Record<string, unknown>, msg: string) => void warnings3.push(`${level}: ${msg}`);
  c.peers[3] = await startPeerFromConfig(await loadConfig(join(dir, 'config.json'), {}), { debug: () => {}, info: () => {}, warn: rec('warn'), error: rec('error') });
  await waitConnected(c, [0, 1, 2, 3], 3);
}, 60_000);

afterAll(async () => {
  await c?.close();
});

/** A bounded load into every running peer in turn; collects the leaf hash of every accepted entry. */
function startLoad(): { stop: () => Promise<void>; accepted: string[] } {
  const state = { accepted: [] as string[], stopped: false };
  const run = (async () => {
    const end = Date.now() + LOAD_MS_MAX;
    for (let k = 0, sent = 0; !state.stopped && sent < LOAD_MAX && Date.now() < end; k++, sent += LOAD_BATCH) {
      const p = c.peers[k % 4];
      if (p) for (const r of await p.submit(makeEntries(c.clients, LOAD_BATCH, 'next'))) if ('status' in r && r.status === 'accepted') state.accepted.push(r.leafHash);
      await new Promise((res) => setTimeout(res, LOAD_EVERY_MS));
    }
  })();
  return {
    accepted: state.accepted,
    stop: async () => {
      state.stopped = true;
      await run;
    },
  };
}

describe('organization key rotation from keys.next, without a restart', () => {
  const o3 = () => c.orgs[3]!;
  const newKey = () => verifierKey(o3().name, nodeSigner(nextSeed).publicKey);
  let load: ReturnType<typeof startLoad> | null = null;
  let peer3: Peer;

  it('the rotation becomes final and takes effect under load; the running peer is still organization 3', async () => {
    peer3 = c.peers[3]!;
    load = startLoad();
    const p0 = c.peers[0]!;
    await waitFor(c, 'a first final checkpoint', () => p0.status().finalSize >= 20, () => clusterProgress(c));
    const eff = p0.status().height + EFFECTIVE_AHEAD;
    // The peer id stays: only the signing key changes, so no restart is needed.
    const rotation = signGovRecord(
      unsignedGovRecord('org.key.rotate', { epoch: 1, org: o3().name, key: formatVerifierKey(o3().name, nodeSigner(nextSeed).publicKey), peerId: o3().peerId, effectiveHeight: eff, deadline: eff - 2, nonce: 'gnext-rotate' }),
      [
        { name: o3().name, signer: o3().signer },
        { name: o3().name, signer: nodeSigner(nextSeed) },
      ],
    );
    const carrier = signEntry(govEntry(rotation, { time: new Date().toISOString(), actor: { id: 'ops', type: 'service' } }), c.clients[0]!.signer);
    expect(await p0.submit([carrier])).toMatchObject([{ status: 'accepted' }]);
    const acceptedAtSubmit = load.accepted.length;
    // A few heights past the effective one: decided with organization 3 signing under its new key.
    await waitFor(c, `heads past the effective height ${eff}`, () => c.peers.every((p) => p!.status().height >= eff + 3), () => clusterProgress(c), { maxMs: 60_000 });
    expect(peer3.status().governance?.epoch).toBe(1);
    await load.stop();
    // The load ran on across the rotation (on a quiet machine the heights to the effective one take
    // about a second, so the count is small; what matters is that entries kept being accepted).
    expect(acceptedAtSubmit).toBeGreaterThan(0);
    expect(load.accepted.length).toBeGreaterThan(acceptedAtSubmit);
    expect(c.peers[3]).toBe(peer3);
    expect(peer3.status().validator?.name).toBe(o3().name);
    expect(warnings3.filter((w) => w.includes('not in the validator set'))).toEqual([]);
  }, 90_000);

  it('no entry lost: every accepted entry is final', async () => {
    const accepted = load!.accepted;
    await waitFor(c, 'every peer settled', () => c.peers.every((p) => p!.status().mempool.entries === 0 && p!.status().finalSize === p!.status().treeSize), () => clusterProgress(c), { maxMs: 60_000 });
    for (const h of accepted) {
      const e = await peer3.getEntry(h);
      if (e.status !== 'final') throw new Error(`entry ${h} is ${e.status} on peer 3`);
    }
  }, 70_000);

  it('the running peer signs checkpoints with its new key (the quorum needs it)', async () => {
    // Without organization 2, organizations 0, 1 and 3 are the quorum (3 of 4).
    await c.stop(2);
    const [r] = await peer3.submit(makeEntries(c.clients, 1, 'next-after'));
    if (r === undefined || !('status' in r)) throw new Error(`not accepted: ${JSON.stringify(r)}`);
    let note: string | undefined;
    await waitFor(
      c,
      'the entry final without organization 2',
      async () => {
        const e = await peer3.getEntry(r.leafHash);
        if (e.status === 'final') note = e.checkpoint;
        return note !== undefined;
      },
      () => clusterProgress(c),
      { maxMs: 40_000 },
    );
    const origin = c.genesis.origin;
    // Organization 3's line verifies under the new key, none under the old one.
    expect(verifyCheckpointQuorum(note!, { origin, keys: [newKey()], quorum: 1 }, nodeVerifier)).toMatchObject({ ok: true });
    expect(verifyCheckpointQuorum(note!, { origin, keys: [verifierKey(o3().name, o3().publicKey)], quorum: 1 }, nodeVerifier)).toMatchObject({ ok: false });
    const newSet = c.genesis.validators.map((v, i) => (i === 3 ? newKey() : v.key));
    expect(verifyCheckpointQuorum(note!, { origin, keys: newSet, quorum: 3 }, nodeVerifier)).toMatchObject({ ok: true });
    expect(c.peers[3]).toBe(peer3);
  }, 60_000);
});

// Key rotation under load, with real peer PROCESSES (4 organizations, `node/peer/main.ts` each,
// HTTP API on 127.0.0.1) and the real CLI. While a bounded load of signed entries flows into three
// peers, organization 3 rotates its signing key and its libp2p identity with
// `cairn gov rotate-key` (signed by the old and the new key), effective at a stated height. Its
// operator restarts the peer with the new keys after that height. Then:
//   - no entry lost: every entry a peer accepted (202) is final, on the rotated peer too;
//   - organization 3 signs with its new key: with organization 2 stopped, entries still become
//     final (quorum 3 of 4 needs 0, 1 and 3);
//   - `cairn trust update` follows the rotation from the genesis trust file, and
//     `cairn verify checkpoint` accepts a checkpoint from before the rotation and one from after.
// ~60 s on 2 loaded cores: four peer processes start under tsx, one restarts.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSignerKey, formatVerifierKey } from '../../src/checkpoint/keys.js';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { formatP2PKey, p2pKeyFromSeed } from '../../node/peer/config.js';
import type { PeerStatus } from '../../node/peer/peer.js';
import { seedOf } from '../peer-support/fixtures.js';
import { getJson, postEntries } from './support/peer-procs.js';
import { cairn, closeGovNet, describeNet, startGovNet, startProc, stopProc, signedEntries, waitStatus, waitUp, type GovNet } from './support/governance-net.js';

let net: GovNet;
const ALL = [0, 1, 2, 3];
/** Load: at most this many entries, in batches of LOAD_BATCH every LOAD_EVERY_MS ... */
const LOAD_MAX = 3_000;
/** ... and for at most this long (it is stopped once the rotated peer is back). */
const LOAD_MS_MAX = 80_000;
const LOAD_BATCH = 10;
const LOAD_EVERY_MS = 100;

beforeAll(async () => {
  net = await startGovNet(4, 'govrot');
  await waitUp(net, ALL);
}, 90_000);

afterAll(async () => {
  await closeGovNet(net);
}, 60_000);

const batch = (n: number) => signedEntries(net, n, 'rot');

/** A bounded load into peers 0..2 in turn; collects the leaf hash of every accepted entry. */
function startLoad(): { stop: () => Promise<void>; accepted: string[]; refused: number } {
  const state = { accepted: [] as string[], refused: 0, stopped: false };
  const run = (async () => {
    let k = 0;
    let sent = 0;
    const end = Date.now() + LOAD_MS_MAX;
    while (!state.stopped && sent < LOAD_MAX && Date.now() < end) {
      sent += LOAD_BATCH;
      const r = await postEntries(net.urls[k++ % 3]!, batch(LOAD_BATCH), 10_000).catch(() => null);
      const results = (r?.body?.results ?? []) as { status?: string; leafHash?: string }[];
      for (const x of results) {
        if (x.status === 'accepted' && x.leafHash) state.accepted.push(x.leafHash);
        else state.refused++;
      }
      await new Promise((res) => setTimeout(res, LOAD_EVERY_MS));
    }
  })();
  return {
    accepted: state.accepted,
    get refused() {
      return state.refused;
    },
    stop: async () => {
      state.stopped = true;
      await run;
    },
  };
}

describe('organization key rotation under load (processes)', () => {
  const o3 = () => net.orgs[3]!;
  const newSeed = seedOf('govrot3/rotated');
  let load: ReturnType<typeof startLoad> | null = null;

  it('rotates signing key and libp2p identity under load; the operator restarts the peer with the new keys', async () => {
    const newP2p = await p2pKeyFromSeed(seedOf('govrot3/p2p-rotated'));
    await writeFile(join(net.work, 'org3-new.key'), formatSignerKey(o3().name, newSeed) + '\n');
    await writeFile(join(net.dirs[3]!, 'new.key'), formatSignerKey(o3().name, newSeed) + '\n', { mode: 0o600 });
    await writeFile(join(net.dirs[3]!, 'new-p2p.key'), formatP2PKey(seedOf('govrot3/p2p-rotated')), { mode: 0o600 });

    load = startLoad();
    await waitStatus(net, [0], 'a first final checkpoint', (s) => s.finalSize >= 20);
    await cairn(net, ['verify', 'checkpoint', '--peer', net.urls[0]!, '--trust', 'trust.json', '--out', 'before.cp']);

    const [s0] = await waitStatus(net, [0], 'status', () => true);
    const eff = s0!.height + 20;
    const out = await cairn(net, ['gov', 'rotate-key', '--old-key', `${o3().name}.key`, '--new-key', 'org3-new.key', '--new-p2p', newP2p.peerId, '--effective-height', String(eff), '--peer', net.urls[1]!, '--client-key', 'client.key']);
    expect(out).toContain(`${o3().name}'s new key signs from height ${eff}`);
    await waitStatus(net, [0, 1, 2], `heads past the effective height ${eff}`, (s) => s.height >= eff, 60_000);

    // The old libp2p identity is refused from the effective height: organization 3's old peer is cut off.
    await waitStatus(net, [0, 1, 2], 'the old identity disconnected', (s) => !s.peers.some((p) => p.peerId === o3().peerId), 20_000);
    expect(await stopProc(net, 3)).toBe(0);
    const cfg = JSON.parse(await readFile(net.configs[3]!, 'utf8')) as Record<string, unknown>;
    await writeFile(net.configs[3]!, JSON.stringify({ ...cfg, signingKey: 'new.key', p2pKey: 'new-p2p.key' }, null, 2));
    startProc(net, 3);
    await waitStatus(net, [3], 'the rotated peer connected and a validator', (s) => s.peers.filter((p) => p.connected).length === 3 && s.validator?.name === o3().name, 60_000);
    await load.stop();
    expect(load.accepted.length).toBeGreaterThan(100);
  }, 85_000);

  it('no entry lost: every accepted entry is final, and the rotated peer holds the same log', async () => {
    const accepted = load!.accepted;
    // Everything accepted is in blocks and final on peer 0 and on the rotated peer, with one log.
    const settled = (s: PeerStatus) => s.mempool.entries === 0 && s.finalSize === s.treeSize;
    let both: PeerStatus[] = [];
    await waitStatus(net, [0, 3], 'peers 0 and 3 settled on one log', (s) => settled(s), 60_000);
    const deadline = Date.now() + 20_000;
    for (;;) {
      both = await waitStatus(net, [0, 3], 'peers 0 and 3 settled', settled, 20_000);
      if (both[0]!.treeSize === both[1]!.treeSize || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(both[1]!.treeSize).toBe(both[0]!.treeSize);
    expect(both[1]!.root).toBe(both[0]!.root);
    for (let i = 0; i < accepted.length; i += 50) {
      const got = await Promise.all(accepted.slice(i, i + 50).map((h) => getJson<{ status: string }>(net.urls[0]!, `/v1/entries/${h}`)));
      for (const [k, g] of got.entries()) if (g.status !== 'final') throw new Error(`entry ${accepted[i + k]} is ${g.status} on peer 0\n${describeNet(net)}`);
    }
    const sample = await getJson<{ status: string }>(net.urls[3]!, `/v1/entries/${accepted[accepted.length - 1]}`);
    expect(sample.status).toBe('final');
  }, 85_000);

  it('organization 3 signs with its new key; trust update follows the rotation; checkpoints before and after verify', async () => {
    // Without organization 2, organizations 0, 1 and 3 are the quorum (3 of 4).
    expect(await stopProc(net, 2)).toBe(0);
    const r = await postEntries(net.urls[0]!, batch(5));
    expect(r.status).toBe(202);
    const last = (r.body!.results as { leafHash: string }[])[4]!.leafHash;
    const fin = await getJson<{ status: string }>(net.urls[3]!, `/v1/entries/${last}?wait=final&timeout=40000ms`, 45_000);
    expect(fin.status).toBe('final');

    const upd = await cairn(net, ['trust', 'update', '--peer', net.urls[0]!, '--trust', 'trust.json']);
    expect(upd).toContain('followed 1 membership change(s)');
    const exported = (await cairn(net, ['trust', 'export', '--trust', 'trust.json'])).trim().split('\n');
    expect(exported).toContain(formatVerifierKey(o3().name, publicKeyFromSeed(newSeed)));
    expect(exported).not.toContain(o3().verifierKey);
    await cairn(net, ['verify', 'checkpoint', '--peer', net.urls[3]!, '--trust', 'trust.json', '--out', 'after.cp']);
    expect(await cairn(net, ['verify', 'checkpoint', 'after.cp', '--trust', 'trust.json'])).toContain('checkpoint OK');
    expect(await cairn(net, ['verify', 'checkpoint', 'before.cp', '--trust', 'trust.json'])).toContain('checkpoint OK');
  }, 85_000);
});

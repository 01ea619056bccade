// Membership changes with real peer PROCESSES (`node/peer/main.ts` each, HTTP API on 127.0.0.1),
// decided with the real CLI (`cairn gov propose`, `vote`, `list`, `submit`):
//   - a fifth organization's peer, started with the network's genesis and its own keys, is
//     refused until its org.add is final; then it connects, catches up and votes: the quorum
//     becomes 4 of 5 (with one genesis peer stopped, the entries still become final only because
//     the new one signs), and checkpoints after carry the new set (`cairn trust update`);
//   - an organization is removed: from its effective height its peer is disconnected by every
//     other peer and refused, its signature no longer counts (the trust chain refuses a
//     checkpoint it co-signs with a minority), and the rest keeps finalizing.
// ~80 s in all on 2 loaded cores: five peer processes start under tsx.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { formatNote, signText } from '../../src/checkpoint/note.js';
import { makeOrgs, type OrgFixture } from '../peer-support/fixtures.js';
import { getJson, postEntries, writeHttpPeerFiles } from './support/peer-procs.js';
import { cairn, cairnRaw, closeGovNet, startGovNet, startProc, stopProc, signedEntries, waitStatus, waitUp, type GovNet } from './support/governance-net.js';

let net: GovNet;
let fifth: OrgFixture;
const GENESIS = [0, 1, 2, 3];

beforeAll(async () => {
  net = await startGovNet(4, 'govmb');
  fifth = (await makeOrgs(1, 'govmbnew'))[0]!;
  // The fifth organization's operator: same genesis, its own keys, no HTTP port shared.
  const dir = join(net.root, 'peer4');
  const { config, url } = await writeHttpPeerFiles(dir, net.genesis, fifth!);
  net.orgs.push(fifth!);
  net.dirs.push(dir);
  net.configs.push(config);
  net.urls.push(url);
  net.procs.push(null);
  net.last.push(null);
  await writeFile(join(net.work, `${fifth!.name}.key`), fifth!.signerKeyText + '\n');
  await waitUp(net, GENESIS);
}, 90_000);

afterAll(async () => {
  await closeGovNet(net);
}, 60_000);

const entries = (n: number) => signedEntries(net, n, 'mb');

/** Submits small batches to `peer` (at most 40) until every peer of `idx` is past `height`. */
async function advance(peer: number, idx: number[], height: number): Promise<void> {
  for (let k = 0; k < 40; k++) {
    const st = await waitStatus(net, idx, 'status', () => true);
    if (st.every((s) => s.height >= height)) return;
    await postEntries(net.urls[peer]!, entries(3));
    await new Promise((r) => setTimeout(r, 300));
  }
  await waitStatus(net, idx, `heads at ${height}`, (s) => s.height >= height, 20_000);
}

async function finalOn(peer: number, leafHash: string, what: string): Promise<void> {
  const fin = await getJson<{ status: string }>(net.urls[peer]!, `/v1/entries/${leafHash}?wait=final&timeout=40000ms`, 45_000);
  if (fin.status !== 'final') throw new Error(`${what}: entry is ${fin.status}`);
}

describe('adding and removing an organization (processes)', () => {
  it('a fifth organization: refused before its addition, then admitted, caught up, a member; quorum 4 of 5', async () => {
    startProc(net, 4);
    await waitStatus(net, [4], 'the fifth peer running, refused by everyone', (s) => s.peers.every((p) => !p.connected) && s.validator === null, 60_000);
    await postEntries(net.urls[0]!, entries(10));

    await cairn(net, ['gov', 'propose', 'org.add', '--name', fifth.name, '--verifier-key', fifth.verifierKey, '--peer-id', fifth.peerId, '--peer', net.urls[0]!, '--out', 'add.json']);
    for (const k of [0, 1, 2]) await cairn(net, ['gov', 'vote', '--proposal', 'add.json', '--key', `${net.orgs[k]!.name}.key`, '--append']);
    await cairn(net, ['gov', 'vote', '--proposal', 'add.json', '--key', `${fifth.name}.key`, '--append']);
    const list = await cairn(net, ['gov', 'list', '--peer', net.urls[1]!, '--genesis', 'genesis.json', '--proposal', 'add.json']);
    expect(list).toContain('valid ballots (3 of 3 needed)');
    expect(list).toContain('consent of the added organization: attached');
    expect(list).toContain('would be accepted');
    const sub = await cairn(net, ['gov', 'submit', '--proposal', 'add.json', '--peer', net.urls[0]!, '--client-key', 'client.key']);
    const eff = Number(/\(in block \d+; from height (\d+)\)/.exec(sub)?.[1]);
    expect(eff, sub).toBeGreaterThan(0);

    // Admitted from the deciding block: it connects and catches up before its effective height.
    await waitStatus(net, [4], 'the fifth peer connected to the four', (s) => s.peers.filter((p) => p.connected).length === 4, 40_000);
    await advance(0, [0, 1, 2, 3, 4], eff + 1);
    const all = await waitStatus(net, [0, 1, 2, 3, 4], 'everyone on the five-organization set', (s) => s.quorum.needed === 4 && s.peers.filter((p) => p.role === 'member').length === 4);
    expect(all[4]!.validator).toEqual({ index: 4, name: fifth.name });
    expect(new Set(all.map((s) => s.governance!.govStateHash)).size).toBe(1);

  }, 85_000);

  it('the fifth votes and signs: with a genesis organization stopped, 4 of 5 still finalize; checkpoints after carry the new set', async () => {
    // Quorum 4 of 5: with organization 3 stopped, entries become final only if the fifth votes and signs.
    expect(await stopProc(net, 3)).toBe(0);
    const r = await postEntries(net.urls[4]!, entries(3));
    expect(r.status).toBe(202);
    await finalOn(4, (r.body!.results as { leafHash: string }[])[2]!.leafHash, 'an entry final on 4 of 5');
    startProc(net, 3);
    await waitStatus(net, [3], 'organization 3 back', (s) => s.peers.filter((p) => p.connected && p.role === 'member').length === 4, 60_000);

    // Checkpoints after the addition carry the new set: the auditor follows it.
    const upd = await cairn(net, ['trust', 'update', '--peer', net.urls[4]!, '--trust', 'trust.json']);
    expect(upd).toContain('followed 1 membership change(s)');
    expect(upd).toMatch(/set 1: .*govmbnew0 \(quorum 4\)/);
    await cairn(net, ['verify', 'checkpoint', '--peer', net.urls[4]!, '--trust', 'trust.json', '--out', 'after-add.cp']);
    expect(await cairn(net, ['verify', 'checkpoint', 'after-add.cp', '--trust', 'trust.json'])).toContain('(quorum 4)');
  }, 85_000);

  it('an organization removed: disconnected and refused from its effective height, its signature no longer counts', async () => {
    const gone = net.orgs[3]!;
    await cairn(net, ['gov', 'propose', 'org.remove', '--name', gone.name, '--peer', net.urls[0]!, '--out', 'remove.json']);
    for (const k of [0, 1, 2, 4]) await cairn(net, ['gov', 'vote', '--proposal', 'remove.json', '--key', `${net.orgs[k]!.name}.key`, '--append']);
    const sub = await cairn(net, ['gov', 'submit', '--proposal', 'remove.json', '--peer', net.urls[1]!, '--client-key', 'client.key']);
    const eff = Number(/\(in block \d+; from height (\d+)\)/.exec(sub)?.[1]);
    expect(eff, sub).toBeGreaterThan(0);
    const stay = [0, 1, 2, 4];
    await advance(0, stay, eff + 1);
    await waitStatus(net, stay, 'nobody lists the removed organization', (s) => !s.peers.some((p) => p.peerId === gone.peerId) && s.quorum.needed === 3);
    await waitStatus(net, [3], 'the removed peer has no connection', (s) => s.peers.every((p) => !p.connected), 30_000);
    // It keeps redialing and is refused, named as removed.
    await waitStatus(net, stay, 'status', () => true);
    const refused = await Promise.all(stay.map(async (i) => (await getJson<{ net: { gaterDeniedRemoved: number } }>(net.urls[i]!, '/v1/status')).net.gaterDeniedRemoved));
    expect(refused.some((n) => n > 0), JSON.stringify(refused)).toBe(true);
    expect(net.procs[0]!.warnings.has('warn: peer removed from the validator set: connections closed, refused from now on')).toBe(true);

    // The rest keeps finalizing; the auditor follows the removal.
    const r = await postEntries(net.urls[2]!, entries(3));
    await finalOn(2, (r.body!.results as { leafHash: string }[])[2]!.leafHash, 'an entry final after the removal');
    const upd = await cairn(net, ['trust', 'update', '--peer', net.urls[0]!, '--trust', 'trust.json']);
    expect(upd).toContain('followed 1 membership change(s)');
    const after = await cairn(net, ['verify', 'checkpoint', '--peer', net.urls[0]!, '--trust', 'trust.json', '--out', 'after-remove.cp']);
    expect(after).toContain('checkpoint OK');
    // A checkpoint the removed organization co-signs with two members is not one of the set in force.
    const note = await readFile(join(net.work, 'after-remove.cp'), 'utf8');
    const size = Number(note.split('\n')[1]) + 5;
    const text = formatCheckpoint({ origin: net.genesis.origin, size, root: new Uint8Array(32).fill(9) });
    const sigs = [net.orgs[0]!, net.orgs[1]!, gone].map((o) => signText(text, { name: o.name, signer: o.signer }));
    await writeFile(join(net.work, 'rogue.cp'), formatNote({ text, signatures: sigs }));
    const rogue = await cairnRaw(net, ['verify', 'checkpoint', 'rogue.cp', '--trust', 'trust.json']);
    expect(rogue.code).toBe(1);
    expect(rogue.stderr).toContain('[checkpoint_quorum_not_met]');
    expect(await stopProc(net, 3)).toBe(0);
  }, 85_000);
});

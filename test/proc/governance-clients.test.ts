// Governance acceptance with real peer PROCESSES (4 organizations, `node/peer/main.ts` each, HTTP
// API on 127.0.0.1), driven by the real CLI: `cairn gov grant-client` authorizes a new client key
// live, which then submits (`cairn submit --wait`) through another organization's peer;
// `cairn gov revoke-client` revokes it: every peer refuses its new entries with `client_revoked`
// (HTTP 403), also a peer process restarted after the revocation (it replays the records from its
// store), while its entry logged before stays final and its receipt verifies offline against the
// genesis trust file.
// ~30-45 s on 2 loaded cores: four peer processes start under tsx.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEntry } from '../../src/entry/index.js';
import { toHex } from '../../src/encoding/bytes.js';
import { makeClients } from '../peer-support/fixtures.js';
import { postEntries } from './support/peer-procs.js';
import { cairn, cairnRaw, closeGovNet, startGovNet, startProc, stopProc, waitStatus, waitUp, type GovNet } from './support/governance-net.js';

let net: GovNet;
const ALL = [0, 1, 2, 3];
const app = makeClients(1, 'govproc-app')[0]!;

beforeAll(async () => {
  net = await startGovNet(4, 'govcl');
  await writeFile(join(net.work, 'app.key'), toHex(app.seed) + '\n');
  await waitUp(net, ALL);
}, 90_000);

afterAll(async () => {
  await closeGovNet(net);
}, 60_000);

function appEntry(tag: string) {
  return signEntry(
    { v: 1, id: `app-${tag}-${Date.now()}`, time: new Date().toISOString(), actor: { id: 'app@example.com', type: 'service' }, action: 'db.query', resource: { type: 'db.table', id: tag }, outcome: 'success' },
    app.signer,
  );
}
const submitArgs = (peer: number, tag: string) => ['submit', '--peer', net.urls[peer]!, '--key', 'app.key', '--action', 'db.query', '--actor', 'app@example.com', '--resource-type', 'db.table', '--resource-id', tag, '--wait', '--timeout', '30s'];

describe('client keys granted and revoked live, across peer processes', () => {
  let leaf = '';

  it('an ungranted key is refused; granted with cairn gov grant-client, it submits through another peer', async () => {
    const before = await postEntries(net.urls[2]!, appEntry('before'));
    expect(before.status).toBe(401);
    expect(before.body).toMatchObject({ error: { code: 'unknown_client' } });

    const out = await cairn(net, ['gov', 'grant-client', '--key', `${net.orgs[1]!.name}.key`, '--client-pub', app.publicKeyHex, '--name', 'live-app', '--peer', net.urls[0]!, '--client-key', 'client.key']);
    expect(out).toMatch(/^record [0-9a-f]{64} \(client\.grant\)$/m);
    const eff = /effect: client live-app \([0-9a-f]{16}\.\.\.\) vouched by govcl1 may submit from height (\d+) \(in block (\d+); from height \1\)/.exec(out);
    expect(eff, out).not.toBeNull();
    // Every peer applies the record (the grant is in force from the next block on all of them).
    await waitStatus(net, ALL, 'the grant applied on every peer', (s) => (s.governance?.records ?? 0) >= 1 && s.height >= Number(eff![1]) - 1);

    const sub = await cairn(net, submitArgs(2, 'granted'));
    const m = /^([0-9a-f]{64}) final (\d+) /m.exec(sub);
    expect(m, sub).not.toBeNull();
    leaf = m![1]!;
    const hashes = await waitStatus(net, ALL, 'the same governance state everywhere', (s) => s.finalSize > Number(m![2]));
    expect(new Set(hashes.map((s) => s.governance!.govStateHash)).size).toBe(1);
  }, 90_000);

  it('revoked with cairn gov revoke-client: every peer refuses its new entries with client_revoked; the old entry still verifies', async () => {
    const out = await cairn(net, ['gov', 'revoke-client', '--key', `${net.orgs[1]!.name}.key`, '--client-pub', app.publicKeyHex, '--reason', 'key leaked', '--peer', net.urls[3]!, '--client-key', 'client.key']);
    expect(out).toMatch(/^effect: .*\(in block \d+; from height \d+\)$/m);
    await waitStatus(net, ALL, 'the revocation applied on every peer', (s) => (s.governance?.records ?? 0) >= 2);
    for (const i of ALL) {
      const r = await postEntries(net.urls[i]!, appEntry(`revoked${i}`));
      expect(r.status, `peer ${i}`).toBe(403);
      expect(r.body, `peer ${i}`).toMatchObject({ error: { code: 'client_revoked' } });
    }
    // The CLI says so in one line, exit 1.
    const cliRefused = await cairnRaw(net, submitArgs(1, 'revoked-cli'));
    expect(cliRefused.code).toBe(1);
    expect(cliRefused.stderr).toMatch(/^cairn: .*client_revoked.*\n$/);

    // Its entry from before the revocation is still final, and its receipt verifies offline.
    await cairn(net, ['receipt', leaf, '--peer', net.urls[3]!, '--out', 'old.tlog-proof', '--entry-out', 'old.json']);
    expect(await cairn(net, ['verify', 'receipt', 'old.tlog-proof', '--entry', 'old.json', '--trust', 'trust.json'])).toContain('receipt OK');
  }, 90_000);

  it('a peer process restarted after the revocation replays it from its store and still refuses the key', async () => {
    expect(await stopProc(net, 2)).toBe(0);
    startProc(net, 2);
    const [s] = await waitStatus(net, [2], 'peer 2 back with its governance records', (x) => (x.governance?.records ?? 0) >= 2 && x.peers.filter((p) => p.connected).length === 3, 60_000);
    const others = await waitStatus(net, [0], 'peer 0 status', () => true);
    expect(s!.governance!.govStateHash).toBe(others[0]!.governance!.govStateHash);
    const r = await postEntries(net.urls[2]!, appEntry('after-restart'));
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: { code: 'client_revoked' } });
    // Genesis clients are unaffected.
    const ok = await cairn(net, ['submit', '--peer', net.urls[2]!, '--key', 'client.key', '--action', 'db.query', '--actor', 'ops', '--resource-type', 'db.table', '--resource-id', 'after', '--wait', '--timeout', '30s']);
    expect(ok).toMatch(/^[0-9a-f]{64} final \d+ /m);
  }, 90_000);
});

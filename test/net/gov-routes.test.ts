// Governance through a real cluster (3 of 4 genesis organizations running, real libp2p and LevelDB
// on 127.0.0.1) and the real HTTP API: three membership changes (a key rotation, a removal, an
// addition) built, voted and submitted with `cairn gov`, served by GET /v1/governance/steps, followed
// by `cairn trust update` from the genesis trust file; `cairn verify checkpoint` then accepts a
// checkpoint made after the three changes and one made before them, and rejects checkpoints signed
// by a set that was never approved. The chain of trust is checked by the verifier itself.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type CliIo } from '../../node/cli/run.js';
import { startHttpServer, type HttpServer } from '../../node/http/server.js';
import { formatGenesis } from '../../node/peer/genesis.js';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { formatSignerKey, formatVerifierKey } from '../../src/checkpoint/keys.js';
import { formatNote, signText } from '../../src/checkpoint/note.js';
import { nodeSigner } from '../../src/crypto/node.js';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { toHex } from '../../src/encoding/bytes.js';
import { formatTrustFile, parseTrustChainFile } from '../../src/verifier/index.js';
import { makeCluster, waitConnected, type Cluster } from '../peer-support/cluster.js';
import { makeOrgs, seedOf, type OrgFixture } from '../peer-support/fixtures.js';
import { entryOf, submitFinal, trustOf } from './search-support.js';

let c: Cluster;
let http: HttpServer;
let dir: string;
let extra: OrgFixture[];
let filler = 0;

function io(): CliIo & { out: string; err: string } {
  const o = {
    out: '',
    err: '',
    cwd: dir,
    env: {},
    stdout(t: string) {
      o.out += t;
    },
    stderr(t: string) {
      o.err += t;
    },
  };
  return o;
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const i = io();
  const code = await run(args, i);
  return { code, out: i.out, err: i.err };
}

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  if (r.code !== 0) throw new Error(`cairn ${args.join(' ')} -> exit ${r.code}\n${r.err}\n${r.out}`);
  return r.out;
}

/** One ordinary entry in its own block, final before returning: moves the log one height on. */
async function fill(): Promise<void> {
  await submitFinal(http.url, [entryOf(c.clients[1]!, { actor: 'filler', action: 'db.query', type: 'table', id: `t${filler++}` })]);
}

async function height(): Promise<number> {
  const r = await fetch(`${http.url}/healthz`);
  return ((await r.json()) as { height: number }).height;
}

async function saveCheckpoint(file: string): Promise<string> {
  const note = await (await fetch(`${http.url}/checkpoint`)).text();
  await writeFile(join(dir, file), note);
  return note;
}

// The changes are chosen so that the three running genesis organizations still form a quorum of
// every set, so the peers keep finalizing while the auditor side (steps route, trust update,
// verify) follows them.
beforeAll(async () => {
  c = await makeCluster(4, { label: 'gov' });
  await Promise.all([c.start(0), c.start(1), c.start(2)]);
  await waitConnected(c, [0, 1, 2], 2);
  http = await startHttpServer(c.peers[0]!, { host: '127.0.0.1', port: 0 });
  dir = await mkdtemp(join(tmpdir(), 'cairn-gov-net-'));
  extra = await makeOrgs(2, 'newgov');
  await writeFile(join(dir, 'genesis.json'), formatGenesis(c.genesis));
  await writeFile(join(dir, 'trust.json'), formatTrustFile(trustOf(c.genesis)));
  await writeFile(join(dir, 'trust-genesis.json'), formatTrustFile(trustOf(c.genesis)));
  for (const o of c.orgs) await writeFile(join(dir, `${o.name}.key`), o.signerKeyText + '\n');
  await writeFile(join(dir, 'gov3-new.key'), formatSignerKey('gov3', seedOf('gov3/rotated')) + '\n');
  await writeFile(join(dir, 'newgov0.key'), extra[0]!.signerKeyText + '\n');
  await writeFile(join(dir, 'client.key'), toHex(c.clients[0]!.seed) + '\n');
  await fill();
}, 120_000);

afterAll(async () => {
  await http?.close();
  await c?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('chain of trust through a real peer', () => {
  it('three membership changes via cairn gov, followed by cairn trust update, verified by cairn verify', async () => {
    await saveCheckpoint('before.cp');

    // 1. gov3 (not running) rotates its key, effective two heights after the carrying block.
    const h = await height();
    const rot = await ok(['gov', 'rotate-key', '--old-key', 'gov3.key', '--new-key', 'gov3-new.key', '--new-p2p', extra[1]!.peerId, '--effective-height', String(h + 3), '--epoch', '1', '--peer', http.url, '--client-key', 'client.key']);
    expect(rot).toContain(`gov3's new key signs from height ${h + 3}`);
    expect(rot).toMatch(/effect: .*\(in block \d+; from height \d+\)/);
    // Until the height before it takes effect is final, the change is pending: no step yet.
    const early = (await (await fetch(`${http.url}/v1/governance/steps?from=1`)).json()) as { steps: unknown[]; pending: { epoch: number; type: string; effectiveHeight: number }[] };
    expect(early.steps).toEqual([]);
    expect(early.pending).toMatchObject([{ epoch: 1, type: 'org.key.rotate', effectiveHeight: h + 3 }]);
    const waiting = await ok(['trust', 'update', '--peer', http.url, '--trust', 'trust.json', '--out', 'trust-early.json']);
    expect(waiting).toContain('up to date: set 0');
    expect(waiting).toContain(`pending: set 1 (org.key.rotate) takes effect at height ${h + 3}`);
    await fill();

    // 2. gov3 is removed: proposal, three ballots, submission (the set number is read from the peer).
    await ok(['gov', 'propose', 'org.remove', '--name', 'gov3', '--peer', http.url, '--out', 'remove.json']);
    expect(JSON.parse(await readFile(join(dir, 'remove.json'), 'utf8')).body.epoch).toBe(2);
    for (const k of ['gov0', 'gov1', 'gov2']) await ok(['gov', 'vote', '--proposal', 'remove.json', '--key', `${k}.key`, '--append']);
    const list = await ok(['gov', 'list', '--peer', http.url, '--genesis', 'genesis.json', '--proposal', 'remove.json']);
    expect(list).toContain('organization set 1: gov0, gov1, gov2, gov3 (quorum 3)');
    expect(list).toContain('valid ballots (3 of 3 needed): gov0, gov1, gov2');
    expect(list).toContain('missing: gov3');
    expect(list).toContain('would be accepted');
    const remove = await ok(['gov', 'submit', '--proposal', 'remove.json', '--peer', http.url, '--client-key', 'client.key']);
    expect(remove).toMatch(/effect: /);
    await fill();

    // 3. newgov0 is added by the three remaining organizations, with its consent.
    await ok(['gov', 'propose', 'org.add', '--name', 'newgov0', '--verifier-key', extra[0]!.verifierKey, '--peer-id', extra[0]!.peerId, '--epoch', '3', '--peer', http.url, '--out', 'add.json']);
    for (const k of ['gov0', 'gov1', 'gov2', 'newgov0']) await ok(['gov', 'vote', '--proposal', 'add.json', '--key', `${k}.key`, '--append']);
    await ok(['gov', 'submit', '--proposal', 'add.json', '--peer', http.url, '--client-key', 'client.key']);
    await fill();

    // The peer serves the three steps, each with its handover checkpoint.
    const steps = (await (await fetch(`${http.url}/v1/governance/steps?from=1`)).json()) as { steps: { epoch: number; type: string }[]; pending: unknown[] };
    expect(steps.steps.map((s) => [s.epoch, s.type])).toEqual([
      [1, 'org.key.rotate'],
      [2, 'org.remove'],
      [3, 'org.add'],
    ]);
    expect(steps.pending).toEqual([]);
    expect((await fetch(`${http.url}/v1/governance/steps?from=0`)).status).toBe(400);
    expect((await fetch(`${http.url}/v1/governance/steps`, { method: 'POST' })).status).toBe(405);

    // The auditor follows them from the genesis trust file.
    const upd = await ok(['trust', 'update', '--peer', http.url, '--trust', 'trust.json']);
    expect(upd).toContain('followed 3 membership change(s)');
    expect(upd).toContain('set 3: gov0, gov1, gov2, newgov0 (quorum 3)');
    const chain = parseTrustChainFile(await readFile(join(dir, 'trust.json')));
    if (!chain.ok) throw new Error(chain.message);
    expect(chain.chain.epochs).toHaveLength(4);
    expect(JSON.parse(await readFile(join(dir, 'trust.json'), 'utf8')).version).toBe(2);
    expect(await ok(['trust', 'update', '--peer', http.url, '--trust', 'trust.json'])).toContain('up to date: set 3');

    // trust export: the current set as note verifier keys.
    const exported = (await ok(['trust', 'export', '--trust', 'trust.json'])).trim().split('\n');
    expect(exported).toEqual([c.orgs[0]!.verifierKey, c.orgs[1]!.verifierKey, c.orgs[2]!.verifierKey, extra[0]!.verifierKey]);

    // A checkpoint after the three changes verifies, and so does the one from before them.
    await fill();
    const after = await saveCheckpoint('after.cp');
    const v = await ok(['verify', 'checkpoint', 'after.cp', '--trust', 'trust.json']);
    expect(v).toContain('checkpoint OK');
    expect(v).toContain('(quorum 3)');
    expect(await ok(['verify', 'checkpoint', 'before.cp', '--trust', 'trust.json'])).toContain('checkpoint OK');
    expect(await ok(['verify', 'checkpoint', '--peer', http.url, '--trust', 'trust.json'])).toContain('checkpoint OK');

    // Signed by a set that was never approved: fresh keys under the members' names, and the
    // removed organization's old key with two members (2 valid of quorum 3).
    const size = Number(after.split('\n')[1]) + 7;
    const text = formatCheckpoint({ origin: c.genesis.origin, size, root: new Uint8Array(32).fill(7) });
    const rogue = ['gov0', 'gov1', 'gov2'].map((n) => signText(text, { name: n, signer: nodeSigner(seedOf(`${n}/rogue`)) }));
    await writeFile(join(dir, 'rogue.cp'), formatNote({ text, signatures: rogue }));
    const r1 = await cli(['verify', 'checkpoint', 'rogue.cp', '--trust', 'trust.json']);
    expect(r1.code).toBe(1);
    expect(r1.err).toMatch(/^cairn: checkpoint rogue.cp rejected: .*\[checkpoint_quorum_not_met\]\n$/);
    const mixed = [c.orgs[0]!, c.orgs[1]!, c.orgs[3]!].map((o) => signText(text, { name: o.name, signer: o.signer }));
    await writeFile(join(dir, 'mixed.cp'), formatNote({ text, signatures: mixed }));
    const r2 = await cli(['verify', 'checkpoint', 'mixed.cp', '--trust', 'trust.json']);
    expect(r2.code).toBe(1);
    expect(r2.err).toContain('[checkpoint_quorum_not_met]');
    // The genesis file alone still accepts the old set's signatures there: only the chain refuses them.
    expect((await cli(['verify', 'checkpoint', 'mixed.cp', '--trust', 'trust-genesis.json'])).code).toBe(0);
    // A set with the rotated-away key is not the set in force either.
    expect(formatVerifierKey('gov3', publicKeyFromSeed(seedOf('gov3/rotated')))).not.toBe(c.orgs[3]!.verifierKey);

    // Receipts across the changes: an entry logged after them, verified online with the version 2 file.
    const e = entryOf(c.clients[1]!, { actor: 'after', action: 'db.query', type: 'table', id: 'late' });
    await submitFinal(http.url, [e]);
    const byId = (await (await fetch(`${http.url}/v1/entries/by-id/${e.client}/${e.id}`)).json()) as { leafHash: string };
    const rc = await ok(['verify', 'receipt', byId.leafHash, '--peer', http.url, '--trust', 'trust.json']);
    expect(rc).toContain('receipt OK');
  }, 240_000);

  it('grant-client live prints the peer\'s effect; a record past its deadline is refused with its code (exit 1)', async () => {
    const pub = toHex(publicKeyFromSeed(seedOf('live-client')));
    const g = await cli(['gov', 'grant-client', '--key', 'gov1.key', '--client-pub', pub, '--name', 'live-app', '--peer', http.url, '--client-key', 'client.key']);
    expect(g.err).toBe('');
    expect(g.code).toBe(0);
    expect(g.out).toMatch(/effect: client live-app \([0-9a-f]{16}\.\.\.\) vouched by gov1 may submit from height (\d+) \(in block \d+; from height \1\)/);
    const page = (await (await fetch(`${http.url}/v1/governance/records?from=0&limit=1000`)).json()) as { records: { type: string; verdict: string; summary?: string }[]; state: { organizations: string[] } };
    expect(page.records.map((r) => [r.type, r.verdict])).toEqual([
      ['org.key.rotate', 'accepted'],
      ['org.remove', 'accepted'],
      ['org.add', 'accepted'],
      ['client.grant', 'accepted'],
    ]);
    expect(page.records[3]!.summary).toContain('live-app');
    expect(page.state.organizations).toEqual(['gov0', 'gov1', 'gov2', 'newgov0']);
    for (const q of ['limit=0', 'limit=1001', 'from=-1', 'what=1']) expect((await fetch(`${http.url}/v1/governance/records?${q}`)).status).toBe(400);
    const late = await cli(['gov', 'grant-client', '--key', 'gov1.key', '--client-pub', toHex(publicKeyFromSeed(seedOf('late-client'))), '--name', 'late-app', '--deadline', '1', '--peer', http.url, '--client-key', 'client.key']);
    expect(late.code).toBe(1);
    // Refused at admission by a peer that checks records, or logged and refused by the rules.
    expect(late.err).toMatch(/gov_deadline_passed/);
    expect(late.err.trim().split('\n')).toHaveLength(1);
  }, 60_000);

  it('trust update refuses steps a peer tampered with, and leaves the trust file unchanged', async () => {
    const real = (await (await fetch(`${http.url}/v1/governance/steps?from=1`)).json()) as { steps: Record<string, unknown>[] };
    expect(real.steps).toHaveLength(3);
    // Step 2 (the removal) is dropped: the addition then skips a set number.
    const tampered = { ...real, steps: [real.steps[0], real.steps[2]] };
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(tampered));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as AddressInfo).port;
      await writeFile(join(dir, 'trust-t.json'), formatTrustFile(trustOf(c.genesis)));
      const before = await readFile(join(dir, 'trust-t.json'), 'utf8');
      const r = await cli(['trust', 'update', '--peer', `http://127.0.0.1:${port}`, '--trust', 'trust-t.json']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^cairn: step 2 from http:\/\/127\.0\.0\.1:\d+ rejected, trust file unchanged: .*\[trust_step_gap\]\n$/);
      expect(await readFile(join(dir, 'trust-t.json'), 'utf8')).toBe(before);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }, 60_000);
});

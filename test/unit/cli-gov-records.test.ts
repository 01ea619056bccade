// `cairn gov ...` offline: the records the CLI writes parse and are accepted by applyGovernance
// (the same function every peer runs); bad flags are one line and exit 2; a ballot for another
// proposal is refused; `trust export` prints note verifier keys.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type CliIo } from '../../node/cli/run.js';
import { formatSignerKey, formatVerifierKey, parseVerifierKey } from '../../src/checkpoint/keys.js';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { toHex } from '../../src/encoding/bytes.js';
import { applyGovernance, clientAuthorizedAt, genesisGovState, govStatement, parseGovRecord, tallyBallots, validatorsAt, type GovState } from '../../src/governance/index.js';
import { formatTrustChainFile, formatTrustFile } from '../../src/verifier/index.js';
import type { Genesis } from '../../node/peer/genesis.js';
import { makeClients, makeGenesis, makeOrgs, seedOf, type OrgFixture } from '../peer-support/fixtures.js';

let dir: string;
let orgs: OrgFixture[];
let genesis: Genesis;

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

async function recordOf(file: string) {
  const r = parseGovRecord(JSON.parse(await readFile(join(dir, file), 'utf8')));
  if (!r.ok) throw new Error(`${file}: ${r.code} ${r.message}`);
  return r.parsed;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-cli-gov-'));
  orgs = await makeOrgs(4, 'gorg');
  genesis = makeGenesis(orgs, makeClients(2));
  for (const o of orgs) await writeFile(join(dir, `${o.name}.key`), o.signerKeyText + '\n');
  // A second key for gorg0 (rotation) and a key for a fifth organization (addition).
  await writeFile(join(dir, 'gorg0-new.key'), formatSignerKey('gorg0', seedOf('gorg0/rotated')) + '\n');
  await writeFile(join(dir, 'gorg4.key'), formatSignerKey('gorg4', seedOf('gorg4/sign')) + '\n');
  const keys = orgs.map((o) => {
    const k = parseVerifierKey(o.verifierKey);
    if (!k.ok) throw new Error(k.message);
    return k.key;
  });
  await writeFile(join(dir, 'trust.json'), formatTrustFile({ origin: genesis.origin, quorum: 3, keys }));
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const PEER_ID = '12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDMp4F9yFSLpTMhTjbG';

describe('cairn gov: records the peers accept', () => {
  it('grant-client then revoke-client: applyGovernance accepts both, the client is authorized in between', async () => {
    const pub = toHex(publicKeyFromSeed(seedOf('new-client')));
    const g = await cli(['gov', 'grant-client', '--key', 'gorg1.key', '--client-pub', pub, '--name', 'billing-app', '--expires', '500', '--deadline', '100', '--out', 'grant.json']);
    expect(g.err).toBe('');
    expect(g.code).toBe(0);
    expect(g.out).toContain('client billing-app');
    expect(g.out).toContain('may submit from height H+1');
    expect(g.out).toContain('until height 500');
    const grant = await recordOf('grant.json');
    let s: GovState = genesisGovState(genesis);
    const a = applyGovernance(s, grant, 5);
    if (!a.ok) throw new Error(a.code);
    s = a.state;
    expect(a.effect.effectiveHeight).toBe(6);
    expect(clientAuthorizedAt(s, pub, 6)).toBe(true);
    expect(clientAuthorizedAt(s, pub, 5)).toBe(false);

    const r = await cli(['gov', 'revoke-client', '--key', 'gorg1.key', '--client-pub', pub, '--reason', 'leaked', '--deadline', '100', '--out', 'revoke.json']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('is refused from height H+1');
    const b = applyGovernance(s, await recordOf('revoke.json'), 8);
    if (!b.ok) throw new Error(b.code);
    expect(clientAuthorizedAt(b.state, pub, 9)).toBe(false);
    expect(clientAuthorizedAt(b.state, pub, 7)).toBe(true);
  });

  it('rotate-key: signed by the old and the new key, the new key is in force from the stated height', async () => {
    const r = await cli(['gov', 'rotate-key', '--old-key', 'gorg0.key', '--new-key', 'gorg0-new.key', '--new-p2p', PEER_ID, '--effective-height', '20', '--epoch', '1', '--deadline', '15', '--out', 'rotate.json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain("gorg0's new key signs from height 20");
    const rec = await recordOf('rotate.json');
    expect(rec.record.sigs).toHaveLength(2);
    const a = applyGovernance(genesisGovState(genesis), rec, 10);
    if (!a.ok) throw new Error(a.code);
    expect(a.effect.effectiveHeight).toBe(20);
    const newPub = toHex(publicKeyFromSeed(seedOf('gorg0/rotated')));
    expect(toHex(validatorsAt(a.state, 20).orgs[0]!.key.publicKey)).toBe(newPub);
    expect(toHex(validatorsAt(a.state, 19).orgs[0]!.key.publicKey)).toBe(toHex(orgs[0]!.publicKey));
  });

  it('propose org.add + votes of a quorum + consent: tallied, then accepted', async () => {
    const vkey = formatVerifierKey('gorg4', publicKeyFromSeed(seedOf('gorg4/sign')));
    const p = await cli(['gov', 'propose', 'org.add', '--name', 'gorg4', '--verifier-key', vkey, '--peer-id', PEER_ID, '--epoch', '1', '--deadline', '50', '--out', 'add.json']);
    expect(p.err).toBe('');
    expect(p.code).toBe(0);
    expect(p.out).toContain('gorg4 joins as organization set 1 from height H+2');
    for (const k of ['gorg0', 'gorg1']) expect((await cli(['gov', 'vote', '--proposal', 'add.json', '--key', `${k}.key`, '--append'])).code).toBe(0);
    // Two ballots of four: the tally says what is missing and the verdict.
    let parsed = await recordOf('add.json');
    const s = genesisGovState(genesis);
    let t = tallyBallots(s, parsed, 3);
    expect(t.approved).toEqual(['gorg0', 'gorg1']);
    expect(t.missing).toEqual(['gorg2', 'gorg3']);
    expect(t.verdict).not.toBeNull();
    // gorg2's ballot arrives as a file (printed by vote without --append) and is attached.
    const v = await cli(['gov', 'vote', '--proposal', 'add.json', '--key', 'gorg2.key']);
    expect(v.code).toBe(0);
    await writeFile(join(dir, 'ballot-gorg2.json'), v.out.split('\n')[0]!);
    expect((await cli(['gov', 'vote', '--proposal', 'add.json', '--ballot', 'ballot-gorg2.json', '--key', 'gorg4.key', '--append'])).code).toBe(0);
    parsed = await recordOf('add.json');
    t = tallyBallots(s, parsed, 3);
    expect(t.approved).toEqual(['gorg0', 'gorg1', 'gorg2']);
    expect(t.consent).toBe(true);
    expect(t.verdict).toBeNull();
    const a = applyGovernance(s, parsed, 3);
    if (!a.ok) throw new Error(a.code);
    expect(a.effect.effectiveHeight).toBe(5);
    expect(validatorsAt(a.state, 5).orgs.map((o) => o.name)).toEqual(['gorg0', 'gorg1', 'gorg2', 'gorg3', 'gorg4']);
  });

  it('propose org.remove and params.set: accepted with a quorum of ballots', async () => {
    expect((await cli(['gov', 'propose', 'org.remove', '--name', 'gorg3', '--epoch', '1', '--deadline', '50', '--out', 'remove.json', '--key', 'gorg0.key'])).code).toBe(0);
    for (const k of ['gorg1', 'gorg2']) expect((await cli(['gov', 'vote', '--proposal', 'remove.json', '--key', `${k}.key`, '--append'])).code).toBe(0);
    const rm = applyGovernance(genesisGovState(genesis), await recordOf('remove.json'), 4);
    if (!rm.ok) throw new Error(rm.code);
    expect(validatorsAt(rm.state, 6).orgs.map((o) => o.name)).toEqual(['gorg0', 'gorg1', 'gorg2']);

    const p = await cli(['gov', 'propose', 'params.set', '--set', 'maxBlockEntries=500', '--set', 'timeouts.proposeMs=2000', '--deadline', '50', '--out', 'params.json']);
    expect(p.code).toBe(0);
    for (const k of ['gorg0', 'gorg1', 'gorg3']) expect((await cli(['gov', 'vote', '--proposal', 'params.json', '--key', `${k}.key`, '--append'])).code).toBe(0);
    const ps = applyGovernance(genesisGovState(genesis), await recordOf('params.json'), 4);
    if (!ps.ok) throw new Error(ps.code);
    expect(ps.effect.effectiveHeight).toBe(6);
  });
});

describe('cairn gov: refusals', () => {
  const cases: [string, string[], RegExp][] = [
    ['client key not hex', ['gov', 'grant-client', '--key', 'gorg1.key', '--client-pub', 'zz', '--name', 'x', '--deadline', '9', '--out', 'x.json'], /--client-pub must be/],
    ['deadline not a height', ['gov', 'grant-client', '--key', 'gorg1.key', '--client-pub', 'ab'.repeat(32), '--name', 'x', '--deadline', '-3', '--out', 'x.json'], /--deadline must be a block height/],
    ['no deadline and no peer', ['gov', 'revoke-client', '--key', 'gorg1.key', '--client-pub', 'ab'.repeat(32), '--out', 'x.json'], /give --deadline/],
    ['nothing to do', ['gov', 'revoke-client', '--key', 'gorg1.key', '--client-pub', 'ab'.repeat(32), '--deadline', '9'], /nothing to do/],
    ['peer without client key', ['gov', 'revoke-client', '--key', 'gorg1.key', '--client-pub', 'ab'.repeat(32), '--deadline', '9', '--peer', 'http://127.0.0.1:1'], /--peer needs --client-key/],
    ['missing org key file', ['gov', 'revoke-client', '--key', 'nope.key', '--client-pub', 'ab'.repeat(32), '--deadline', '9', '--out', 'x.json'], /cannot read --key key file nope.key/],
    ['rotation to another name', ['gov', 'rotate-key', '--old-key', 'gorg0.key', '--new-key', 'gorg1.key', '--new-p2p', PEER_ID, '--effective-height', '9', '--epoch', '1', '--out', 'x.json'], /a rotation keeps the organization name/],
    ['bad peer id', ['gov', 'rotate-key', '--old-key', 'gorg0.key', '--new-key', 'gorg0-new.key', '--new-p2p', 'not a peer id', '--effective-height', '9', '--epoch', '1', '--out', 'x.json'], /gov_peer_id/],
    ['expiry as a time', ['gov', 'grant-client', '--key', 'gorg1.key', '--client-pub', 'ab'.repeat(32), '--name', 'x', '--expires', '2027-01-01T00:00:00Z', '--deadline', '9', '--out', 'x.json'], /--expires is a block height/],
    ['unknown proposal type', ['gov', 'propose', 'org.merge', '--deadline', '9', '--out', 'x.json'], /unknown proposal type/],
    ['unknown parameter', ['gov', 'propose', 'params.set', '--set', 'speed=9', '--deadline', '9', '--out', 'x.json'], /unknown parameter speed/],
    ['missing required option', ['gov', 'grant-client', '--key', 'gorg1.key'], /required option/],
    ['export format', ['trust', 'export', '--trust', 'trust.json', '--format', 'yaml'], /--format must be/],
  ];
  for (const [name, args, re] of cases) {
    it(`${name}: one line, exit 2`, async () => {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(re);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err.startsWith('cairn: ')).toBe(true);
    });
  }

  it('a ballot for another proposal is refused by name (exit 1), and the proposal file is unchanged', async () => {
    expect((await cli(['gov', 'propose', 'org.remove', '--name', 'gorg2', '--epoch', '1', '--deadline', '60', '--nonce', 'p-one', '--out', 'one.json'])).code).toBe(0);
    expect((await cli(['gov', 'propose', 'org.remove', '--name', 'gorg2', '--epoch', '1', '--deadline', '60', '--nonce', 'p-two', '--out', 'two.json'])).code).toBe(0);
    const v = await cli(['gov', 'vote', '--proposal', 'one.json', '--key', 'gorg0.key']);
    expect(v.code).toBe(0);
    await writeFile(join(dir, 'ballot-one.json'), v.out.split('\n')[0]!);
    const before = await readFile(join(dir, 'two.json'), 'utf8');
    const r = await cli(['gov', 'vote', '--proposal', 'two.json', '--ballot', 'ballot-one.json', '--append']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^cairn: ballot of gorg0 in ballot-one.json is for record [0-9a-f]{16}\.\.\., not this proposal/);
    expect(await readFile(join(dir, 'two.json'), 'utf8')).toBe(before);
    // --expect names the record the voter was asked to sign.
    const one = govStatement(JSON.parse(await readFile(join(dir, 'one.json'), 'utf8')) as never);
    const e = await cli(['gov', 'vote', '--proposal', 'two.json', '--key', 'gorg1.key', '--expect', one.id]);
    expect(e.code).toBe(1);
    expect(e.err).toMatch(/not signing/);
  });
});

describe('version 2 trust files', () => {
  it('verify takes them; commands that take one static key list refuse them with what to do (exit 2)', async () => {
    const keys = orgs.map((o) => {
      const k = parseVerifierKey(o.verifierKey);
      if (!k.ok) throw new Error(k.message);
      return k.key;
    });
    const chain = { origin: genesis.origin, epochs: [{ afterSize: -1, keys, quorum: 3 }, { afterSize: 10, keys: keys.slice(0, 3), quorum: 3, record: 'ab'.repeat(32) }] };
    await writeFile(join(dir, 'v2.json'), formatTrustChainFile(chain));
    const r = await cli(['audit', 'http://127.0.0.1:1', '--trust', 'v2.json']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^cairn: trust file v2.json follows 1 membership change\(s\) \(version 2\): .* cairn trust export --trust v2.json --format json\n$/);
    const e = await cli(['trust', 'export', '--trust', 'v2.json']);
    expect(e.out.trim().split('\n')).toEqual(orgs.slice(0, 3).map((o) => o.verifierKey));
  });
});

describe('cairn trust export', () => {
  it('note-verifiers: one verifier key per line, each parses and matches the genesis set; json is a version 1 trust file', async () => {
    const r = await cli(['trust', 'export', '--trust', 'trust.json']);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(4);
    const keys = lines.map((l) => parseVerifierKey(l));
    for (const k of keys) expect(k.ok).toBe(true);
    expect(lines).toEqual(orgs.map((o) => o.verifierKey));
    const j = await cli(['trust', 'export', '--trust', 'trust.json', '--format', 'json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.out)).toMatchObject({ origin: genesis.origin, quorum: 3, keys: orgs.map((o) => o.verifierKey) });
  });
});

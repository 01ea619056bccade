// cairn p2p-key and cairn genesis: a genesis built from keygen / p2p-key outputs passes the peers'
// strict parser and yields the matching trust file; bad specs fail with one line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadGenesis } from '../../node/peer/genesis.js';
import { parseTrustFile } from '../../src/verifier/index.js';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { toHex } from '../../src/encoding/bytes.js';
import { cli, expectError, tempDir } from './support/cli.js';

let dir: { path: string; cleanup: () => Promise<void> };
const p = (n: string) => join(dir.path, n);
const peerIds: string[] = [];
const pubs: string[] = [];

beforeAll(async () => {
  dir = await tempDir('genesis');
  for (const name of ['org1.example', 'org2.example', 'org3.example', 'app1']) {
    const k = await cli(['keygen', '--name', name, '--out', p('keys')]);
    expect(k.code, k.stderr).toBe(0);
    pubs.push(k.stdout.trim());
  }
  for (const name of ['org1', 'org2', 'org3']) {
    const r = await cli(['p2p-key', '--out', p(`keys/${name}.p2p`)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]+\n$/);
    peerIds.push(r.stdout.trim());
  }
});

afterAll(async () => {
  await dir.cleanup();
});

describe('cairn p2p-key', () => {
  it('creates a 0600 key file once and never overwrites it', async () => {
    expect((await stat(p('keys/org1.p2p'))).mode & 0o777).toBe(0o600);
    expectError(await cli(['p2p-key', '--out', p('keys/org1.p2p')]), 1, /cannot create p2p key file .*org1\.p2p: already exists \(never overwritten\)/);
  });
});

describe('cairn genesis', () => {
  it('writes a genesis the peers accept, with the trust file auditors need', async () => {
    const r = await cli([
      'genesis',
      '--origin', 'audit.example.com/test',
      '--validator', `${p('keys/org1.example.pub')},${p('keys/org1.p2p')},/ip4/127.0.0.1/tcp/9001`,
      '--validator', `${pubs[1]},${peerIds[1]},/ip4/127.0.0.1/tcp/9002,/dns4/org2.example/tcp/9002`,
      '--validator', `${p('keys/org3.example.pub')},${p('keys/org3.p2p')},/ip4/127.0.0.1/tcp/9003`,
      '--client', `app1,${p('keys/app1.pub')},org1.example`,
      '--client', `app2,${toHex(publicKeyFromSeed(new Uint8Array(32).fill(7)))},org2.example`,
      '--out', p('genesis.json'),
      '--trust-out', p('trust.json'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^genesis .*genesis\.json: origin audit\.example\.com\/test, 3 organizations \(quorum 3\), 2 clients\ngenesis hash [0-9a-f]{64}\ntrust file .*trust\.json\n$/);
    const g = await loadGenesis(p('genesis.json'));
    expect(g.validators.map((v) => [v.name, v.peerId])).toEqual([
      ['org1.example', peerIds[0]],
      ['org2.example', peerIds[1]],
      ['org3.example', peerIds[2]],
    ]);
    expect(g.validators[1]!.addrs).toEqual(['/ip4/127.0.0.1/tcp/9002', '/dns4/org2.example/tcp/9002']);
    expect([...g.clients.values()].map((c) => [c.name, c.vouchedBy])).toEqual([
      ['app1', 'org1.example'],
      ['app2', 'org2.example'],
    ]);
    expect(r.stdout).toContain(`genesis hash ${g.hashHex}`);
    const t = parseTrustFile(await readFile(p('trust.json')));
    expect(t.ok && [t.trust.origin, t.trust.quorum, t.trust.keys.map((k) => k.text)]).toEqual(['audit.example.com/test', 3, pubs.slice(0, 3)]);
    // Never overwritten.
    expectError(await cli(['genesis', '--origin', 'x.example/y', '--validator', `${pubs[0]},${peerIds[0]},/ip4/127.0.0.1/tcp/1`, '--out', p('genesis.json')]), 1, /cannot create genesis file .*: already exists/);
  });

  it('rejects bad specs and invalid genesis content with one line (exit 2)', async () => {
    const v = `${pubs[0]},${peerIds[0]},/ip4/127.0.0.1/tcp/9001`;
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--out', p('g2.json')]), 2, /required option '--validator <spec>'/);
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--validator', 'just-one-part', '--out', p('g2.json')]), 2, /--validator #1: expected <verifier key or \.pub file>/);
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--validator', `${pubs[0]},${p('nope.p2p')},/ip4/1.2.3.4/tcp/1`, '--out', p('g2.json')]), 2, /--validator #1: config_unreadable: cannot read p2p key file/);
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--validator', `${p('missing.pub')},${peerIds[0]},/ip4/1.2.3.4/tcp/1`, '--out', p('g2.json')]), 2, /cannot read verifier key file .*missing\.pub/);
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--validator', `${pubs[0]},${peerIds[0]},not-a-multiaddr`, '--out', p('g2.json')]), 2, /invalid genesis: genesis_bad_addr: .* \(at validators\[0\]\.addrs\[0\]\)/);
    expectError(await cli(['genesis', '--origin', 'has space', '--validator', v, '--out', p('g2.json')]), 2, /invalid genesis: genesis_bad_origin/);
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--validator', v, '--validator', v, '--out', p('g2.json')]), 2, /genesis_duplicate/);
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--validator', v, '--client', 'c,zz,org1.example', '--out', p('g2.json')]), 2, /cannot read client public key file zz/);
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--validator', v, '--client', `c,${'ab'.repeat(32)},nobody`, '--out', p('g2.json')]), 2, /invalid genesis: genesis_(bad_voucher|bad_key)/);
  });
});

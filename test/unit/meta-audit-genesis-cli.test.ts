// cairn genesis --sharing / --auditor, and the organization's meta-audit client given as an
// ordinary --client: the written genesis carries them and the peers' parser finds the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadGenesis } from '../../node/peer/genesis.js';
import { metaAuditClientFor } from '../../node/peer/genesis-sharing.js';
import { cli, expectError, tempDir } from './support/cli.js';

let dir: { path: string; cleanup: () => Promise<void> };
const p = (n: string) => join(dir.path, n);
const pubs: Record<string, string> = {};
let validator = '';

beforeAll(async () => {
  dir = await tempDir('ma-genesis');
  for (const name of ['org1.example', 'org1.example-meta-audit', 'bigfour']) {
    const k = await cli(['keygen', '--name', name, '--out', p('keys')]);
    expect(k.code, k.stderr).toBe(0);
    pubs[name] = k.stdout.trim();
  }
  const r = await cli(['p2p-key', '--out', p('keys/org1.p2p')]);
  expect(r.code, r.stderr).toBe(0);
  validator = `${pubs['org1.example']},${r.stdout.trim()},/ip4/127.0.0.1/tcp/9001`;
});
afterAll(async () => {
  await dir.cleanup();
});

describe('cairn genesis: sharing, auditors, meta-audit client', () => {
  it('writes sharing and auditors; the meta-audit client is found by name and voucher', async () => {
    const r = await cli([
      'genesis',
      '--origin', 'audit.example.com/ma',
      '--validator', validator,
      '--client', `org1.example-meta-audit,${p('keys/org1.example-meta-audit.pub')},org1.example`,
      '--auditor', `bigfour,${p('keys/bigfour.pub')}`,
      '--sharing', 'own-clients',
      '--out', p('genesis.json'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 clients, sharing own-clients, 1 consortium auditors\n/);
    const g = await loadGenesis(p('genesis.json'));
    expect(g.sharing).toBe('own-clients');
    expect(g.auditors.map((a) => a.name)).toEqual(['bigfour']);
    expect(metaAuditClientFor(g, 'org1.example')?.name).toBe('org1.example-meta-audit');
  });

  it('refuses a bad sharing mode or auditor spec with one line (exit 2)', async () => {
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--validator', validator, '--sharing', 'everyone', '--out', p('g2.json')]), 2, /--sharing must be one of consortium, own-clients/);
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--validator', validator, '--auditor', 'only-a-name', '--out', p('g2.json')]), 2, /--auditor #1: expected <name>,<public key/);
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--validator', validator, '--auditor', 'a,zz', '--out', p('g2.json')]), 2, /--auditor #1/);
    expectError(await cli(['genesis', '--origin', 'o.example/x', '--validator', validator, '--auditor', `a,${p('keys/bigfour.pub')}`, '--auditor', `b,${p('keys/bigfour.pub')}`, '--out', p('g2.json')]), 2, /genesis_duplicate|appears twice/);
  });
});

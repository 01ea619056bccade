import { describe, expect, it } from 'vitest';
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGenesis, parseGenesisText, buildGenesis, formatGenesis, genesisHash, loadGenesis, DEFAULT_LIMITS } from '../../node/peer/genesis.js';
import { parseConfig, loadConfig, parseSigningKeyText, parseP2PKeyText, formatP2PKey, generateP2PKeyFile, loadP2PKey, loadSigningKey } from '../../node/peer/config.js';
import { makeClients, makeGenesis, makeOrgs, seedOf } from '../peer-support/fixtures.js';
import { toBase64, toHex, concatBytes, fromHex } from '../../src/encoding/bytes.js';

const orgs = await makeOrgs(4);
const clients = makeClients(3);

function validDoc(): any {
  return JSON.parse(formatGenesis(makeGenesis(orgs, clients)));
}

describe('genesis', () => {
  it('builds, formats and re-parses to the same hash; quorum 3 of 4', () => {
    const g = makeGenesis(orgs, clients);
    expect(g.quorum).toBe(3);
    expect(g.validators.map((v) => v.name)).toEqual(['org0', 'org1', 'org2', 'org3']);
    const again = parseGenesisText(formatGenesis(g));
    expect(again.ok).toBe(true);
    if (again.ok) expect(again.genesis.hashHex).toBe(g.hashHex);
    // Formatting is free: the hash is over JCS.
    const compact = parseGenesisText(JSON.stringify(g.doc));
    expect(compact.ok && compact.genesis.hashHex).toBe(g.hashHex);
    expect(g.clients.get(clients[0]!.publicKeyHex)?.vouchedBy).toBe('org0');
  });

  it('hash changes with any field', () => {
    const g = makeGenesis(orgs, clients);
    const g2 = makeGenesis(orgs, clients, { origin: 'cairn.example/other' });
    expect(toHex(genesisHash(g.doc))).not.toBe(toHex(genesisHash(g2.doc)));
  });

  const cases: [string, (d: any) => void, string, string?][] = [
    ['not an object', (d) => { for (const k of Object.keys(d)) delete d[k]; d.x = 1; }, 'genesis_unknown_field', 'x'],
    ['unknown top-level field', (d) => { d.extra = 1; }, 'genesis_unknown_field', 'extra'],
    ['missing limits', (d) => { delete d.limits; }, 'genesis_missing_field', 'limits'],
    ['bad version', (d) => { d.version = 2; }, 'genesis_bad_version', 'version'],
    ['origin with space', (d) => { d.origin = 'a b'; }, 'genesis_bad_origin', 'origin'],
    ['origin with newline', (d) => { d.origin = 'a\nb'; }, 'genesis_bad_origin', 'origin'],
    ['origin in the reserved signature-domain namespace', (d) => { d.origin = 'cairn/consensus/v1'; }, 'genesis_bad_origin', 'origin'],
    ['no validators', (d) => { d.validators = []; }, 'genesis_bad_validators', 'validators'],
    ['validator bad name', (d) => { d.validators[1].name = 'a b'; }, 'genesis_bad_name', 'validators[1].name'],
    ['validator key name mismatch', (d) => { d.validators[1].name = 'orgX'; }, 'genesis_bad_key', 'validators[1].verifierKey'],
    ['duplicate validator name', (d) => { d.validators[1] = { ...d.validators[0] }; }, 'genesis_duplicate', 'validators[1].name'],
    ['bad verifier key', (d) => { d.validators[2].verifierKey = 'org2+00000000+AAAA'; }, 'genesis_bad_key', 'validators[2].verifierKey'],
    ['bad peer id', (d) => { d.validators[0].peerId = 'notapeerid'; }, 'genesis_bad_peer_id', 'validators[0].peerId'],
    ['duplicate peer id', (d) => { d.validators[1].peerId = d.validators[0].peerId; }, 'genesis_duplicate', 'validators[1].peerId'],
    ['bad multiaddr', (d) => { d.validators[0].addrs = ['/ip4/300.1.1.1/tcp/1']; }, 'genesis_bad_addr', 'validators[0].addrs[0]'],
    ['client key not hex', (d) => { d.clients[0].publicKey = 'zz'; }, 'genesis_bad_key', 'clients[0].publicKey'],
    ['client key small order (identity)', (d) => { d.clients[0].publicKey = '01' + '00'.repeat(31); }, 'genesis_bad_key', 'clients[0].publicKey'],
    ['client vouched by stranger', (d) => { d.clients[1].vouchedBy = 'nobody'; }, 'genesis_bad_voucher', 'clients[1].vouchedBy'],
    ['duplicate client key', (d) => { d.clients[1].publicKey = d.clients[0].publicKey; }, 'genesis_duplicate', 'clients[1].publicKey'],
    ['limit too small', (d) => { d.limits.maxBlockEntries = 0; }, 'genesis_bad_limit', 'limits.maxBlockEntries'],
    ['block bytes beyond gossip frame', (d) => { d.limits.maxBlockBytes = 8 * 1024 * 1024; }, 'genesis_bad_limit', 'limits.maxBlockBytes'],
    ['limit not integer', (d) => { d.limits.timeouts.proposeMs = 1.5; }, 'genesis_bad_limit', 'limits.timeouts.proposeMs'],
    ['unknown timeout', (d) => { d.limits.timeouts.fooMs = 1; }, 'genesis_unknown_field', 'limits.timeouts.fooMs'],
    ['mempool smaller than block', (d) => { d.limits.mempoolMaxEntries = 1; d.limits.maxBlockEntries = 10; }, 'genesis_bad_limit', 'limits.mempoolMaxEntries'],
  ];
  for (const [name, mutate, code, field] of cases) {
    it(`rejects: ${name}`, () => {
      const d = validDoc();
      mutate(d);
      const r = parseGenesis(d);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.code).toBe(code);
        if (field !== undefined) expect(r.field).toBe(field);
      }
    });
  }

  it('rejects non-JSON and non-objects with codes', () => {
    expect(parseGenesisText('{').ok === false && (parseGenesisText('{') as any).code).toBe('genesis_bad_json');
    expect((parseGenesis([]) as any).code).toBe('genesis_bad_type');
    expect((parseGenesis(null) as any).code).toBe('genesis_bad_type');
  });

  it('buildGenesis fills default limits and throws PeerError on bad input', () => {
    const g = buildGenesis({ origin: 'x.example/y', validators: validDoc().validators });
    expect(g.limits).toEqual(DEFAULT_LIMITS);
    expect(() => buildGenesis({ origin: 'bad origin', validators: validDoc().validators })).toThrow(/genesis_bad_origin/);
  });

  it('loadGenesis reads a file and reports unreadable files with a code', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-gen-'));
    try {
      const p = join(dir, 'genesis.json');
      await writeFile(p, formatGenesis(makeGenesis(orgs, clients)));
      expect((await loadGenesis(p)).validators.length).toBe(4);
      await expect(loadGenesis(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'genesis_unreadable' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('config', () => {
  const base = { dataDir: 'data', genesis: 'genesis.json', signingKey: 'org.key', p2pKey: 'p2p.key' };
  it('resolves relative paths and applies defaults', () => {
    const r = parseConfig(base, '/etc/cairn');
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.config.dataDir).toBe('/etc/cairn/data');
      expect(r.config.listen).toEqual(['/ip4/0.0.0.0/tcp/0']);
      expect(r.config.http).toBeNull();
      expect(r.config.logLevel).toBe('info');
    }
  });
  it('env overrides win and bad env values name the variable', () => {
    const r = parseConfig(base, '/x', { CAIRN_DATA_DIR: '/var/cairn', CAIRN_LISTEN: '/ip4/127.0.0.1/tcp/7000, /ip4/127.0.0.1/tcp/7001', CAIRN_HTTP: '127.0.0.1:8080' });
    expect(r.ok && r.config.dataDir).toBe('/var/cairn');
    expect(r.ok && r.config.listen).toEqual(['/ip4/127.0.0.1/tcp/7000', '/ip4/127.0.0.1/tcp/7001']);
    expect(r.ok && r.config.http).toBe('127.0.0.1:8080');
    const bad = parseConfig(base, '/x', { CAIRN_HTTP: 'nonsense' });
    expect(bad.ok === false && bad.code).toBe('config_bad_http');
    expect(bad.ok === false && bad.field).toBe('CAIRN_HTTP');
  });
  it('rejects unknown fields, missing fields, bad listen, bad log level', () => {
    expect((parseConfig({ ...base, foo: 1 }, '/') as any).code).toBe('config_unknown_field');
    expect((parseConfig({ dataDir: 'd' }, '/') as any).code).toBe('config_missing_field');
    expect((parseConfig({ ...base, listen: ['garbage'] }, '/') as any).code).toBe('config_bad_listen');
    expect((parseConfig({ ...base, listen: [] }, '/') as any).code).toBe('config_bad_listen');
    expect((parseConfig({ ...base, logLevel: 'loud' }, '/') as any).code).toBe('config_bad_log_level');
    expect((parseConfig('x', '/') as any).code).toBe('config_bad_type');
  });
  it('loads config files, signing keys (signer string and PEM) and p2p keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-cfg-'));
    try {
      await writeFile(join(dir, 'c.json'), JSON.stringify(base));
      const c = await loadConfig(join(dir, 'c.json'), {});
      expect(c.signingKey).toBe(join(dir, 'org.key'));
      await writeFile(join(dir, 'bad.json'), '{nope');
      await expect(loadConfig(join(dir, 'bad.json'), {})).rejects.toMatchObject({ code: 'config_bad_json' });

      const o = orgs[0]!;
      const s1 = parseSigningKeyText(o.signerKeyText + '\n');
      expect(s1.ok && toHex(s1.seed)).toBe(toHex(o.seed));
      const der = concatBytes(fromHex('302e020100300506032b657004220420')!, o.seed);
      const pem = `-----BEGIN PRIVATE KEY-----\n${toBase64(der)}\n-----END PRIVATE KEY-----\n`;
      const s2 = parseSigningKeyText(pem);
      expect(s2.ok && toHex(s2.seed)).toBe(toHex(o.seed));
      expect((parseSigningKeyText('hello') as any).code).toBe('config_bad_signing_key');
      await writeFile(join(dir, 'org.key'), pem);
      expect(toHex((await loadSigningKey(join(dir, 'org.key'))).seed)).toBe(toHex(o.seed));

      const p2p = parseP2PKeyText(formatP2PKey(seedOf('p')));
      expect(p2p.ok).toBe(true);
      expect((parseP2PKeyText('x\ny') as any).code).toBe('config_bad_p2p_key');
      const gen = await generateP2PKeyFile(join(dir, 'p2p.key'));
      expect((await loadP2PKey(join(dir, 'p2p.key'))).peerId).toBe(gen.peerId);
      expect((await readFile(join(dir, 'p2p.key'), 'utf8')).startsWith('cairn-p2p-ed25519-seed-v1\n')).toBe(true);
      await expect(generateP2PKeyFile(join(dir, 'p2p.key'))).rejects.toMatchObject({ code: 'config_key_exists' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// The genesis fields used by access control and the meta-audit: `sharing` (what each
// organization's peer may serve), `auditors` (consortium auditors' keys) and the per-organization
// meta-audit client (`<org>-meta-audit`, found by metaAuditClientFor).
import { describe, expect, it } from 'vitest';
import { buildGenesis, DEFAULT_LIMITS, formatGenesis, parseGenesis, parseGenesisText } from '../../node/peer/genesis.js';
import { formatVerifierKey } from '../../src/checkpoint/keys.js';
import { GENESIS_AUDITORS_MAX, metaAuditClientFor, metaAuditClientName } from '../../node/peer/genesis-sharing.js';
import { publicKeyFromSeed } from '../../src/crypto/noble.js';
import { toHex } from '../../src/encoding/bytes.js';
import { makeClients, makeGenesis, makeOrgs, seedOf } from '../peer-support/fixtures.js';

const keyOf = (label: string) => toHex(publicKeyFromSeed(seedOf(label)));

async function baseDoc(): Promise<Record<string, unknown>> {
  const orgs = await makeOrgs(2, 'gs');
  const g = makeGenesis(orgs, makeClients(2));
  return JSON.parse(formatGenesis(g)) as Record<string, unknown>;
}

function codeOf(doc: unknown): { code: string; field?: string } | 'ok' {
  const r = parseGenesis(doc);
  return r.ok ? 'ok' : { code: r.code, ...(r.field !== undefined ? { field: r.field } : {}) };
}

describe('genesis sharing mode and consortium auditors', () => {
  it('a genesis without the new fields keeps its hash and defaults to consortium sharing, no auditors', async () => {
    const doc = await baseDoc();
    const r = parseGenesis(doc);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.genesis.sharing).toBe('consortium');
    expect(r.genesis.auditors).toEqual([]);
    // The canonical document is unchanged: the fields are not added when absent.
    expect(Object.keys(r.genesis.doc).sort()).toEqual(['clients', 'limits', 'origin', 'validators', 'version']);
    const again = parseGenesisText(formatGenesis(r.genesis));
    expect(again.ok && again.genesis.hashHex).toBe(r.genesis.hashHex);
  });

  it('a fixed genesis without the new fields hashes exactly as before they existed', () => {
    // Hash computed with the parser as it was before `sharing` and `auditors` were added.
    const seed = (n: number) => new Uint8Array(32).fill(n);
    const r = parseGenesis({
      version: 1,
      origin: 'cairn.example/hash',
      validators: [{ name: 'org1', verifierKey: formatVerifierKey('org1', publicKeyFromSeed(seed(1))), peerId: '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA', addrs: ['/ip4/127.0.0.1/tcp/1'] }],
      clients: [{ name: 'app', publicKey: toHex(publicKeyFromSeed(seed(2))), vouchedBy: 'org1' }],
      // The limits as they were then (the default mempool byte bound has since been lowered).
      limits: { ...DEFAULT_LIMITS, mempoolMaxBytes: 64 * 1024 * 1024 },
    });
    expect(r.ok && r.genesis.hashHex).toBe('bc761cd37c14542f1d1f45f1827a6dcd32244600c24abac2f2921e9a9c5a4462');
  });

  it('parses own-clients sharing and auditors, which change the hash', async () => {
    const doc = await baseDoc();
    const plain = parseGenesis(doc);
    const withFields = parseGenesis({ ...doc, sharing: 'own-clients', auditors: [{ name: 'bigfour', publicKey: keyOf('aud1') }] });
    expect(withFields.ok).toBe(true);
    if (!withFields.ok || !plain.ok) return;
    expect(withFields.genesis.sharing).toBe('own-clients');
    expect(withFields.genesis.auditors.map((a) => [a.name, a.publicKeyHex])).toEqual([['bigfour', keyOf('aud1')]]);
    expect(withFields.genesis.hashHex).not.toBe(plain.genesis.hashHex);
    // Round trip through the file form.
    const back = parseGenesisText(formatGenesis(withFields.genesis));
    expect(back.ok && back.genesis.hashHex).toBe(withFields.genesis.hashHex);
    expect(back.ok && back.genesis.sharing).toBe('own-clients');
  });

  it('refuses bad sharing and auditor values with specific codes', async () => {
    const doc = await baseDoc();
    const aud = (name: unknown, publicKey: unknown) => ({ name, publicKey });
    expect(codeOf({ ...doc, sharing: 'everyone' })).toEqual({ code: 'genesis_bad_sharing', field: 'sharing' });
    expect(codeOf({ ...doc, sharing: 1 })).toEqual({ code: 'genesis_bad_sharing', field: 'sharing' });
    expect(codeOf({ ...doc, auditors: {} })).toEqual({ code: 'genesis_bad_auditors', field: 'auditors' });
    const tooMany = Array.from({ length: GENESIS_AUDITORS_MAX + 1 }, (_, i) => aud(`a${i}`, keyOf(`many${i}`)));
    expect(codeOf({ ...doc, auditors: tooMany })).toEqual({ code: 'genesis_bad_auditors', field: 'auditors' });
    expect(codeOf({ ...doc, auditors: ['x'] })).toEqual({ code: 'genesis_bad_type', field: 'auditors[0]' });
    expect(codeOf({ ...doc, auditors: [{ name: 'a', publicKey: keyOf('k'), role: 'x' }] })).toEqual({ code: 'genesis_unknown_field', field: 'auditors[0].role' });
    expect(codeOf({ ...doc, auditors: [{ name: 'a' }] })).toEqual({ code: 'genesis_missing_field', field: 'auditors[0].publicKey' });
    expect(codeOf({ ...doc, auditors: [aud('-bad', keyOf('k'))] })).toEqual({ code: 'genesis_bad_name', field: 'auditors[0].name' });
    expect(codeOf({ ...doc, auditors: [aud('a', 'ABCD')] })).toEqual({ code: 'genesis_bad_key', field: 'auditors[0].publicKey' });
    // The identity point (a small-order key) is refused like any client key.
    expect(codeOf({ ...doc, auditors: [aud('a', '01' + '00'.repeat(31))] })).toEqual({ code: 'genesis_bad_key', field: 'auditors[0].publicKey' });
    expect(codeOf({ ...doc, auditors: [aud('a', keyOf('k')), aud('a', keyOf('k2'))] })).toEqual({ code: 'genesis_duplicate', field: 'auditors[1].name' });
    expect(codeOf({ ...doc, auditors: [aud('a', keyOf('k')), aud('b', keyOf('k'))] })).toEqual({ code: 'genesis_duplicate', field: 'auditors[1].publicKey' });
  });

  it('buildGenesis takes the fields; metaAuditClientFor finds the client named <org>-meta-audit vouched by that org', async () => {
    const orgs = await makeOrgs(2, 'mc');
    const g = buildGenesis({
      origin: 'cairn.example/sharing',
      validators: orgs.map((o) => ({ name: o.name, verifierKey: o.verifierKey, peerId: o.peerId, addrs: [] })),
      clients: [
        { name: metaAuditClientName('mc0'), publicKey: keyOf('ma0'), vouchedBy: 'mc0' },
        // Named for mc1 but vouched by mc0: not mc1's meta-audit client.
        { name: metaAuditClientName('mc1'), publicKey: keyOf('ma1'), vouchedBy: 'mc0' },
      ],
      sharing: 'own-clients',
      auditors: [{ name: 'aud', publicKey: keyOf('aud') }],
    });
    expect(g.sharing).toBe('own-clients');
    expect(metaAuditClientFor(g, 'mc0')?.publicKeyHex).toBe(keyOf('ma0'));
    expect(metaAuditClientFor(g, 'mc1')).toBeUndefined();
    expect(metaAuditClientFor(g, 'nobody')).toBeUndefined();
  });
});

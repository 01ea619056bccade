import { describe, expect, it } from 'vitest';
import { formatVerifierKey } from '../../src/checkpoint/keys.js';
import { fromHex, toHex, utf8 } from '../../src/encoding/bytes.js';
import { parseLeaf, entryLeaf } from '../../src/entry/leaf.js';
import { signEntry } from '../../src/entry/sign.js';
import {
  GOV_RECORD_BYTES_MAX,
  govEntry,
  govRecordBytes,
  govRecordFromEntry,
  govStatement,
  parseGovRecord,
  parseGovRecordBytes,
  type GovRecord,
} from '../../src/governance/index.js';
import { add, clientKey, grant, org, paramsSet, revoke, rotate } from './support/governance-fixture.js';

const [a, b, c] = [org('org1'), org('org2'), org('org3')];
const app = clientKey('app');
const samples: GovRecord[] = [
  grant(a, { name: 'app', hex: app.hex }, 50, { expiresAt: 90 }),
  revoke(a, app.hex, 50),
  rotate(a, org('org1', 1), 40, 50),
  add(org('org4'), [a, b, c], 50),
  paramsSet({ maxBlockBytes: 1_048_576, timeouts: { deltaMs: 250 } }, [a, b, c], 50),
];

function mutate(rec: GovRecord, f: (r: Record<string, any>) => void): unknown {
  const copy = JSON.parse(JSON.stringify(rec));
  f(copy);
  return copy;
}

describe('governance record format', () => {
  it('round-trips every type through its canonical bytes, with a stable id', () => {
    for (const rec of samples) {
      const bytes = govRecordBytes(rec);
      const r = parseGovRecordBytes(bytes);
      if (!r.ok) throw new Error(`${rec.type}: ${r.code} ${r.message}`);
      expect(r.parsed.id).toBe(govStatement(rec).id);
      expect(r.parsed.record.sigs.every((s) => s.proposal === r.parsed.id)).toBe(true);
      expect(toHex(govRecordBytes(r.parsed.record))).toBe(toHex(bytes));
    }
  });

  it('the statement is domain-separated and excludes the signatures', () => {
    const { statement } = govStatement(samples[0]!);
    expect(new TextDecoder().decode(statement.slice(0, 13))).toBe('cairn/gov/v1\n');
    const noSigs = govStatement({ v: 1, type: samples[0]!.type, body: samples[0]!.body } as GovRecord);
    expect(toHex(noSigs.statement)).toBe(toHex(statement));
  });

  it('refuses non-canonical bytes, invalid UTF-8, non-JSON and oversized input with specific codes', () => {
    const text = new TextDecoder().decode(govRecordBytes(samples[0]!));
    expect(parseGovRecordBytes(utf8(text + ' '))).toMatchObject({ ok: false, code: 'gov_noncanonical' });
    expect(parseGovRecordBytes(utf8(JSON.stringify(JSON.parse(text), null, 1)))).toMatchObject({ ok: false, code: 'gov_noncanonical' });
    expect(parseGovRecordBytes(Uint8Array.of(0x7b, 0xff, 0x7d))).toMatchObject({ ok: false, code: 'gov_not_utf8' });
    expect(parseGovRecordBytes(utf8('{"v":'))).toMatchObject({ ok: false, code: 'gov_not_json' });
    expect(parseGovRecordBytes(new Uint8Array(GOV_RECORD_BYTES_MAX + 1))).toMatchObject({ ok: false, code: 'gov_too_large' });
    // Size is checked before the nested shape: a huge unknown field is refused as too large.
    expect(parseGovRecord(mutate(samples[1]!, (r) => (r.body.junk = 'x'.repeat(GOV_RECORD_BYTES_MAX))))).toMatchObject({ ok: false, code: 'gov_too_large' });
    expect(parseGovRecord(mutate(samples[1]!, (r) => (r.sigs = Array.from({ length: 102 }, () => r.sigs[0]))))).toMatchObject({ ok: false, code: 'gov_sigs_count' });
  });

  const weak = '01' + '00'.repeat(31); // the identity point: refused by key vetting
  it.each([
    ['not an object', () => [1, 2], 'gov_not_object'],
    ['version', () => mutate(samples[0]!, (r) => (r.v = 2)), 'gov_version'],
    ['type', () => mutate(samples[0]!, (r) => (r.type = 'client.delete')), 'gov_type'],
    ['unknown top-level field', () => mutate(samples[0]!, (r) => (r.extra = 1)), 'gov_field_unknown'],
    ['misspelt optional field', () => mutate(samples[0]!, (r) => (r.body.client.expiresAT = 5)), 'gov_field_unknown'],
    ['missing field', () => mutate(samples[0]!, (r) => delete r.body.nonce), 'gov_field_missing'],
    ['body not an object', () => mutate(samples[0]!, (r) => (r.body = 'x')), 'gov_field_type'],
    ['bad name', () => mutate(samples[0]!, (r) => (r.body.client.name = 'has space')), 'gov_name'],
    ['weak client key', () => mutate(samples[0]!, (r) => (r.body.client.publicKey = weak)), 'gov_key'],
    ['uppercase client key', () => mutate(samples[0]!, (r) => (r.body.client.publicKey = r.body.client.publicKey.toUpperCase())), 'gov_key'],
    ['org key named after another org', () => mutate(samples[2]!, (r) => (r.body.key = b.key.text)), 'gov_key'],
    ['weak org key', () => mutate(samples[3]!, (r) => (r.body.org.key = formatVerifierKey('org4', fromHex(weak)!))), 'gov_key'],
    ['peer id', () => mutate(samples[2]!, (r) => (r.body.peerId = 'not-a-peer-id')), 'gov_peer_id'],
    ['negative height', () => mutate(samples[0]!, (r) => (r.body.deadline = -1)), 'gov_height'],
    ['fractional height', () => mutate(samples[2]!, (r) => (r.body.effectiveHeight = 1.5)), 'gov_height'],
    ['nonce', () => mutate(samples[0]!, (r) => (r.body.nonce = 'a b')), 'gov_nonce'],
    ['reason with a control character', () => mutate(samples[1]!, (r) => (r.body.reason = 'a\u0007b')), 'gov_reason'],
    ['reason with a bidi override', () => mutate(samples[1]!, (r) => (r.body.reason = 'a\u202eb')), 'gov_reason'],
    ['unknown parameter', () => mutate(samples[4]!, (r) => (r.body.params.quorum = 2)), 'gov_field_unknown'],
    ['parameter out of range', () => mutate(samples[4]!, (r) => (r.body.params.maxBlockBytes = 10)), 'gov_params'],
    ['empty params', () => mutate(samples[4]!, (r) => (r.body.params = {})), 'gov_params'],
    ['no signatures', () => mutate(samples[0]!, (r) => (r.sigs = [])), 'gov_sigs_count'],
    ['signature not hex', () => mutate(samples[0]!, (r) => (r.sigs[0].sig = 'zz' + r.sigs[0].sig.slice(2))), 'gov_sig_format'],
    ['signature wrong length', () => mutate(samples[0]!, (r) => (r.sigs[0].sig = r.sigs[0].sig.slice(2))), 'gov_sig_format'],
    ['proposal not hex', () => mutate(samples[0]!, (r) => (r.sigs[0].proposal = 'x')), 'gov_sig_format'],
    ['unknown signature field', () => mutate(samples[0]!, (r) => (r.sigs[0].weight = 2)), 'gov_field_unknown'],
  ])('refuses %s (%s)', (_what, make, code) => {
    expect(parseGovRecord(make())).toMatchObject({ ok: false, code });
  });

  it('travels as an audit entry: action cairn.gov.<type>, resource {cairn.gov, id}, data = the record', () => {
    for (const rec of samples) {
      const entry = signEntry(govEntry(rec, { time: '2026-01-01T00:00:00Z', actor: { id: 'org1-admin', type: 'service' } }), app.signer);
      const leaf = parseLeaf(entryLeaf(entry));
      if (!leaf.ok) throw new Error(JSON.stringify(leaf.errors));
      const r = govRecordFromEntry(leaf.entry);
      if (!r.ok) throw new Error(r.message);
      expect(leaf.entry.action).toBe(`cairn.gov.${rec.type}`);
      expect(r.parsed.id).toBe(govStatement(rec).id);
    }
    const entry = govEntry(samples[0]!, { time: '2026-01-01T00:00:00Z', actor: { id: 'x' } });
    expect(govRecordFromEntry({ ...entry, action: 'cairn.gov.client.revoke' } as never)).toMatchObject({ ok: false, code: 'gov_entry_action' });
    expect(govRecordFromEntry({ ...entry, resource: { type: 'cairn.gov', id: 'other' } } as never)).toMatchObject({ ok: false, code: 'gov_entry_action' });
    expect(govRecordFromEntry({ ...entry, action: 'db.query' } as never)).toMatchObject({ ok: false, code: 'gov_entry_action' });
    expect(govRecordFromEntry({ ...entry, data: { v: 1 } } as never)).toMatchObject({ ok: false, code: 'gov_field_missing' });
  });
});

// Export record formats: the OCSF class/activity mapping table of docs/monitoring.md (type_uid =
// class_uid·100 + activity_id), the fields every record carries to stay verifiable, CloudEvents
// required attributes.
import { describe, expect, it } from 'vitest';
import { leafHash } from '../../src/merkle/hash.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { cloudEventRecord, formatRecord, nativeRecord, ocsfClassOf, ocsfRecord, type ExportInput } from '../../node/export/formats.js';
import { fullUnsignedEntry } from './support/entry-fixtures.js';

function input(over: Partial<AuditEntry> = {}): ExportInput {
  const entry = { ...fullUnsignedEntry(), client: 'a'.repeat(64), sig: 'b'.repeat(128), ...over } as AuditEntry;
  const leaf = JSON.stringify(entry);
  return { index: 4242, leafHash: toHex(leafHash(utf8(leaf))), leaf, entry, checkpoint: { origin: 'log.example.org', treeSize: 5000, rootHash: 'AAAA' } };
}

describe('OCSF mapping', () => {
  const table: [string, string, number, number][] = [
    // action, resource type, class_uid, activity_id
    ['iam.user.create', 'user', 3001, 1],
    ['account.enable', 'account', 3001, 2],
    ['iam.user.password_change', 'user', 3001, 3],
    ['iam.user.password_reset', 'user', 3001, 4],
    ['iam.user.disable', 'user', 3001, 5],
    ['iam.user.delete', 'user', 3001, 6],
    ['iam.role.grant', 'user', 3001, 7],
    ['iam.role.revoke', 'role', 3001, 8],
    ['iam.user.lock', 'user', 3001, 9],
    ['iam.user.mfa_enable', 'user', 3001, 10],
    ['iam.user.mfa_disable', 'user', 3001, 11],
    ['patient.record.create', 'patient_record', 6003, 1],
    ['patient.record.read', 'patient_record', 6003, 2],
    ['db.query', 'db.table', 6003, 2],
    ['patient.record.update', 'patient_record', 6003, 3],
    ['patient.record.delete', 'patient_record', 6003, 4],
    ['auth.login', 'app', 6003, 99],
    ['iam.role.list', 'role', 6003, 2],
    ['user.delete', 'patient_record', 6003, 4],
  ];
  for (const [action, rtype, cls, act] of table) {
    it(`${action} on ${rtype} → class ${cls}, activity ${act}, type_uid ${cls * 100 + act}`, () => {
      const x = input({ action, resource: { type: rtype, id: 'r1' } });
      expect(ocsfClassOf(x.entry)).toMatchObject({ classUid: cls, activityId: act });
      const r = ocsfRecord(x);
      expect(r).toMatchObject({ class_uid: cls, activity_id: act, type_uid: cls * 100 + act, category_uid: cls === 3001 ? 3 : 6 });
      if (cls === 3001) expect(r.user).toEqual({ uid: 'r1', type: rtype });
      else expect(r.resources).toEqual([{ type: rtype, uid: 'r1' }]);
    });
  }

  it('maps the entry fields and keeps what is needed to verify the record', () => {
    const x = input();
    const r = ocsfRecord(x) as Record<string, any>;
    expect(r.time).toBe(Date.parse('2024-05-01T12:00:00.123Z'));
    expect(r.status_id).toBe(1);
    expect(r.actor).toEqual({ user: { uid: 'alice@example.com', name: 'Alice Liddell', type: 'user' } });
    expect(r.src_endpoint).toEqual({ ip: '2001:db8::1' });
    expect(r.http_request).toEqual({ user_agent: 'report-tool/1.2' });
    expect(r.metadata).toEqual({ version: '1.3.0', product: { name: 'Cairn', vendor_name: 'Cairn' }, uid: x.entry.id, log_name: 'log.example.org', tenant_uid: 'acme', correlation_uid: 'req-7f3a' });
    expect(r.api).toEqual({ operation: 'db.query', request: { uid: 'req-7f3a' } });
    expect(r.message).toBe('monthly report');
    expect(r.unmapped.cairn).toMatchObject({ index: 4242, leaf_hash: x.leafHash, checkpoint: x.checkpoint, data: x.entry.data });
    // The raw entry text hashes to the leaf hash the record names.
    expect(toHex(leafHash(utf8(r.raw_data)))).toBe(r.unmapped.cairn.leaf_hash);
  });

  it('denied and unknown outcomes', () => {
    expect(ocsfRecord(input({ outcome: 'denied' }))).toMatchObject({ status_id: 2, status: 'Failure', status_detail: 'denied' });
    expect(ocsfRecord(input({ outcome: 'failure' }))).toMatchObject({ status_id: 2, status: 'Failure' });
    expect(ocsfRecord(input({ outcome: 'unknown' }))).toMatchObject({ status_id: 0, status: 'Unknown' });
  });
});

describe('native and CloudEvents', () => {
  it('native records carry index, leaf hash, checkpoint and entry', () => {
    const x = input();
    expect(nativeRecord(x)).toEqual({ index: 4242, leafHash: x.leafHash, checkpoint: x.checkpoint, entry: x.entry });
    expect(formatRecord('native', x)).toEqual(nativeRecord(x));
  });
  it('CloudEvents have the required attributes, lowercase extension names, the native record as data', () => {
    const x = input();
    const c = cloudEventRecord(x);
    expect(c).toMatchObject({ specversion: '1.0', id: '4242', source: 'cairn:log.example.org', type: 'org.cairn.entry.v1', time: x.entry.time, datacontenttype: 'application/json', cairnindex: 4242, cairnleafhash: x.leafHash });
    expect(c.data).toEqual(nativeRecord(x));
    for (const k of Object.keys(c)) expect(k).toMatch(/^[a-z0-9]{1,20}$/);
    expect(formatRecord('cloudevents', x)).toEqual(c);
  });
});

// The pgoutput decoder and the row → entry mapping of `cairn cdc`, on hand-built messages in the
// documented wire format (PostgreSQL's "Logical Replication Message Formats", protocol 1).
import { describe, expect, it } from 'vitest';
import { validateEntry } from '../../src/entry/validate.js';
import { signEntry } from '../../src/entry/sign.js';
import { nodeSigner } from '../../src/crypto/node.js';
import { DATA_STRING_LENGTH_MAX } from '../../src/entry/limits.js';
import { decodePgoutput, decodeStreamMessage, formatLsn, parseLsn, PgoutputError, standbyStatus, type Relation } from '../../node/cdc/pgoutput.js';
import { changeEntry, columnJson, entryId, parseActorNote, type TableSpec } from '../../node/cdc/rows.js';
import { parseCdcConfig, CdcConfigError } from '../../node/cdc/config.js';
import { W } from './support/cdc-wire.js';

const REL: Relation = {
  oid: 16384,
  schema: 'public',
  table: 'items',
  replicaIdentity: 'f',
  columns: [
    { name: 'id', typeOid: 23, key: true },
    { name: 'name', typeOid: 25, key: true },
    { name: 'tags', typeOid: 3802, key: true },
    { name: 'price', typeOid: 1700, key: true },
    { name: 'ok', typeOid: 16, key: true },
  ],
};
const SPEC: TableSpec = { schema: 'public', table: 'items', resourceType: 'public.items', key: ['id'] };

describe('pgoutput decoding', () => {
  it('LSNs round-trip', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(() => parseLsn('16-B3')).toThrow(PgoutputError);
  });

  it('decodes begin, relation, insert, update with old image, delete, message and commit', () => {
    expect(decodePgoutput(new W().u8(0x42).u64(0x1000n).u64(5n).i32(733).bytes())).toEqual({ tag: 'begin', finalLsn: 0x1000n, commitTime: 5n, xid: 733 });
    const rel = new W().u8(0x52).i32(16384).str('public').str('items').u8(0x66).i16(2).u8(1).str('id').i32(23).i32(-1).u8(0).str('name').i32(25).i32(-1).bytes();
    const r = decodePgoutput(rel);
    expect(r).toEqual({ tag: 'relation', relation: { oid: 16384, schema: 'public', table: 'items', replicaIdentity: 'f', columns: [{ name: 'id', typeOid: 23, key: true }, { name: 'name', typeOid: 25, key: false }] } });
    const ins = decodePgoutput(new W().u8(0x49).i32(16384).u8(0x4e).i16(2).text('1').u8(0x6e).bytes());
    expect(ins).toEqual({ tag: 'insert', relOid: 16384, newTuple: [{ kind: 'text', text: '1' }, { kind: 'null' }] });
    const upd = decodePgoutput(new W().u8(0x55).i32(16384).u8(0x4f).i16(2).text('1').text('a').u8(0x4e).i16(2).text('1').u8(0x75).bytes());
    expect(upd).toEqual({ tag: 'update', relOid: 16384, oldKind: 'full', oldTuple: [{ kind: 'text', text: '1' }, { kind: 'text', text: 'a' }], newTuple: [{ kind: 'text', text: '1' }, { kind: 'unchanged' }] });
    const del = decodePgoutput(new W().u8(0x44).i32(16384).u8(0x4b).i16(2).text('1').u8(0x6e).bytes());
    expect(del).toMatchObject({ tag: 'delete', oldKind: 'key' });
    const msg = decodePgoutput(new W().u8(0x4d).u8(1).u64(0x2000n).str('cairn.actor').i32(2).u8(0x7b).u8(0x7d).bytes());
    expect(msg).toMatchObject({ tag: 'message', transactional: true, lsn: 0x2000n, prefix: 'cairn.actor' });
    expect(decodePgoutput(new W().u8(0x43).u8(0).u64(0x1000n).u64(0x1038n).u64(5n).bytes())).toEqual({ tag: 'commit', commitLsn: 0x1000n, endLsn: 0x1038n, commitTime: 5n });
  });

  it('refuses truncated, oversized and unknown messages instead of reading past them', () => {
    // A column claiming 100 bytes with 1 left.
    expect(() => decodePgoutput(new W().u8(0x49).i32(1).u8(0x4e).i16(1).u8(0x74).i32(100).u8(0x41).bytes())).toThrow(/truncated/);
    expect(() => decodePgoutput(new W().u8(0x49).i32(1).u8(0x4e).i16(5000).bytes())).toThrow(/5000 columns/);
    expect(() => decodePgoutput(new W().u8(0x5a).bytes())).toThrow(/unknown pgoutput message/);
    expect(() => decodePgoutput(new W().u8(0x42).u64(1n).u64(1n).i32(1).u8(9).bytes())).toThrow(/trailing/);
    expect(() => decodePgoutput(new W().u8(0x52).i32(1).u8(0x61).bytes())).toThrow(/unterminated/);
  });

  it('decodes the stream wrapper and writes standby status updates with the exact position', () => {
    const x = decodeStreamMessage(new W().u8(0x77).u64(10n).u64(20n).u64(0n).u8(0x42).bytes());
    expect(x).toMatchObject({ tag: 'xlog', walStart: 10n, walEnd: 20n });
    expect(decodeStreamMessage(new W().u8(0x6b).u64(99n).u64(0n).u8(1).bytes())).toEqual({ tag: 'keepalive', walEnd: 99n, replyRequested: true });
    const s = standbyStatus(0x1038n);
    const v = new DataView(s.buffer);
    expect(s[0]).toBe(0x72);
    // Written, flushed and applied are the position itself (not +1: a transaction whose commit
    // record starts exactly there must still be resent after a restart).
    expect([v.getBigUint64(1), v.getBigUint64(9), v.getBigUint64(17)]).toEqual([0x1038n, 0x1038n, 0x1038n]);
  });
});

describe('row changes as entries', () => {
  const ctx = { idPrefix: 'slot1', commitLsn: 0x1000n, commitTime: 1_000_000n, xid: 9, position: 2, actor: { role: 'app_writer', login: 'app', claimed: 'alice' } };
  const t = (s: string) => ({ kind: 'text' as const, text: s });

  it('maps an update to a valid entry with before/after, deterministic id and commit time', () => {
    const u = changeEntry(SPEC, REL, { tag: 'update', oldKind: 'full', oldTuple: [t('7'), t('a'), t('{"x":1}'), t('1.50'), t('t')], newTuple: [t('7'), t('b'), t('{"x":1}'), t('1.50'), t('f')] }, ctx);
    expect(u.id).toBe(entryId('slot1', 0x1000n, 2));
    expect(u.id).toBe('slot1.0000000000001000.2');
    expect(u.time).toBe('2000-01-01T00:00:01.000000Z');
    expect(u.action).toBe('db.update');
    expect(u.resource).toEqual({ type: 'public.items', id: '7' });
    expect(u.actor).toEqual({ id: 'app_writer', type: 'db.role' });
    expect(u.data).toMatchObject({ before: { id: 7, name: 'a', tags: { x: 1 }, price: '1.50', ok: true }, after: { id: 7, name: 'b', ok: false }, xid: 9, lsn: '0/1000', position: 2, login: 'app', claimedActor: 'alice' });
    const signed = signEntry(u, nodeSigner(new Uint8Array(32).fill(7)));
    expect(validateEntry(signed).ok).toBe(true);
    // Same input, same entry: a re-capture after a restart is recognised by the log.
    expect(changeEntry(SPEC, REL, { tag: 'update', oldKind: 'full', oldTuple: [t('7'), t('a'), t('{"x":1}'), t('1.50'), t('t')], newTuple: [t('7'), t('b'), t('{"x":1}'), t('1.50'), t('f')] }, ctx)).toEqual(u);
  });

  it('copies unchanged TOAST values from the old image, hashes oversized values, and says when the actor is unknown', () => {
    const big = 'x'.repeat(DATA_STRING_LENGTH_MAX + 1);
    const u = changeEntry(SPEC, REL, { tag: 'update', oldKind: 'full', oldTuple: [t('1'), t(big), t('[]'), { kind: 'null' }, t('t')], newTuple: [t('1'), { kind: 'unchanged' }, t('[]'), { kind: 'null' }, t('t')] }, { ...ctx, actor: null });
    expect(u.actor.id).toBe('unknown');
    const d = u.data as Record<string, Record<string, unknown>>;
    expect(d.after!.name).toMatchObject({ omitted: true, chars: big.length });
    expect(u.data!.omitted).toEqual(['before.name', 'after.name']);
    expect(validateEntry(signEntry(u, nodeSigner(new Uint8Array(32).fill(7)))).ok).toBe(true);
    // Delete with only the key (REPLICA IDENTITY DEFAULT).
    const rel2 = { ...REL, columns: REL.columns.map((c, i) => ({ ...c, key: i === 0 })) };
    const del = changeEntry(SPEC, rel2, { tag: 'delete', oldKind: 'key', oldTuple: [t('3'), { kind: 'null' }, { kind: 'null' }, { kind: 'null' }, { kind: 'null' }] }, ctx);
    expect(del.data).toMatchObject({ before: { id: 3 }, beforeKeyOnly: true });
    expect(del.data!.after).toBeUndefined();
  });

  it('a truncate is one entry for the whole table', () => {
    const e = changeEntry(SPEC, REL, { tag: 'truncate' }, ctx);
    expect(e).toMatchObject({ action: 'db.truncate', resource: { type: 'public.items', id: '*' } });
    expect(e.data!.before).toBeUndefined();
    expect(e.data!.after).toBeUndefined();
  });

  it('column values: exact numbers only', () => {
    expect(columnJson(20, '9007199254740993')).toBe('9007199254740993');
    expect(columnJson(20, '-42')).toBe(-42);
    expect(columnJson(701, 'NaN')).toBe('NaN');
    expect(columnJson(701, '1.5')).toBe(1.5);
    expect(columnJson(701, '1e+100')).toBe(1e100);
    expect(columnJson(701, '1.10')).toBe('1.10');
    expect(columnJson(3802, '{"n": 12345678901234567890}')).toBe('{"n": 12345678901234567890}');
    expect(columnJson(1700, '0.10')).toBe('0.10');
  });

  it('actor messages: only the trigger shape is taken', () => {
    expect(parseActorNote(new TextEncoder().encode('{"role":"r","login":"l","claimed":null}'))).toEqual({ role: 'r', login: 'l', claimed: null });
    expect(parseActorNote(new TextEncoder().encode('alice'))).toBeNull();
  });
});

describe('cdc config', () => {
  const base = { postgres: { database: 'app', user: 'u' }, slot: 's1', publication: 'p1', tables: [{ name: 'items' }], peer: 'http://127.0.0.1:1', key: 'k', stateFile: 'st' };
  it('fills defaults and resolves paths against the file', () => {
    const c = parseCdcConfig(JSON.stringify(base), '/etc/cairn/cdc.json');
    expect(c.tables).toEqual([{ schema: 'public', table: 'items', resourceType: 'public.items' }]);
    expect(c.key).toBe('/etc/cairn/k');
    expect(c.idPrefix).toBe('s1');
    expect(c.postgres.port).toBe(5432);
  });
  it('refuses names that would need quoting in SQL, unknown fields and out-of-range bounds', () => {
    expect(() => parseCdcConfig(JSON.stringify({ ...base, tables: [{ name: 'public."Items"' }] }), 'c.json')).toThrow(CdcConfigError);
    expect(() => parseCdcConfig(JSON.stringify({ ...base, publication: 'p; DROP TABLE x' }), 'c.json')).toThrow(CdcConfigError);
    expect(() => parseCdcConfig(JSON.stringify({ ...base, extra: 1 }), 'c.json')).toThrow(/unknown field/);
    expect(() => parseCdcConfig(JSON.stringify({ ...base, batchEntries: 5000 }), 'c.json')).toThrow(/batchEntries/);
  });
});

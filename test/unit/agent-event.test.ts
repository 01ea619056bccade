// Agent events → entries (node/agent/event.ts) and OTLP log records → events (node/agent/otlp.ts).
import { describe, expect, it } from 'vitest';
import { eventToEntry, ORIGINAL_TIME_KEY, versionEntry } from '../../node/agent/event.js';
import { otlpLogsToEvents, toAction } from '../../node/agent/otlp.js';

const NOW = Date.UTC(2026, 11, 6, 7, 0, 0);

describe('agent events', () => {
  it('fills id placeholder, time and outcome; keeps the event id; a digest only for events with an id', () => {
    const r = eventToEntry({ actor: { id: 'a' }, action: 'x.y', resource: { type: 't', id: '1' } }, NOW);
    expect(r.ok && r.entry).toMatchObject({ v: 1, time: '2026-12-06T07:00:00.000Z', outcome: 'unknown' });
    expect(r.ok && r.appId).toBeNull();
    expect(r.ok && r.digest).toBeNull();
    const g = eventToEntry({ id: 'e-1', time: '2026-12-06T06:59:00Z', actor: { id: 'a' }, action: 'x.y', resource: { type: 't', id: '1' }, outcome: 'denied' }, NOW);
    expect(g.ok && g.entry).toMatchObject({ id: 'e-1', time: '2026-12-06T06:59:00Z', outcome: 'denied' });
    expect(g.ok && g.digest).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses signed fields, the reserved data key, bad ids and invalid entries with the field named', () => {
    const base = { actor: { id: 'a' }, action: 'x.y', resource: { type: 't', id: '1' } };
    expect(eventToEntry({ ...base, sig: 'x' }, NOW)).toMatchObject({ ok: false, field: 'sig' });
    expect(eventToEntry({ ...base, data: { [ORIGINAL_TIME_KEY]: 'x' } }, NOW)).toMatchObject({ ok: false, field: `data.${ORIGINAL_TIME_KEY}` });
    expect(eventToEntry({ ...base, id: 'has space' }, NOW)).toMatchObject({ ok: false, field: 'id' });
    expect(eventToEntry({ ...base, id: 7 }, NOW)).toMatchObject({ ok: false, field: 'id' });
    expect(eventToEntry({ ...base, actor: { id: '' } }, NOW)).toMatchObject({ ok: false, field: 'actor.id' });
    expect(eventToEntry([], NOW)).toMatchObject({ ok: false });
    // A data object with no room for the original time of a re-signed version.
    const full = Object.fromEntries(Array.from({ length: 256 }, (_, i) => [`k${i}`, i]));
    expect(eventToEntry({ ...base, data: full }, NOW)).toMatchObject({ ok: false });
  });

  it('a re-signed version has a fresh time and keeps the original in data', () => {
    const r = eventToEntry({ id: 'e', time: '2026-12-06T01:00:00Z', actor: { id: 'a' }, action: 'x.y', resource: { type: 't', id: '1' }, data: { n: 1 } }, NOW);
    if (!r.ok) throw new Error(r.message);
    expect(versionEntry(r.entry, undefined)).toBe(r.entry);
    expect(versionEntry(r.entry, NOW)).toMatchObject({ id: 'e', time: '2026-12-06T07:00:00.000Z', data: { n: 1, [ORIGINAL_TIME_KEY]: '2026-12-06T01:00:00Z' } });
  });
});

describe('OTLP logs', () => {
  it('maps records, derives stable ids, bounds the record count', () => {
    const body = { resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }, scopeLogs: [{ logRecords: [{ timeUnixNano: '1765004400000000001', severityText: 'ERROR', body: { kvlistValue: { values: [{ key: 'k', value: { arrayValue: { values: [{ intValue: '9007199254740993' }] } } }] } } }] }] }] };
    const a = otlpLogsToEvents(body, 10)!;
    const b = otlpLogsToEvents(JSON.parse(JSON.stringify(body)), 10)!;
    expect(a.events).toHaveLength(1);
    expect(a.events[0]).toMatchObject({ actor: { id: 'svc', type: 'service' }, action: 'otel.log.error', resource: { type: 'service', id: 'svc' }, outcome: 'unknown', time: '2025-12-06T07:00:00.000000001Z', data: { body: { k: ['9007199254740993'] } } });
    expect(a.events[0]!.id).toBe(b.events[0]!.id);
    expect(eventToEntry(a.events[0], NOW).ok).toBe(true);
    expect(otlpLogsToEvents(body, 0)).toBeNull();
    expect(otlpLogsToEvents({}, 10)).toEqual({ events: [], rejected: 0, firstError: null });
  });

  it('actions are always valid action syntax', () => {
    expect(toAction('User.Login')).toBe('user.login');
    expect(toAction('login')).toBe('otel.login');
    expect(toAction('9.a.b')).toBe('a.b'); // a segment that is only digits is dropped
    expect(toAction('a.b.c.d.e.f.g.h.i.j').split('.')).toHaveLength(8);
    expect(toAction('')).toBe('otel.log');
  });
});

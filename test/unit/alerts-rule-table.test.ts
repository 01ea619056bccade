// Each example rule of docs/examples/rules.yaml (shown in docs/monitoring.md) fires exactly on the
// entries it should and on no other, time-zone and daylight-saving edges included; replaying the
// same range gives the same alert ids.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { Alert, FinalEntry, Rule } from '../../src/alerts/types.js';
import { loadRulesFile } from '../../node/alerts/rules-file.js';
import { log, plus, type EntrySpec } from './support/alert-entries.js';

const RULES = fileURLToPath(new URL('../../docs/examples/rules.yaml', import.meta.url));
let rules: Rule[];
beforeAll(async () => {
  rules = (await loadRulesFile(RULES, { destinations: false })).rules;
});

function run(entries: readonly FinalEntry[], ruleId: string): Alert[] {
  const engine = new AlertEngine(rules);
  return entries.flatMap((e) => engine.evaluate(e)).filter((a) => a.ruleId === ruleId);
}

/** Indexes of the entries (as lists, one per alert) that triggered `ruleId`. */
function fired(specs: EntrySpec[], ruleId: string): number[][] {
  return run(log(specs), ruleId).map((a) => a.entries.map((e) => e.index));
}

const user = (time: string, actor = 'alice'): EntrySpec => ({ time, action: 'patient.record.read', actor, resourceType: 'patient_record', resourceId: 'p1' });

describe('example rules file', () => {
  it('has the six documented rule kinds (and a temporal one)', () => {
    expect(rules.map((r) => r.id)).toEqual([
      'off-hours-access',
      'brute-force',
      'login-after-failures',
      'mass-reads',
      'sensitive-resource-outside-allow-list',
      'privilege-change',
      'auth-denied-burst',
    ]);
  });
});

describe('off-hours-access: outside 08:00–19:00 Europe/Paris, or at weekends', () => {
  const table: [string, string, boolean][] = [
    // Winter time (UTC+1), Friday 29 March 2024.
    ['Fri 07:59:59 CET', '2024-03-29T06:59:59Z', true],
    ['Fri 08:00:00 CET', '2024-03-29T07:00:00Z', false],
    ['Fri 07:30 CET (06:30Z)', '2024-03-29T06:30:00Z', true],
    ['Fri 18:59:59 CET', '2024-03-29T17:59:59Z', false],
    ['Fri 19:00:00 CET', '2024-03-29T18:00:00Z', true],
    ['Fri 23:30 UTC = Sat 00:30 Paris', '2024-03-29T23:30:00Z', true],
    ['Sat 12:00 CET', '2024-03-30T11:00:00Z', true],
    // Spring forward: Sunday 31 March 2024 02:00 CET → 03:00 CEST.
    ['Sun 03:30 CEST, just after the gap', '2024-03-31T01:30:00Z', true],
    ['Sun 12:00 CEST (weekend)', '2024-03-31T10:00:00Z', true],
    // Monday 1 April: summer time (UTC+2); the same UTC instant as Friday's 07:30 is now 08:30.
    ['Mon 08:30 CEST (06:30Z)', '2024-04-01T06:30:00Z', false],
    ['Mon 07:59 CEST', '2024-04-01T05:59:00Z', true],
    ['Mon 18:59 CEST', '2024-04-01T16:59:00Z', false],
    ['Mon 19:00 CEST (17:00Z)', '2024-04-01T17:00:00Z', true],
    // Fall back: Sunday 27 October 2024 03:00 CEST → 02:00 CET.
    ['Fri 25 Oct 08:00 CEST', '2024-10-25T06:00:00Z', false],
    ['Fri 25 Oct 19:00 CEST (17:00Z)', '2024-10-25T17:00:00Z', true],
    ['Sun 27 Oct 02:30 CEST, first pass', '2024-10-27T00:30:00Z', true],
    ['Sun 27 Oct 02:30 CET, second pass', '2024-10-27T01:30:00Z', true],
    ['Mon 28 Oct 07:59 CET', '2024-10-28T06:59:00Z', true],
    ['Mon 28 Oct 08:00 CET (07:00Z)', '2024-10-28T07:00:00Z', false],
    ['Mon 28 Oct 18:00 CET (17:00Z)', '2024-10-28T17:00:00Z', false],
    ['Mon 28 Oct 19:00 CET (18:00Z)', '2024-10-28T18:00:00Z', true],
  ];
  for (const [name, time, expected] of table) {
    it(`${name}: ${expected ? 'fires' : 'does not fire'}`, () => {
      expect(fired([user(time)], 'off-hours-access')).toEqual(expected ? [[0]] : []);
    });
  }
  it('does not fire for a service account at night', () => {
    expect(fired([{ ...user('2024-03-29T02:00:00Z'), actorType: 'service' }], 'off-hours-access')).toEqual([]);
  });
  it('renders the title from the entry', () => {
    const [a] = run(log([user('2024-03-30T11:00:00Z')]), 'off-hours-access');
    expect(a!.title).toBe('Off-hours access by alice to patient_record p1');
    expect(a!.severity).toBe('medium');
    expect(a!.destinations).toEqual(['soc-webhook', 'soc-syslog']);
  });
});

describe('brute-force: 5 failed logins per actor in 10 minutes', () => {
  const T = '2024-05-02T10:00:00Z';
  const fail = (m: number, actor = 'alice'): EntrySpec => ({ time: plus(T, m), action: 'auth.login', actor, outcome: 'failure' });
  it('fires on the fifth failure within 10 minutes, naming the five entries', () => {
    expect(fired([0, 1, 2, 3, 4].map((m) => fail(m)), 'brute-force')).toEqual([[0, 1, 2, 3, 4]]);
  });
  it('counts per actor', () => {
    expect(fired([fail(0), fail(1), fail(2), fail(3), fail(4, 'bob')], 'brute-force')).toEqual([]);
  });
  it('ignores successes and other actions', () => {
    expect(fired([fail(0), fail(1), { ...fail(2), outcome: 'success' }, fail(3), { ...fail(4), action: 'auth.logout' }], 'brute-force')).toEqual([]);
  });
  it('an entry exactly 10 minutes older is out of the window', () => {
    expect(fired([fail(0), fail(1), fail(2), fail(3), fail(10)], 'brute-force')).toEqual([]);
    expect(fired([fail(0), fail(1), fail(2), fail(3), fail(9.99)], 'brute-force')).toEqual([[0, 1, 2, 3, 4]]);
  });
  it('slides: failures spread over more than 10 minutes fire once five fit in one window', () => {
    expect(fired([fail(0), fail(3), fail(6), fail(9), fail(10.02), fail(11)], 'brute-force')).toEqual([[1, 2, 3, 4, 5]]);
  });
  it('after an alert the next one needs five new failures', () => {
    const specs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((m) => fail(m));
    expect(fired(specs, 'brute-force')).toEqual([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]);
    expect(fired(specs.slice(0, 9), 'brute-force')).toEqual([[0, 1, 2, 3, 4]]);
  });
  it('uses entry time, not log order or the wall clock: an entry dated far earlier does not count', () => {
    expect(fired([fail(0), fail(1), fail(2), fail(3), fail(-60)], 'brute-force')).toEqual([]);
  });
});

describe('login-after-failures: a failed login then a success within 2 minutes (temporal)', () => {
  const T = '2024-05-02T10:00:00Z';
  const login = (m: number, outcome: 'failure' | 'success', actor = 'alice'): EntrySpec => ({ time: plus(T, m), action: 'auth.login', actor, outcome });
  it('fires with the failure and the success', () => {
    expect(fired([login(0, 'failure'), login(1, 'success')], 'login-after-failures')).toEqual([[0, 1]]);
  });
  it('not when the success comes first, comes too late, or is another actor', () => {
    expect(fired([login(0, 'success'), login(1, 'failure')], 'login-after-failures')).toEqual([]);
    expect(fired([login(0, 'failure'), login(2, 'success')], 'login-after-failures')).toEqual([]);
    expect(fired([login(0, 'failure'), login(1, 'success', 'bob')], 'login-after-failures')).toEqual([]);
  });
  it('pairs the success with the most recent failure', () => {
    expect(fired([login(0, 'failure'), login(0.5, 'failure'), login(1, 'success')], 'login-after-failures')).toEqual([[1, 2]]);
  });
});

describe('mass-reads: one actor reading 50 different patient records in an hour', () => {
  const T = '2024-05-02T09:00:00Z';
  const read = (m: number, id: string, actor = 'mallory'): EntrySpec => ({ time: plus(T, m), action: 'patient.record.read', actor, resourceType: 'patient_record', resourceId: id });
  it('fires on the 50th distinct record within the hour', () => {
    const specs = Array.from({ length: 50 }, (_, i) => read(i, `p${i}`));
    const got = fired(specs, 'mass-reads');
    expect(got).toEqual([Array.from({ length: 50 }, (_, i) => i)]);
  });
  it('repeated reads of the same records do not count twice', () => {
    const specs = Array.from({ length: 120 }, (_, i) => read(i / 10, `p${i % 49}`));
    expect(fired(specs, 'mass-reads')).toEqual([]);
  });
  it('50 distinct records spread over more than an hour do not fire', () => {
    const specs = Array.from({ length: 50 }, (_, i) => read(i * 1.25, `p${i}`));
    expect(fired(specs, 'mass-reads')).toEqual([]);
  });
  it('counts per actor', () => {
    const specs = Array.from({ length: 50 }, (_, i) => read(i, `p${i}`, i % 2 === 0 ? 'mallory' : 'trent'));
    expect(fired(specs, 'mass-reads')).toEqual([]);
  });
  it('the title tells who and how many', () => {
    const [a] = run(log(Array.from({ length: 50 }, (_, i) => read(i, `p${i}`))), 'mass-reads');
    expect(a!.title).toBe('mallory read 50 different patient records within an hour');
    expect(a!.group).toEqual({ 'actor.id': 'mallory' });
  });
});

describe('sensitive-resource-outside-allow-list', () => {
  const at = (actor: string, resourceType: string): EntrySpec => ({ time: '2024-05-02T10:00:00Z', action: 'record.read', actor, resourceType, resourceId: 'r1' });
  const table: [string, string, boolean][] = [
    ['nurse.joe', 'psychiatric_note', true],
    ['nurse.joe', 'hiv_result', true],
    ['nurse.joe', 'genetic_test', true],
    ['dr.martin', 'psychiatric_note', false],
    ['dr.nguyen', 'genetic_test', false],
    ['nurse.joe', 'patient_record', false],
  ];
  for (const [actor, type, expected] of table) {
    it(`${actor} on ${type}: ${expected ? 'fires' : 'does not fire'}`, () => {
      expect(fired([at(actor, type)], 'sensitive-resource-outside-allow-list')).toEqual(expected ? [[0]] : []);
    });
  }
});

describe('privilege-change', () => {
  const at = (action: string, outcome: 'success' | 'failure' = 'success'): EntrySpec => ({ time: '2024-05-02T10:00:00Z', action, actor: 'admin', resourceType: 'user', resourceId: 'bob' });
  for (const action of ['iam.role.grant', 'iam.role.revoke', 'iam.user.create', 'iam.user.delete', 'iam.policy.update']) {
    it(`${action} fires`, () => expect(fired([at(action)], 'privilege-change')).toEqual([[0]]));
  }
  it('a failed grant, or a listing, does not', () => {
    expect(fired([{ ...at('iam.role.grant'), outcome: 'failure' }, at('iam.role.list')], 'privilege-change')).toEqual([]);
  });
});

describe('auth-denied-burst: 10 cairn.auth.denied for one principal in a minute', () => {
  const T = '2024-05-02T10:00:00Z';
  const denied = (s: number, actor = 'client-7'): EntrySpec => ({ time: plus(T, s / 60), action: 'cairn.auth.denied', actor, actorType: 'service', resourceType: 'cairn.log', resourceId: 'entries', outcome: 'denied' });
  it('fires on the tenth within a minute', () => {
    expect(fired(Array.from({ length: 10 }, (_, i) => denied(i * 5)), 'auth-denied-burst')).toEqual([Array.from({ length: 10 }, (_, i) => i)]);
  });
  it('not for nine, nor for ten spread over two principals, nor over more than a minute', () => {
    expect(fired(Array.from({ length: 9 }, (_, i) => denied(i)), 'auth-denied-burst')).toEqual([]);
    expect(fired(Array.from({ length: 10 }, (_, i) => denied(i, i < 5 ? 'a' : 'b')), 'auth-denied-burst')).toEqual([]);
    expect(fired(Array.from({ length: 10 }, (_, i) => denied(i * 7)), 'auth-denied-burst')).toEqual([]);
  });
});

describe('replay', () => {
  function mixedLog(): FinalEntry[] {
    const T = '2024-03-29T05:00:00Z';
    const specs: EntrySpec[] = [];
    for (let i = 0; i < 400; i++) {
      const m = i * 0.1;
      const kind = i % 7;
      if (kind === 0) specs.push({ time: plus(T, m), action: 'auth.login', actor: `u${i % 2}`, outcome: 'failure' });
      else if (kind === 1) specs.push({ time: plus(T, m), action: 'patient.record.read', actor: 'mallory', resourceType: 'patient_record', resourceId: `p${i}` });
      else if (kind === 2) specs.push({ time: plus(T, m), action: 'iam.role.grant', actor: 'admin', resourceType: 'user', resourceId: `u${i}` });
      else if (kind === 3) specs.push({ time: plus(T, m), action: 'auth.login', actor: `u${i % 2}`, outcome: 'success' });
      else specs.push({ time: plus(T, m), action: 'record.read', actor: `u${i % 5}`, resourceType: i % 11 === 0 ? 'hiv_result' : 'patient_record', resourceId: `r${i}` });
    }
    return log(specs, 1000);
  }
  it('replaying the same range twice gives identical alerts and ids; a new rule version changes the ids', () => {
    const entries = mixedLog();
    const once = (rs: Rule[]) => {
      const e = new AlertEngine(rs);
      return entries.flatMap((x) => e.evaluate(x));
    };
    const a = once(rules);
    const b = once(rules);
    expect(a.length).toBeGreaterThan(50);
    expect(new Set(a.map((x) => x.ruleId)).size).toBeGreaterThanOrEqual(5);
    expect(b).toEqual(a);
    expect(new Set(a.map((x) => x.id)).size).toBe(a.length);
    const bumped = once(rules.map((r) => ({ ...r, version: r.version + 1 })));
    expect(bumped.map((x) => x.entries)).toEqual(a.map((x) => x.entries));
    expect(bumped.some((x, i) => x.id === a[i]!.id)).toBe(false);
    // Every alert names real entries of the range, with their leaf hashes.
    const byIndex = new Map(entries.map((e) => [e.index, Buffer.from(e.leafHash).toString('hex')]));
    for (const x of a) for (const r of x.entries) expect(byIndex.get(r.index)).toBe(r.leafHash);
  });
  it('refuses entries out of log order', () => {
    const e = new AlertEngine(rules);
    const entries = mixedLog();
    e.evaluate(entries[1]!);
    expect(() => e.evaluate(entries[0]!)).toThrow(/increasing index order/);
    expect(() => e.evaluate(entries[1]!)).toThrow(/increasing index order/);
  });
});

// The evaluator's saved state: a snapshot restored into a new engine continues exactly like an
// uninterrupted one; a crash between snapshots re-evaluates the tail and the outbox accepts each
// alert once; a full outbox rolls the evaluator back and nothing is lost when it is fed again.
import { ClassicLevel } from 'classic-level';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { AlertEngine, type EngineSnapshot } from '../../src/alerts/engine.js';
import type { Alert, FinalEntry, Rule } from '../../src/alerts/types.js';
import { loadRulesFile } from '../../node/alerts/rules-file.js';
import { AlertEvaluator } from '../../node/alerts/evaluator.js';
import { Outbox, OutboxFullError } from '../../node/alerts/outbox.js';
import type { Destination } from '../../node/alerts/destinations-config.js';
import { log, plus, type EntrySpec } from './support/alert-entries.js';
import { TempDirs } from './support/storage-fixture.js';

const RULES = fileURLToPath(new URL('../../docs/examples/rules.yaml', import.meta.url));
let rules: Rule[];
let destinations: Map<string, Destination>;
beforeAll(async () => {
  const loaded = await loadRulesFile(RULES, { destinations: false });
  rules = loaded.rules;
  const names = new Set(rules.flatMap((r) => r.destinations));
  destinations = new Map([...names].map((n) => [n, { type: 'slack', name: n, url: 'http://127.0.0.1:9/' } as Destination]));
});
const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

function entries(n: number): FinalEntry[] {
  const T = '2024-03-29T05:00:00Z';
  const specs: EntrySpec[] = Array.from({ length: n }, (_, i) => {
    const time = plus(T, i * 0.1);
    if (i % 4 === 0) return { time, action: 'auth.login', actor: `u${i % 3}`, outcome: 'failure' as const };
    if (i % 4 === 1) return { time, action: 'patient.record.read', actor: 'mallory', resourceType: 'patient_record', resourceId: `p${i}` };
    if (i % 4 === 2) return { time, action: 'auth.login', actor: `u${i % 3}`, outcome: 'success' as const };
    return { time, action: 'record.read', actor: 'svc', actorType: 'service', resourceType: i % 9 === 0 ? 'hiv_result' : 'x', resourceId: `r${i}` };
  });
  return log(specs);
}

async function openDb(dir: string): Promise<ClassicLevel<Uint8Array, Uint8Array>> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  return db;
}

const ids = (as: Alert[]) => as.map((a) => a.id);
/** Every (alert id, destination) pair the alerts ask for. */
const pairs = (as: Alert[]) => as.flatMap((a) => a.destinations.map((d) => `${a.id} ${d}`)).sort();

describe('engine snapshots', () => {
  it('restoring a snapshot (through JSON) continues exactly like an uninterrupted engine', () => {
    const es = entries(600);
    const whole = new AlertEngine(rules);
    const expected = es.flatMap((e) => whole.evaluate(e));
    expect(new Set(expected.map((a) => a.ruleId)).size).toBeGreaterThanOrEqual(4);
    for (const cut of [1, 137, 300, 599]) {
      const a = new AlertEngine(rules);
      const first = es.slice(0, cut).flatMap((e) => a.evaluate(e));
      const snap = JSON.parse(JSON.stringify(a.snapshot())) as EngineSnapshot;
      expect(snap.nextIndex).toBe(cut);
      const b = new AlertEngine(rules);
      b.restore(snap);
      const rest = es.slice(cut).flatMap((e) => b.evaluate(e));
      expect(ids([...first, ...rest])).toEqual(ids(expected));
    }
  });
});

describe('AlertEvaluator', () => {
  it('after a crash between snapshots it resumes at the saved index; the outbox holds every alert once', async () => {
    const es = entries(600);
    const whole = new AlertEngine(rules);
    const expected = es.flatMap((e) => whole.evaluate(e));
    const dir = await dirs.make();
    let db = await openDb(dir);
    let outbox = await Outbox.open(db, { destinations, senders: {}, maxQueued: 100_000 });
    let ev = await AlertEvaluator.open(db, { rules, outbox, snapshotEvery: 100 });
    for (let i = 0; i < 450; i += 50) await ev.onFinal(es.slice(i, i + 50));
    expect(ev.nextIndex()).toBe(450);
    // "Crash": drop everything in memory without saving; the last snapshot was at 400.
    await db.close();
    db = await openDb(dir);
    outbox = await Outbox.open(db, { destinations, senders: {}, maxQueued: 100_000 });
    ev = await AlertEvaluator.open(db, { rules, outbox, snapshotEvery: 100 });
    expect(ev.nextIndex()).toBe(400);
    for (let i = 400; i < 600; i += 50) await ev.onFinal(es.slice(i, i + 50));
    const queued = outbox.pending().map((p) => `${p.alert.id} ${p.dest}`).sort();
    expect(queued).toEqual(pairs(expected));
    await db.close();
  });

  it('a full outbox rolls back to the saved snapshot; fed again after room is made, nothing is lost', async () => {
    const es = entries(400);
    const whole = new AlertEngine(rules);
    const expected = es.flatMap((e) => whole.evaluate(e));
    const db = await openDb(await dirs.make());
    const delivered: string[] = [];
    const sender = async (_d: Destination, q: { alert: Alert; dest: string }) => void delivered.push(`${q.alert.id} ${q.dest}`);
    const outbox = await Outbox.open(db, { destinations, senders: { slack: sender }, maxQueued: 40, tickMs: 5 });
    const ev = await AlertEvaluator.open(db, { rules, outbox, snapshotEvery: 20 });
    let refusals = 0;
    const end = Date.now() + 20_000;
    while (ev.nextIndex() < es.length) {
      if (Date.now() > end) throw new Error('evaluation did not finish');
      const from = ev.nextIndex();
      try {
        await ev.onFinal(es.slice(from, from + 20));
      } catch (e) {
        expect(e).toBeInstanceOf(OutboxFullError);
        expect(ev.nextIndex()).toBeLessThanOrEqual(from);
        refusals++;
        // Make room: deliver what is queued.
        outbox.start();
        await new Promise((r) => setTimeout(r, 30));
        await outbox.stop();
      }
    }
    outbox.start();
    const end2 = Date.now() + 10_000;
    while (outbox.pending().length > 0 && Date.now() < end2) await new Promise((r) => setTimeout(r, 10));
    await outbox.stop();
    expect(refusals).toBeGreaterThan(0);
    expect(delivered.sort()).toEqual(pairs(expected));
    await db.close();
  });

  it('new rules: state of unchanged rules is kept, a changed rule starts afresh under its new version', async () => {
    const db = await openDb(await dirs.make());
    const outbox = await Outbox.open(db, { destinations, senders: {}, maxQueued: 100_000 });
    const ev = await AlertEvaluator.open(db, { rules, outbox, snapshotEvery: 1000 });
    const T = '2024-05-02T10:00:00Z';
    const fail = (m: number, actor: string): EntrySpec => ({ time: plus(T, m), action: 'auth.login', actor, outcome: 'failure' });
    const es = log([fail(0, 'a'), fail(1, 'a'), fail(2, 'a'), fail(3, 'a'), fail(4, 'a')]);
    await ev.onFinal(es.slice(0, 4));
    // Bump login-after-failures only: brute-force keeps its 4 failures and fires on the 5th.
    await ev.replaceRules(rules.map((r) => (r.id === 'login-after-failures' ? { ...r, version: 2 } : r)));
    expect(ev.nextIndex()).toBe(4);
    const made = await ev.onFinal(es.slice(4));
    expect(made.filter((a) => a.ruleId === 'brute-force').map((a) => a.entries.map((e) => e.index))).toEqual([[0, 1, 2, 3, 4]]);
    // Bumping brute-force drops its state: the same 5th failure alone fires nothing.
    const db2 = await openDb(await dirs.make());
    const ev2 = await AlertEvaluator.open(db2, { rules, outbox: await Outbox.open(db2, { destinations, senders: {} }), snapshotEvery: 1000 });
    await ev2.onFinal(es.slice(0, 4));
    await ev2.replaceRules(rules.map((r) => (r.id === 'brute-force' ? { ...r, version: 2 } : r)));
    expect((await ev2.onFinal(es.slice(4))).filter((a) => a.ruleId === 'brute-force')).toEqual([]);
    await db.close();
    await db2.close();
  });
});

// The meta-audit queue (real LevelDB in temp dirs): durable before record() resolves, group
// commit, bounded coalescing, 'full' at the bound with overflow counters, and entries that are
// always valid.
import { ClassicLevel } from 'classic-level';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MetaAuditQueue, type QueuedRecord } from '../../node/meta-audit/queue.js';
import { recordEntry, signRecord } from '../../node/meta-audit/entry.js';
import { nodeSigner } from '../../src/crypto/node.js';
import { validateEntry } from '../../src/entry/validate.js';
import { DEFAULT_META_AUDIT_LIMITS, type MetaAuditEvent, type MetaAuditLimits } from '../../node/meta-audit/types.js';
import { validateUnsignedEntry } from '../../src/entry/validate.js';
import { TempDirs } from './support/storage-fixture.js';

const dirs = new TempDirs();
const queues: MetaAuditQueue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.close().catch(() => undefined);
  await dirs.removeAll();
});

async function openQueue(dir: string, limits: Partial<MetaAuditLimits> = {}, opts: { failClosed?: boolean; now?: () => number } = {}): Promise<MetaAuditQueue> {
  const q = await MetaAuditQueue.open(dir, { ...DEFAULT_META_AUDIT_LIMITS, ...limits }, opts);
  queues.push(q);
  return q;
}

function ev(actor: string, resource = 'e1', over: Partial<MetaAuditEvent> = {}): MetaAuditEvent {
  return { actor, action: 'cairn.read.entry', resource: { type: 'entry', id: resource }, address: '10.0.0.7', outcome: 'success', atMs: Date.now(), ...over };
}

const all = (q: MetaAuditQueue): QueuedRecord[] => [...q.records.values()];

// Records the sync option of every write LevelDB is asked for (put/batch live on a shared prototype).
const writes: { method: string; sync: boolean; ops: number }[] = [];
const proto = Object.getPrototypeOf(ClassicLevel.prototype) as Record<'put' | 'batch', (...a: unknown[]) => unknown>;
const original = { put: proto.put, batch: proto.batch };
beforeAll(() => {
  proto.put = function (this: unknown, ...args: unknown[]) {
    writes.push({ method: 'put', sync: (args[2] as { sync?: boolean } | undefined)?.sync === true, ops: 1 });
    return original.put.apply(this, args);
  };
  proto.batch = function (this: unknown, ...args: unknown[]) {
    if (Array.isArray(args[0])) writes.push({ method: 'batch', sync: (args[1] as { sync?: boolean } | undefined)?.sync === true, ops: args[0].length });
    if (args.length > 0) return original.batch.apply(this, args);
    // Chained form: db.batch() → put/del … → write(options), recorded when written.
    type Chained = { put: (...a: unknown[]) => unknown; del: (...a: unknown[]) => unknown; write: (o?: { sync?: boolean }) => Promise<void> };
    const b = original.batch.apply(this, args) as Chained;
    let n = 0;
    const { put, del, write } = b;
    b.put = function (this: unknown, ...a: unknown[]) {
      n++;
      return put.apply(this, a);
    };
    b.del = function (this: unknown, ...a: unknown[]) {
      n++;
      return del.apply(this, a);
    };
    b.write = function (this: unknown, o?: { sync?: boolean }) {
      writes.push({ method: 'batch', sync: o?.sync === true, ops: n });
      return write.call(this, o);
    };
    return b;
  };
});
afterAll(() => {
  proto.put = original.put;
  proto.batch = original.batch;
});

describe('meta-audit queue durability', () => {
  it('a recorded event is synced before record() resolves and is there after reopening (no pump)', async () => {
    const dir = await dirs.make();
    const q = await openQueue(dir);
    const instance = q.instance;
    writes.length = 0;
    expect(await q.record(ev('key:alice', 'e1', { outcome: 'denied', reason: 'expired_token', action: 'cairn.auth.denied' }))).toBe('queued');
    // The write that carried it was synced.
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((w) => w.sync)).toBe(true);
    await q.close();
    queues.length = 0;
    const again = await openQueue(dir);
    expect(again.instance).toBe(instance);
    expect(all(again).map((r) => [r.actor, r.action, r.outcome, r.reason, r.address, r.count, r.resources])).toEqual([
      ['key:alice', 'cairn.auth.denied', 'denied', 'expired_token', '10.0.0.7', 1, [{ type: 'entry', id: 'e1' }]],
    ]);
    // Sequence numbers continue after a restart: no id is ever reused.
    await again.record(ev('key:bob'));
    expect(all(again).map((r) => r.seq)).toEqual([0, 1]);
  });

  it('group-commits concurrent records into few synced batches', async () => {
    const q = await openQueue(await dirs.make());
    writes.length = 0;
    const n = 300;
    const r = await Promise.all(Array.from({ length: n }, (_, i) => q.record(ev(`key:user${i}`))));
    expect(r.every((x) => x === 'queued')).toBe(true);
    expect(q.size).toBe(n);
    const batches = writes.filter((w) => w.method === 'batch');
    expect(batches.every((w) => w.sync)).toBe(true);
    // One record per event plus the sequence counter per batch; far fewer batches than events.
    expect(batches.reduce((s, w) => s + w.ops, 0)).toBe(n + batches.length);
    expect(batches.length).toBeLessThanOrEqual(3);
  });
});

describe('meta-audit coalescing', () => {
  it('merges a burst of one principal into bounded records, listing every distinct resource', async () => {
    let now = 1_000_000;
    const q = await openQueue(await dirs.make(), { coalesceResourcesMax: 8, coalesceWindowMs: 1000 }, { now: () => now });
    for (let i = 0; i < 20; i++) await q.record(ev('key:bulk', `e${i}`, { atMs: now }));
    // The same resource read again only counts.
    for (let i = 0; i < 5; i++) await q.record(ev('key:bulk', 'e19', { atMs: now }));
    let recs = all(q);
    expect(recs.map((r) => r.resources.length)).toEqual([8, 8, 4]);
    expect(recs.map((r) => r.count)).toEqual([8, 8, 9]);
    expect(recs.flatMap((r) => r.resources.map((x) => x.id))).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`));
    // Another address, action or outcome is another record.
    await q.record(ev('key:bulk', 'e0', { address: '10.0.0.8' }));
    await q.record(ev('key:bulk', 'e0', { action: 'cairn.read.bundle' }));
    expect(q.size).toBe(5);
    // After the window a new record starts.
    now += 1000;
    await q.record(ev('key:bulk', 'e19', { atMs: now }));
    recs = all(q);
    expect(recs.length).toBe(6);
    expect(q.counters).toMatchObject({ events: 28, coalesced: 22 });
  });

  it('only frozen, synced records are ready; a record frozen for submission is never changed again', async () => {
    let now = 5_000_000;
    const q = await openQueue(await dirs.make(), { coalesceWindowMs: 1000 }, { now: () => now });
    await q.record(ev('key:a', 'x', { atMs: now }));
    expect(q.ready(10, () => false)).toEqual([]); // window still open
    now += 1000;
    const ready = q.ready(10, () => false);
    expect(ready.map((r) => r.count)).toEqual([1]);
    await q.record(ev('key:a', 'y', { atMs: now }));
    expect(all(q).map((r) => [r.seq, r.count, r.resources.map((x) => x.id)])).toEqual([
      [0, 1, ['x']],
      [1, 1, ['y']],
    ]);
    // Windows run on the queue's clock: an event claiming a far-future time does not keep its record open.
    await q.record(ev('key:clock', 'z', { atMs: now + 1e12 }));
    now += 1000;
    expect(q.ready(10, () => false).map((r) => r.actor)).toEqual(['key:a', 'key:a', 'key:clock']);
  });
});

describe("meta-audit queue bound ('full')", () => {
  it("answers 'full' at the record bound and counts the events in overflow counters, then a catch-all", async () => {
    const dir = await dirs.make();
    const q = await openQueue(dir, { maxRecords: 3, overflowRecordsMax: 2 });
    for (let i = 0; i < 3; i++) expect(await q.record(ev(`key:u${i}`))).toBe('queued');
    // A burst of an actor with an open record still merges.
    expect(await q.record(ev('key:u0', 'another'))).toBe('queued');
    expect(await q.record(ev('key:u3'))).toBe('full');
    expect(await q.record(ev('key:u3', 'z'))).toBe('full');
    expect(await q.record(ev('key:u4', 'z', { outcome: 'denied', action: 'cairn.auth.denied' }))).toBe('full');
    // Overflow counters are at their bound: the rest goes to one catch-all counter.
    expect(await q.record(ev('key:u5'))).toBe('full');
    expect(await q.record(ev('key:u6'))).toBe('full');
    const over = all(q).filter((r) => r.overflow);
    expect(over.map((r) => [r.actor, r.action, r.count, r.catchAll ?? false])).toEqual([
      ['key:u3', 'cairn.read.entry', 2, false],
      ['key:u4', 'cairn.auth.denied', 1, false],
      ['*', 'cairn.meta-audit.overflow', 2, true],
    ]);
    expect(q.counters).toMatchObject({ full: 5, overflow: 5 });
    // Every event is accounted for, durably.
    await q.close();
    queues.length = 0;
    const again = await openQueue(dir, { maxRecords: 3, overflowRecordsMax: 2 });
    expect(all(again).reduce((s, r) => s + r.count, 0)).toBe(9);
  });

  it('with failClosed, a successful read at the bound is not counted (it was refused), a denial is', async () => {
    const q = await openQueue(await dirs.make(), { maxRecords: 1 }, { failClosed: true });
    expect(await q.record(ev('key:a'))).toBe('queued');
    expect(await q.record(ev('key:b'))).toBe('full');
    expect(await q.record(ev('key:c', 'x', { outcome: 'denied', action: 'cairn.auth.denied' }))).toBe('full');
    expect(all(q).map((r) => [r.actor, r.overflow ?? false])).toEqual([
      ['key:a', false],
      ['key:c', true],
    ]);
  });

  it("answers 'full' at the byte bound", async () => {
    const q = await openQueue(await dirs.make(), { maxBytes: 2_000 });
    const big = 'r'.repeat(300);
    const answers: string[] = [];
    for (let i = 0; i < 10; i++) answers.push(await q.record(ev(`key:${i}`, big)));
    expect(answers).toContain('full');
    expect(q.sizeBytes).toBeLessThanOrEqual(2_000 + 2 * 1024);
    expect(answers.indexOf('full')).toBeGreaterThan(0);
  });
});

describe('meta-audit entries', () => {
  it('are valid entries whatever the principal, resource or address look like', () => {
    const base: QueuedRecord = {
      seq: 7,
      actor: 'https://idp.example#alice',
      action: 'cairn.read.entry',
      outcome: 'success',
      address: '2001:db8::1',
      firstAt: Date.now(),
      lastAt: Date.now(),
      count: 3,
      resources: [{ type: 'entry', id: 'a' }, { type: 'query', id: 'tenant == "acme"' }],
    };
    const good = recordEntry(base, '0011223344556677', Date.now());
    expect(validateUnsignedEntry(good).ok).toBe(true);
    expect(good).toMatchObject({ id: 'ma-0011223344556677-7', actor: { id: 'https://idp.example#alice' }, action: 'cairn.read.entry', resource: { type: 'entry', id: 'a' }, outcome: 'success', source: { ip: '2001:db8::1' } });
    expect(good.data).toMatchObject({ count: 3, resources: [{ type: 'entry', id: 'a' }, { type: 'query', id: 'tenant == "acme"' }] });
    const hostile = recordEntry(
      { ...base, actor: 'evil\u202e\u0000' + 'x'.repeat(600), action: 'NOT AN ACTION', address: 'unix:/sock', reason: 'bad\nreason', resources: [{ type: 'Weird Type', id: '' }] },
      '0011223344556677',
      Date.now(),
    );
    expect(validateUnsignedEntry(hostile).ok).toBe(true);
    expect(hostile.actor.id).toMatch(/^sha256:[0-9a-f]{48}$/);
    expect(hostile.action).toBe('cairn.read.other');
    expect(hostile.source).toBeUndefined();
    expect(hostile.data).toMatchObject({ address: 'unix%3A%2Fsock', actionText: 'NOT%20AN%20ACTION' });
    // 32 long non-ASCII resource names: the originals would not fit; the digests of all 32 do.
    const long = Array.from({ length: 32 }, (_, i) => ({ type: 'query', id: `${i}:` + 'é'.repeat(1020) }));
    const signed = signRecord({ ...base, resources: long }, '0011223344556677', Date.now(), nodeSigner(new Uint8Array(32).fill(3)));
    expect(validateEntry(signed).ok).toBe(true);
    expect((signed.data as { resources: unknown[] }).resources).toHaveLength(32);
    expect(signed.data).toMatchObject({ originalsOmitted: true });
    const over = recordEntry({ ...base, resources: [], overflow: true, actor: '*', action: 'cairn.meta-audit.overflow', outcome: 'unknown', catchAll: true, address: '' }, 'ab', Date.now());
    expect(validateUnsignedEntry(over).ok).toBe(true);
    expect(over).toMatchObject({ resource: { type: 'cairn.meta-audit', id: 'overflow-all' }, outcome: 'unknown', data: { overflow: true, count: 3 } });
  });
});

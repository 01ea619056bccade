// Mempool admission rules with a real LevelDB store behind the "already logged" lookups.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signEntry, entryLeaf } from '../../src/entry/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { openStore, type Store } from '../../node/storage/store.js';
import { Mempool, GOSSIP_BATCH_DELAY_MS, GOSSIP_BATCH_ENTRIES_MAX } from '../../node/peer/mempool.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';
import { toHex } from '../../src/encoding/bytes.js';

const orgs = await makeOrgs(4, 'mp');
const clients = makeClients(3, 'mpc');
const genesis = makeGenesis(orgs, clients, { limits: { mempoolMaxEntries: 2_000, maxBlockEntries: 100, maxClockSkewMs: 60_000 } });
let dir: string;
let store: Store;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-mp-'));
  store = await openStore(join(dir, 'store'), { genesisHash: genesis.hash });
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

function pool(opts: { maxEntries?: number; maxBytes?: number; gossip?: (l: Uint8Array[]) => void; finalSize?: number } = {}) {
  return new Mempool(
    { mempoolMaxEntries: opts.maxEntries ?? 2_000, mempoolMaxBytes: opts.maxBytes ?? 64 * 1024 * 1024, maxClockSkewMs: 60_000 },
    createEntryChecker(genesis),
    { indexOfLeafHash: (h) => store.indexOfLeafHash(h), lookupClientId: (c, i) => store.lookupClientId(c, i), finalSize: () => opts.finalSize ?? 0 },
    opts.gossip ?? null,
  );
}

function entry(id: string, over: Partial<AuditEntry> = {}, client = clients[0]!): AuditEntry {
  return signEntry(
    { v: 1, id, time: new Date().toISOString(), actor: { id: 'u' }, action: 'a.b', resource: { type: 't', id: 'r' }, outcome: 'success', ...over } as any,
    client.signer,
  );
}

describe('mempool admission', () => {
  it('accepts, deduplicates and reports known-pending', async () => {
    const m = pool();
    const e = entry('x1');
    const [r1] = await m.submit([e]);
    expect(r1).toMatchObject({ status: 'accepted' });
    const [r2] = await m.submit([e]);
    expect(r2).toMatchObject({ status: 'known-pending' });
    expect(m.size).toBe(1);
    expect((r1 as any).leafHash).toBe((r2 as any).leafHash);
  });

  it('refuses with a specific code for every kind of bad entry', async () => {
    const m = pool();
    const good = entry('x2');
    const codeOf = async (x: unknown) => {
      const [r] = await m.submit([x]);
      return 'error' in r! ? r.error.code : r!.status;
    };
    expect(await codeOf({ v: 1 })).toBe('malformed');
    expect(await codeOf('not an object')).toBe('malformed');
    const [mf] = await m.submit([{ ...good, outcome: 'maybe' }]);
    expect(mf).toMatchObject({ error: { code: 'malformed' } });
    expect((mf as any).error.field).toBeDefined();
    const stranger = makeClients(1, 'stranger')[0]!;
    expect(await codeOf(entry('x3', {}, stranger))).toBe('unknown_client');
    expect(await codeOf({ ...good, actor: { id: 'someone-else' } })).toBe('bad_signature');
    expect(await codeOf(entry('x4', { time: '2001-01-01T00:00:00Z' }))).toBe('clock_skew');
    // Field limits are schema violations (malformed, with the field and the named limit).
    const [big] = await m.submit([{ ...good, data: { blob: 'y'.repeat(70_000) } }]);
    expect(big).toMatchObject({ error: { code: 'malformed', field: 'data.blob' } });
    expect((big as any).error.message).toMatch(/DATA_STRING_LENGTH_MAX/);
    const [many] = await m.submit(new Array(10_001).fill(good));
    expect(many).toMatchObject({ error: { code: 'too_large' } });
    await m.submit([good]);
    expect(await codeOf(entry('x2', { reason: 'different content, same id' }))).toBe('conflict');
    expect(await codeOf(await Promise.resolve(entry('x2')))).toMatch(/known-pending|conflict/);
    expect(m.size).toBe(1);
  });

  it('bounds count and bytes: refuses with busy, never grows', async () => {
    const m = pool({ maxEntries: 10 });
    const res = await m.submit(makeEntries(clients, 15, 'busy'));
    expect(res.filter((r) => 'status' in r).length).toBe(10);
    const busy = res.filter((r) => 'error' in r);
    expect(busy.length).toBe(5);
    for (const b of busy) expect((b as any).error.code).toBe('busy');
    expect((busy[0] as any).error.message).toMatch(/mempoolMaxEntries/);
    expect(m.size).toBe(10);
    const mb = pool({ maxBytes: 65_536 });
    const r2 = await mb.submit(makeEntries(clients, 400, 'bytes'));
    expect(r2.some((r) => 'error' in r && r.error.code === 'busy')).toBe(true);
    expect(mb.sizeBytes).toBeLessThanOrEqual(65_536);
  });

  it('gossips accepted entries in batches and admits valid gossip, dropping invalid leaves', async () => {
    const batches: Uint8Array[][] = [];
    const m = pool({ gossip: (l) => batches.push(l) });
    const es = makeEntries(clients, 1_200, 'gossip');
    await m.submit(es);
    m.flush();
    expect(batches.reduce((s, b) => s + b.length, 0)).toBe(1_200);
    for (const b of batches) expect(b.length).toBeLessThanOrEqual(GOSSIP_BATCH_ENTRIES_MAX);
    expect(batches.length).toBeLessThan(10); // batched, not one message per entry
    const other = pool();
    const leaves = es.slice(0, 50).map(entryLeaf);
    const tampered = entryLeaf(es[50]!).slice();
    tampered[tampered.length - 5] = tampered[tampered.length - 5]! ^ 1;
    const added = await other.receiveGossip([...leaves, tampered, new Uint8Array([1, 2, 3])]);
    expect(added).toBe(50);
    expect(other.stats.gossipDropped).toBe(2);
  });

  it('take() returns the oldest entries bounded by count and bytes; removeLogged drops same (client, id)', async () => {
    const m = pool();
    const es = makeEntries(clients, 30, 'take');
    await m.submit(es);
    const first = m.take(10, 1e9, Date.now(), (l) => l.length);
    expect(first.length).toBe(10);
    expect(toHex(first[0]!.leafHash)).toBe(toHex(createEntryChecker(genesis).leafHash(entryLeaf(es[0]!))));
    const byBytes = m.take(100, first[0]!.leaf.length * 3, Date.now(), (l) => l.length);
    expect(byBytes.length).toBeLessThanOrEqual(3);
    m.removeLogged(first.map((e) => ({ leafHash: e.leafHash, client: e.client, id: e.id })));
    expect(m.size).toBe(20);
    const p = m.take(1, 1e9, Date.now(), (l) => l.length)[0]!;
    m.removeLogged([{ leafHash: new Uint8Array(32), client: p.client, id: p.id }]);
    expect(m.size).toBe(19);
    expect(m.pendingByClientId(p.client, p.id)).toBeUndefined();
  });

  it('sends a lone entry at once when idle, batches entries that arrive within the window after a batch', async () => {
    // Timers and the mempool's clock (Date.now) are fake; setImmediate stays real: submit()
    // yields with it, and LevelDB answers on real I/O.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const batches: number[] = [];
      const m = pool({ gossip: (leaves) => batches.push(leaves.length) });
      const es = makeEntries(clients, 30, 'gossip-flush');

      // Idle: the first entry leaves on the next turn of the event loop (setImmediate, not a
      // clamped timer), without waiting for a batch to fill.
      await m.submit([es[0]!]);
      expect(batches).toEqual([]);
      await new Promise((r) => setImmediate(r));
      expect(batches).toEqual([1]);

      // Within the window opened by that batch: held until the window ends, then sent together.
      vi.advanceTimersByTime(5);
      await m.submit([es[1]!]);
      await m.submit(es.slice(2, 5));
      vi.advanceTimersByTime(GOSSIP_BATCH_DELAY_MS - 5 - 1);
      expect(batches).toEqual([1]);
      vi.advanceTimersByTime(1);
      expect(batches).toEqual([1, 4]);

      // A steady stream (one entry every 2 ms for 40 ms) goes in batches, at most one per window.
      for (let i = 5; i < 25; i++) {
        await m.submit([es[i]!]);
        vi.advanceTimersByTime(2);
      }
      vi.advanceTimersByTime(GOSSIP_BATCH_DELAY_MS);
      expect(batches.reduce((a, b) => a + b, 0)).toBe(25);
      expect(batches.length).toBeLessThanOrEqual(2 + Math.ceil(40 / GOSSIP_BATCH_DELAY_MS) + 1);

      // A quiet spell longer than the window: the next entry again leaves at once.
      vi.advanceTimersByTime(GOSSIP_BATCH_DELAY_MS + 1);
      const before = batches.length;
      await m.submit([es[25]!]);
      await new Promise((r) => setImmediate(r));
      expect(batches.length).toBe(before + 1);
      expect(batches.at(-1)).toBe(1);

      // Building a block sends the pending batch first (the proposal must not overtake its entries).
      await m.submit([es[26]!, es[27]!]);
      expect(batches.length).toBe(before + 1);
      expect(m.take(100, 1e9, Date.now(), (l) => l.length).length).toBe(28);
      expect(batches.length).toBe(before + 2);
      expect(batches.at(-1)).toBe(2);
      m.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

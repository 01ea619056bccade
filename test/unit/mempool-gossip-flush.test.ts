// When accepted entries are gossiped (the production mempool, a real LevelDB store, fake timers
// and clock): an entry accepted after a quiet spell leaves at once; entries accepted within
// GOSSIP_BATCH_DELAY_MS of the last batch wait for the end of that window and share one batch.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../node/storage/store.js';
import { GOSSIP_BATCH_DELAY_MS, Mempool } from '../../node/peer/mempool.js';
import { createEntryChecker } from '../../node/peer/entries.js';
import { makeClients, makeGenesis, makeOrgs } from '../peer-support/fixtures.js';
import { makeEntries } from '../peer-support/cluster.js';

const orgs = await makeOrgs(4, 'mgf');
const clients = makeClients(2, 'mgfc');
const genesis = makeGenesis(orgs, clients, { limits: { mempoolMaxEntries: 2_000, maxBlockEntries: 100, maxClockSkewMs: 600_000 } });
let dir: string;
let store: Store;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-mgf-'));
  store = await openStore(join(dir, 'store'), { genesisHash: genesis.hash });
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('mempool entry gossip timing', () => {
  it('sends a lone entry at once when idle, batches entries that arrive within the window after a batch', async () => {
    // setImmediate stays real: submit() yields with it, and LevelDB answers on real I/O.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const batches: number[] = [];
    const m = new Mempool(
      { mempoolMaxEntries: 2_000, mempoolMaxBytes: 64 * 1024 * 1024, maxClockSkewMs: 600_000 },
      createEntryChecker(genesis),
      { indexOfLeafHash: (h) => store.indexOfLeafHash(h), lookupClientId: (c, i) => store.lookupClientId(c, i), finalSize: () => 0 },
      (leaves) => batches.push(leaves.length),
      () => Date.now(),
    );
    const es = makeEntries(clients, 30, 'gossip-flush');

    // Idle: the first entry leaves on the next timer turn, without waiting for a batch to fill.
    await m.submit([es[0]!]);
    vi.advanceTimersByTime(0);
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
    vi.advanceTimersByTime(0);
    expect(batches.length).toBe(before + 1);
    expect(batches.at(-1)).toBe(1);
    m.stop();
  });
});

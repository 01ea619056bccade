// A time range whose matches lie more than one read batch of time summaries (512 chunks of 256
// leaves) away from where the walk starts: the engine must keep reading summaries, not conclude
// that nothing matches. Leaves between the entries are not entries (never indexed), so the log is
// cheap to build while its chunks span far more than one batch.
import { afterEach, describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { signNote } from '../../src/checkpoint/note.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { openStore, type Store } from '../../node/storage/index.js';
import { SearchEngine } from '../../node/search/query.js';
import { TempDirs, appendBlock } from './support/storage-fixture.js';
import { ORGS, ORIGIN } from './support/search-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

const T0 = Date.parse('2026-03-01T00:00:00Z');
const CHUNKS = 1200;

function leafAt(i: number): Uint8Array {
  if (i % 256 !== 0) return utf8('-');
  const k = i / 256;
  return utf8(JSON.stringify({ action: 'x.y', actor: { id: 'a' }, client: 'c', id: `e${k}`, outcome: 'success', resource: { id: 'i', type: 't' }, sig: 's', time: new Date(T0 + k * 1000).toISOString(), v: 1 }));
}

describe('time ranges far from the start of the walk', () => {
  it('are found in both orders, across many batches of time summaries', async () => {
    const store = await openStore(await dirs.make());
    open.push(store);
    const total = CHUNKS * 256;
    for (let at = 0; at < total; at += 25_600) await appendBlock(store, Array.from({ length: 25_600 }, (_, j) => leafAt(at + j)));
    const head = store.head()!;
    await store.putCheckpoint(head.treeSize, utf8(signNote(formatCheckpoint({ origin: ORIGIN, size: head.treeSize, root: head.root }), ORGS.slice(0, 3))), true);
    const engine = await SearchEngine.open(store);
    for (const k of [0, 3, 600, 1100, CHUNKS - 1]) {
      for (const order of ['oldest', 'newest'] as const) {
        const got: number[] = [];
        let cursor: string | undefined;
        for (let n = 0; n < 100; n++) {
          const p = await engine.search({ fromMs: T0 + k * 1000, toMs: T0 + k * 1000 + 1 }, { order, limit: 10, ...(cursor !== undefined ? { cursor } : {}) });
          got.push(...p.results.map((r) => r.index));
          if (p.next === undefined) break;
          cursor = p.next;
        }
        expect(got, `chunk ${k} ${order}`).toEqual([k * 256]);
      }
    }
  }, 120_000);
});

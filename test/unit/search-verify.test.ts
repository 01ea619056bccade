// Verifiable search answers: an honest page verifies against the trust file; a peer that lies —
// drops a matching entry, adds an entry from outside the range or filter, alters an entry, serves
// a proof for another checkpoint, reorders, or pins a checkpoint without a quorum — is caught by
// verifySearchAnswer or verifyComplete, each with its specific code. Resource history and diffs.
import { afterEach, describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { signNote } from '../../src/checkpoint/note.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { entryLeaf } from '../../src/entry/leaf.js';
import { signEntry } from '../../src/entry/sign.js';
import { inclusionProof } from '../../src/merkle/index.js';
import { diffJson, historySteps } from '../../src/search/diff.js';
import { verifyComplete, verifySearchAnswer, type AnswerResult, type SearchAnswer } from '../../src/search/verify.js';
import { openStore, type Store } from '../../node/storage/index.js';
import { SearchEngine, type SearchPage } from '../../node/search/query.js';
import { resourceHistory } from '../../node/search/history.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs } from './support/storage-fixture.js';
import { CLIENTS, ORGS, ORIGIN, SearchLog, T0, testTrust } from './support/search-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

const trust = testTrust();
const opts = { verifier: nodeVerifier };

async function setup(): Promise<{ log: SearchLog; engine: SearchEngine }> {
  const store = await openStore(await dirs.make());
  open.push(store);
  const log = new SearchLog(store, new SeededRandom('search-verify'));
  for (let b = 0; b < 12; b++) await log.appendBlock(20);
  return { log, engine: await SearchEngine.open(store) };
}

/** Honest fetch of entries [from, to) with proofs at `size` (what an auditor reads from bundles + tiles). */
function honestFetch(store: Store, size: number, skip?: number) {
  return async (from: number, to: number): Promise<AnswerResult[]> => {
    const leaves = await store.getLeaves(from, to - from);
    const out: AnswerResult[] = [];
    for (let k = 0; k < leaves.length; k++) {
      if (from + k === skip) continue;
      out.push({ index: from + k, entry: leaves[k]!, proof: await inclusionProof(store, from + k, size) });
    }
    return out;
  };
}

function codes(r: { ok: boolean; failures?: { code: string }[] }): string[] {
  return r.ok ? [] : [...new Set(r.failures!.map((f) => f.code))];
}

describe('verifying search answers', () => {
  it('an honest answer (every page) verifies, and verifyComplete finds nothing left out', async () => {
    const { log, engine } = await setup();
    const pages: SearchPage[] = [];
    let cursor: string | undefined;
    do {
      const p = await engine.search({ actionPrefix: 'db.' }, cursor === undefined ? { limit: 25, order: 'oldest' } : { cursor, limit: 25 });
      pages.push(p);
      cursor = p.next;
    } while (cursor !== undefined);
    expect(pages.length).toBeGreaterThan(2);
    for (const p of pages) {
      const v = verifySearchAnswer(trust, p, opts);
      expect(v.ok).toBe(true);
      if (v.ok) expect(v.entries.every((e) => e.action.startsWith('db.'))).toBe(true);
    }
    const c = await verifyComplete(trust, pages, { ...opts, fetch: honestFetch(log.store, pages[0]!.treeSize) });
    expect(c).toEqual({ ok: true, checked: pages[0]!.treeSize });
  });

  it('a pure time range answer names its contiguous covered range; completeness is checked over it', async () => {
    const { log, engine } = await setup();
    const page = await engine.search({ fromMs: T0 + 50_000, toMs: T0 + 90_000 }, { order: 'oldest', limit: 1000 });
    expect(page.plan.streams).toEqual(['time']);
    expect(page.stop).toBe('end');
    expect(page.covered).toEqual({ from: 0, to: page.treeSize });
    expect(verifySearchAnswer(trust, page, opts).ok).toBe(true);
    expect((await verifyComplete(trust, [page], { ...opts, fetch: honestFetch(log.store, page.treeSize) })).ok).toBe(true);
  });

  it('catches a peer that drops a matching entry (verifyComplete: entry_omitted)', async () => {
    const { log, engine } = await setup();
    const page = await engine.search({ actor: 'alice' }, { limit: 1000 });
    expect(page.results.length).toBeGreaterThan(3);
    const dropped = page.results[2]!.index;
    const lie: SearchAnswer = { ...page, results: page.results.filter((r) => r.index !== dropped) };
    expect(verifySearchAnswer(trust, lie, opts).ok).toBe(true); // each remaining result is genuine...
    const c = await verifyComplete(trust, [lie], { ...opts, fetch: honestFetch(log.store, page.treeSize) });
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.failures).toEqual([expect.objectContaining({ code: 'entry_omitted', index: dropped })]);
    // A fetch that withholds an entry of the range cannot hide it silently either.
    const c2 = await verifyComplete(trust, [page], { ...opts, fetch: honestFetch(log.store, page.treeSize, 7) });
    expect(codes(c2 as never)).toEqual(['range_incomplete']);
  });

  it('catches an added entry: beyond the pinned size, not matching the filter, or outside the covered range', async () => {
    const { log, engine } = await setup();
    const page = await engine.search({ actor: 'alice' }, { limit: 5, order: 'oldest' });
    const size = page.treeSize;
    await log.appendBlock(10);
    const later = size + 3;
    const beyond: AnswerResult = { index: later, entry: log.leaves[later]!, proof: await inclusionProof(log.store, later, size + 10) };
    expect(codes(verifySearchAnswer(trust, { ...page, results: [...page.results, beyond] }, opts) as never)).toContain('index_out_of_range');
    const notAlice = log.entries.findIndex((e, i) => i < page.covered.to && e.actor.id !== 'alice');
    const other: AnswerResult = { index: notAlice, entry: log.leaves[notAlice]!, proof: await inclusionProof(log.store, notAlice, size) };
    const sorted = [...page.results, other].sort((a, b) => a.index - b.index);
    expect(codes(verifySearchAnswer(trust, { ...page, results: sorted }, opts) as never)).toEqual(['filter_mismatch']);
    const outside = log.entries.findIndex((e, i) => i >= page.covered.to && i < size && e.actor.id === 'alice');
    const out: AnswerResult = { index: outside, entry: log.leaves[outside]!, proof: await inclusionProof(log.store, outside, size) };
    expect(codes(verifySearchAnswer(trust, { ...page, results: [...page.results, out] }, opts) as never)).toEqual(['outside_covered']);
  });

  it('catches an altered entry, a proof for another checkpoint, reordering and a checkpoint without quorum', async () => {
    const { log, engine } = await setup();
    const page = await engine.search({ actor: 'bob' }, { limit: 10 });
    const r0 = page.results[0]!;
    // Altered entry: one byte of the stored JSON changed (bob → bof).
    const text = new TextDecoder().decode(r0.entry).replace('"bob"', '"bof"');
    const altered = { ...r0, entry: new TextEncoder().encode(text) };
    expect(codes(verifySearchAnswer(trust, { ...page, results: [altered, ...page.results.slice(1)] }, opts) as never)).toEqual(['proof_invalid']);
    // A re-signed entry by another client cannot pass as the logged one either (its proof fails).
    const { client: _c, sig: _s, ...unsigned } = JSON.parse(new TextDecoder().decode(r0.entry)) as Record<string, unknown>;
    const otherClient = CLIENTS.find((c) => Buffer.from(c.publicKey).toString('hex') !== _c)!;
    const forged = entryLeaf(signEntry(unsigned as never, otherClient));
    expect(codes(verifySearchAnswer(trust, { ...page, results: [{ ...r0, entry: forged }, ...page.results.slice(1)] }, opts) as never)).toContain('proof_invalid');
    // Proof for another checkpoint: computed at a larger tree size.
    await log.appendBlock(30);
    const wrongProof = { ...r0, proof: await inclusionProof(log.store, r0.index, log.store.head()!.treeSize) };
    expect(codes(verifySearchAnswer(trust, { ...page, results: [wrongProof, ...page.results.slice(1)] }, opts) as never)).toEqual(['proof_invalid']);
    // The answer re-pinned to the newer checkpoint with the old proofs.
    const newer = (await log.store.latestFinalCheckpoint())!;
    expect(codes(verifySearchAnswer(trust, { ...page, checkpoint: newer, covered: undefined as never }, opts) as never)).toContain('proof_invalid');
    // Reordered results.
    const swapped = [page.results[1]!, page.results[0]!, ...page.results.slice(2)];
    expect(codes(verifySearchAnswer(trust, { ...page, results: swapped }, opts) as never)).toEqual(['order_violation']);
    // A checkpoint signed by fewer organizations than the quorum.
    const head = log.store.head()!;
    const weak = signNote(formatCheckpoint({ origin: ORIGIN, size: head.treeSize, root: head.root }), ORGS.slice(0, 2));
    expect(codes(verifySearchAnswer(trust, { ...page, checkpoint: weak }, opts) as never)).toEqual(['checkpoint_invalid']);
  });
});

describe('resource history', () => {
  it('lists every entry of one resource in log order with field-level changes', async () => {
    const store = await openStore(await dirs.make());
    open.push(store);
    const log = new SearchLog(store, new SeededRandom('history'));
    await log.appendBlock(30);
    const states = [{ limit: 10, owner: 'ops' }, { limit: 20, owner: 'ops' }, { limit: 20, owner: 'fin', tags: ['a/b'] }];
    const mk = (i: number, before: object | undefined, after: object) =>
      signEntry(
        {
          v: 1,
          id: `h${i}`,
          time: new Date(T0 + 500_000 + i).toISOString(),
          actor: { id: 'alice' },
          action: 'config.set',
          resource: { type: 'config', id: 'quota' },
          outcome: 'success',
          data: before === undefined ? { after: after as never } : { before: before as never, after: after as never },
        },
        CLIENTS[1]!,
      );
    await log.appendEntries([mk(0, undefined, states[0]!)]);
    await log.appendBlock(10);
    // The third change claims a 'before' that is not the previous 'after': a gap.
    await log.appendEntries([mk(1, states[0], states[1]!), mk(2, { limit: 99, owner: 'ops' }, states[2]!)]);
    const engine = await SearchEngine.open(store);
    const h = await resourceHistory(engine, 'config', 'quota');
    const mine = h.results.filter((r) => JSON.parse(new TextDecoder().decode(r.entry)).id.startsWith('h'));
    expect(mine.map((r) => JSON.parse(new TextDecoder().decode(r.entry)).id)).toEqual(['h0', 'h1', 'h2']);
    expect(h.results.map((r) => r.index)).toEqual([...h.results.map((r) => r.index)].sort((a, b) => a - b));
    const steps = historySteps(mine.map((r) => JSON.parse(new TextDecoder().decode(r.entry))));
    // Only an 'after': the whole state is added at the root pointer ''.
    expect(steps[0]!.changes).toEqual([{ path: '', op: 'add', new: states[0] }]);
    expect(steps[1]).toEqual({ changes: [{ path: '/limit', op: 'replace', old: 10, new: 20 }], truncated: false, continuous: true });
    expect(steps[2]!.continuous).toBe(false);
    expect(steps[2]!.changes).toEqual([
      { path: '/limit', op: 'replace', old: 99, new: 20 },
      { path: '/owner', op: 'replace', old: 'ops', new: 'fin' },
      { path: '/tags', op: 'add', new: ['a/b'] },
    ]);
    expect(verifySearchAnswer(trust, h, opts).ok).toBe(true);
  });

  it('diffJson: JSON pointer escaping, arrays, removals', () => {
    expect(diffJson({ 'a/b': 1, 'm~n': [1, 2, 3], gone: true }, { 'a/b': 2, 'm~n': [1, 5] })).toEqual({
      changes: [
        { path: '/a~1b', op: 'replace', old: 1, new: 2 },
        { path: '/gone', op: 'remove', old: true },
        { path: '/m~0n/1', op: 'replace', old: 2, new: 5 },
        { path: '/m~0n/2', op: 'remove', old: 3 },
      ],
      truncated: false,
    });
    expect(diffJson(1, 1)).toEqual({ changes: [], truncated: false });
  });
});

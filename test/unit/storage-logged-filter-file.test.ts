// The logged filter saved beside the store: a clean reopen loads it instead of scanning every
// index key (the scan kept LevelDB's table pages resident, RSS grew with the log), and answers
// stay exactly LevelDB's: a stale, torn or foreign file is never trusted (the store scans).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cp, copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { utf8 } from '../../src/encoding/bytes.js';
import { leafHash } from '../../src/merkle/index.js';
import { loggedFilterSaving } from '../../node/storage/logged-index.js';
import { LOGGED_FILTER_FILE } from '../../node/storage/logged-filter-file.js';
import { openStore, type Store } from '../../node/storage/store.js';
import { TempDirs, appendBlock } from './support/storage-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
const saving = { ...loggedFilterSaving };
beforeEach(() => {
  loggedFilterSaving.minEntries = 100;
  loggedFilterSaving.everyEntries = 1_000_000;
  loggedFilterSaving.idleMs = 60_000;
});
afterEach(async () => {
  Object.assign(loggedFilterSaving, saving);
  vi.restoreAllMocks();
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

const leaves = Array.from({ length: 400 }, (_, i) => utf8(`entry-${i}`));
const ids = leaves.map((_, i) => ({ client: `c${i % 7}`, id: `id-${i}` }));

/** Opens `dir`, counting the index-key scans (db.keys iterators) the open makes. */
async function openCounting(dir: string): Promise<{ store: Store; scans: number }> {
  const keys = vi.spyOn(ClassicLevel.prototype, 'keys');
  const store = await openStore(dir);
  open.push(store);
  // Iterators over the leaf-hash ('h') and (client, id) ('c') index prefixes.
  const scans = keys.mock.calls.filter(([o]) => [0x68, 0x63].includes((o as { gte?: Uint8Array } | undefined)?.gte?.[0] ?? -1)).length;
  keys.mockRestore();
  return { store, scans };
}

/** Every leaf below `logged` is found at its index (hash and (client, id)); the others are not. */
async function expectExact(store: Store, logged: number): Promise<void> {
  const got = await store.lookupLogged(leaves.map((l, i) => ({ leafHash: leafHash(l), ...ids[i]! })));
  for (let i = 0; i < leaves.length; i++) {
    if (i < logged) expect([got[i]!.index, got[i]!.logged?.index]).toEqual([i, i]);
    else expect(got[i]).toEqual({ index: undefined, logged: undefined });
  }
}

describe('saved logged filter', () => {
  it('a clean reopen loads it without scanning and still rejects every logged entry', async () => {
    const dir = await dirs.make();
    const first = await openStore(dir);
    await appendBlock(first, leaves.slice(0, 150), ids.slice(0, 150));
    await appendBlock(first, leaves.slice(150, 250), ids.slice(150, 250));
    await first.close();
    const { store, scans } = await openCounting(dir);
    expect(scans).toBe(0);
    await expectExact(store, 250);
    // Logged after the reopen: found as well, then saved again at close.
    await appendBlock(store, leaves.slice(250, 300), ids.slice(250, 300));
    await expectExact(store, 300);
    await store.close();
    open.length = 0;
    const again = await openCounting(dir);
    expect(again.scans).toBe(0);
    await expectExact(again.store, 300);
  });

  it('a store idle after its last block saves the filter while open: a copy taken then (a crash) reopens without scanning', async () => {
    loggedFilterSaving.idleMs = 50;
    const dir = await dirs.make();
    const live = await openStore(dir);
    open.push(live);
    await appendBlock(live, leaves.slice(0, 150), ids.slice(0, 150));
    await appendBlock(live, leaves.slice(150, 220), ids.slice(150, 220));
    const deadline = Date.now() + 10_000;
    while (!(await stat(join(dir, LOGGED_FILTER_FILE)).then(() => true, () => false))) {
      expect(Date.now(), 'no saved filter 10 s after the last block').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 20));
    }
    // The file appears by rename, complete.
    const copy = await dirs.make();
    await cp(dir, copy, { recursive: true, filter: (src) => !src.endsWith('LOCK') });
    const { store, scans } = await openCounting(copy);
    expect(scans).toBe(0);
    await expectExact(store, 220);
  });

  it('a file older than the log (blocks applied after it, e.g. a crash) is not trusted: the open scans', async () => {
    const dir = await dirs.make();
    const s = await openStore(dir);
    await appendBlock(s, leaves.slice(0, 200), ids.slice(0, 200));
    await s.close();
    await copyFile(join(dir, LOGGED_FILTER_FILE), join(dir, 'old.bin'));
    const s2 = await openStore(dir);
    await appendBlock(s2, leaves.slice(200, 300), ids.slice(200, 300));
    await s2.close();
    await copyFile(join(dir, 'old.bin'), join(dir, LOGGED_FILTER_FILE)); // as if the last save never happened
    const { store, scans } = await openCounting(dir);
    expect(scans).toBeGreaterThan(0);
    await expectExact(store, 300);
  });

  it('a file of another log with the same tree size and last leaf (other earlier leaves) is not trusted: the open scans', async () => {
    const theirs = await dirs.make();
    const a = await openStore(theirs);
    await appendBlock(a, leaves.slice(0, 200), ids.slice(0, 200));
    await a.close();
    // Ours: leaves 0..198 differ, leaf 199 (and its (client, id)) is the same.
    const ourLeaves = [...leaves.slice(0, 199).map((_, i) => utf8(`other-${i}`)), leaves[199]!];
    const ourIds = [...ids.slice(0, 199).map((_, i) => ({ client: 'o', id: `other-${i}` })), ids[199]!];
    const dir = await dirs.make();
    const b = await openStore(dir);
    await appendBlock(b, ourLeaves, ourIds);
    await b.close();
    await copyFile(join(theirs, LOGGED_FILTER_FILE), join(dir, LOGGED_FILTER_FILE));
    const { store, scans } = await openCounting(dir);
    expect(scans).toBeGreaterThan(0);
    const got = await store.lookupLogged(ourLeaves.map((l, i) => ({ leafHash: leafHash(l), ...ourIds[i]! })));
    got.forEach((g, i) => expect([g.index, g.logged?.index]).toEqual([i, i]));
  });

  it('a torn or altered file is not trusted: the open scans', async () => {
    const dir = await dirs.make();
    const s = await openStore(dir);
    await appendBlock(s, leaves.slice(0, 200), ids.slice(0, 200));
    await s.close();
    const path = join(dir, LOGGED_FILTER_FILE);
    const b = await readFile(path);
    b[100] = b[100]! ^ 0xff; // a bit of the filter
    await writeFile(path, b);
    const altered = await openCounting(dir);
    expect(altered.scans).toBeGreaterThan(0);
    await expectExact(altered.store, 200);
    await altered.store.close();
    open.length = 0;
    await writeFile(path, b.subarray(0, 1000)); // torn
    const torn = await openCounting(dir);
    expect(torn.scans).toBeGreaterThan(0);
    await expectExact(torn.store, 200);
  });
});

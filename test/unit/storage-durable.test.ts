// Synced (durable) LevelDB writes are made in ONE place, node/storage/durable.ts, so a reviewer
// finds every one with `git grep -n 'durable(Put|Batch)\|writeBatch' node/`.
//
// What a test can show here: that the options handed to LevelDB ask for a sync (fsync of its log
// before the write resolves). A killed process cannot show it (the page cache survives SIGKILL,
// see test/proc/storage-crash.test.ts), and power loss is not simulated. So:
// - the helpers are run against a real classic-level database whose put/batch are observed;
// - every write the store makes for a record that must survive power loss is observed the same
//   way (LevelDB's prototype methods wrapped for this test file only);
// - a source check: no `sync: true` literal and no direct db.put/db.batch outside the helper.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { ClassicLevel } from 'classic-level';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bytesEqual, utf8 } from '../../src/encoding/bytes.js';
import { durableBatch, durableBatchWriter, durablePut, writeBatch } from '../../node/storage/durable.js';
import { openStore } from '../../node/storage/store.js';
import { appendBlock, TempDirs } from './support/storage-fixture.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

type Db = ClassicLevel<Uint8Array, Uint8Array>;
const OPTS = { keyEncoding: 'view', valueEncoding: 'view' } as const;

interface WriteCall {
  method: 'put' | 'batch';
  sync: unknown;
}

/** Which batch form wrote: 'array' db.batch(ops, options) or 'chained' db.batch() … write(options). */
type BatchForm = 'array' | 'chained';

/**
 * Records one put/batch call (method, options.sync) before it runs. A chained batch is recorded
 * when it is written (its write(options) carries the sync flag); `forms` says which form wrote.
 */
function recording(calls: WriteCall[], forms: BatchForm[], m: 'put' | 'batch', f: (...a: unknown[]) => unknown, self: unknown, args: unknown[]): unknown {
  if (m === 'batch' && args.length === 0) {
    const b = f.apply(self, args) as { write: (o?: { sync?: unknown }) => Promise<void> };
    const write = b.write;
    b.write = function (this: unknown, o?: { sync?: unknown }) {
      calls.push({ method: 'batch', sync: o?.sync });
      forms.push('chained');
      return write.call(this, o);
    };
    return b;
  }
  const options = args[m === 'put' ? 2 : 1] as { sync?: unknown } | undefined;
  calls.push({ method: m, sync: options?.sync });
  if (m === 'batch') forms.push('array');
  return f.apply(self, args);
}

/** A real db whose put/batch calls are recorded before they run. */
function observed(db: Db, calls: WriteCall[], forms: BatchForm[] = []): Db {
  return new Proxy(db, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if ((prop === 'put' || prop === 'batch') && typeof v === 'function') {
        return (...args: unknown[]) => recording(calls, forms, prop, v as (...a: unknown[]) => unknown, target, args);
      }
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('durable write helpers', () => {
  it('durablePut and durableBatch ask LevelDB for a synced write, and the data is there after reopen', async () => {
    const dir = await dirs.make();
    const raw: Db = new ClassicLevel<Uint8Array, Uint8Array>(dir, OPTS);
    await raw.open();
    const calls: WriteCall[] = [];
    const db = observed(raw, calls);
    await durablePut(db, utf8('k1'), utf8('v1'));
    await durableBatch(db, [
      { type: 'put', key: utf8('k2'), value: utf8('v2') },
      { type: 'put', key: utf8('k3'), value: utf8('v3') },
      { type: 'del', key: utf8('k1') },
    ]);
    expect(calls).toEqual([
      { method: 'put', sync: true },
      { method: 'batch', sync: true },
    ]);
    await raw.close();
    const again: Db = new ClassicLevel<Uint8Array, Uint8Array>(dir, OPTS);
    await again.open();
    try {
      expect(await again.get(utf8('k1'))).toBeUndefined();
      expect(bytesEqual((await again.get(utf8('k3')))!, utf8('v3'))).toBe(true);
    } finally {
      await again.close();
    }
  });

  it('batches are written with the chained form (the array form costs ~3x the CPU per operation)', async () => {
    const dir = await dirs.make();
    const raw: Db = new ClassicLevel<Uint8Array, Uint8Array>(dir, OPTS);
    await raw.open();
    const calls: WriteCall[] = [];
    const forms: BatchForm[] = [];
    const db = observed(raw, calls, forms);
    try {
      await durableBatch(db, [{ type: 'put', key: utf8('a'), value: utf8('1') }]);
      await writeBatch(db, [{ type: 'put', key: utf8('b'), value: utf8('2') }, { type: 'del', key: utf8('a') }], { durable: false });
      expect(forms).toEqual(['chained', 'chained']);
      expect(await raw.get(utf8('a'))).toBeUndefined();
      expect(bytesEqual((await raw.get(utf8('b')))!, utf8('2'))).toBe(true);
    } finally {
      await raw.close();
    }
  });

  it('small keys and values (copied off V8\'s heap before the native put) and large ones land exactly, in one batch and in parts', async () => {
    const dir = await dirs.make();
    const raw: Db = new ClassicLevel<Uint8Array, Uint8Array>(dir, OPTS);
    await raw.open();
    try {
      // Sizes around the on-heap limit (64 bytes), each key and value distinct byte by byte.
      const sized = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i * 7) & 0xff);
      const sizes = [1, 8, 33, 63, 64, 65, 200, 4096];
      const ops = sizes.map((n, i) => ({ type: 'put' as const, key: Uint8Array.of(0x10, i, ...sized(n - 1 > 0 ? Math.min(n - 1, 60) : 0, i)), value: sized(n, i + 100) }));
      await writeBatch(raw, [...ops, { type: 'put', key: Uint8Array.of(0x20), value: sized(5, 1) }], { durable: false });
      await writeBatch(raw, [{ type: 'del', key: Uint8Array.of(0x20) }, { type: 'put', key: sized(64, 9), value: sized(1, 9) }], { durable: true });
      const w = durableBatchWriter(raw);
      w.add([{ type: 'put', key: Uint8Array.of(0x30, 1), value: sized(8, 3) }]);
      w.add([{ type: 'put', key: Uint8Array.of(0x30, 2), value: sized(65, 4) }, { type: 'del', key: ops[0]!.key }]);
      await w.write();
      for (const op of ops.slice(1)) expect(Buffer.from((await raw.get(op.key))!).equals(Buffer.from(op.value))).toBe(true);
      expect(await raw.get(ops[0]!.key)).toBeUndefined();
      expect(await raw.get(Uint8Array.of(0x20))).toBeUndefined();
      expect(Buffer.from((await raw.get(sized(64, 9)))!).equals(Buffer.from(sized(1, 9)))).toBe(true);
      expect(Buffer.from((await raw.get(Uint8Array.of(0x30, 1)))!).equals(Buffer.from(sized(8, 3)))).toBe(true);
      expect(Buffer.from((await raw.get(Uint8Array.of(0x30, 2)))!).equals(Buffer.from(sized(65, 4)))).toBe(true);
      // The callers' arrays are untouched.
      expect(Buffer.from(ops[2]!.value).equals(Buffer.from(sized(33, 102)))).toBe(true);
    } finally {
      await raw.close();
    }
  });

  it('writeBatch is synced exactly when the caller asks for durability', async () => {
    const dir = await dirs.make();
    const raw: Db = new ClassicLevel<Uint8Array, Uint8Array>(dir, OPTS);
    await raw.open();
    const calls: WriteCall[] = [];
    const db = observed(raw, calls);
    try {
      await writeBatch(db, [{ type: 'put', key: utf8('a'), value: utf8('1') }], { durable: true });
      await writeBatch(db, [{ type: 'put', key: utf8('b'), value: utf8('2') }], { durable: false });
      expect(calls).toEqual([
        { method: 'batch', sync: true },
        { method: 'batch', sync: false },
      ]);
      expect(bytesEqual((await raw.get(utf8('b')))!, utf8('2'))).toBe(true);
    } finally {
      await raw.close();
    }
  });
});

describe('the store syncs every write that must survive a power loss', () => {
  // LevelDB's put/batch live on a prototype shared by every database this test file opens;
  // wrapped here to record the sync option of every write the store makes.
  const calls: WriteCall[] = [];
  const forms: BatchForm[] = [];
  const proto = Object.getPrototypeOf(ClassicLevel.prototype) as Record<'put' | 'batch', (...a: unknown[]) => unknown>;
  const original = { put: proto.put, batch: proto.batch };
  beforeAll(() => {
    for (const m of ['put', 'batch'] as const) {
      const f = original[m];
      proto[m] = function (this: unknown, ...args: unknown[]) {
        return recording(calls, forms, m, f, this, args);
      };
    }
  });
  afterAll(() => {
    proto.put = original.put;
    proto.batch = original.batch;
  });

  /** The writes `fn` makes, after clearing the record. */
  async function writesOf(fn: () => Promise<unknown>): Promise<WriteCall[]> {
    calls.length = 0;
    await fn();
    return calls.splice(0);
  }

  it('init, blocks, checkpoints, signer state, WAL, evidence and meta are all synced', async () => {
    const dir = await dirs.make();
    let store!: Awaited<ReturnType<typeof openStore>>;
    const opened = await writesOf(async () => {
      store = await openStore(dir, { genesisHash: new Uint8Array(32).fill(7) });
    });
    try {
      // Schema version and genesis hash of a new store.
      expect(opened.length).toBeGreaterThanOrEqual(2);
      expect(opened.every((c) => c.sync === true), JSON.stringify(opened)).toBe(true);
      const ops: [string, () => Promise<unknown>][] = [
        ['applyBlock', () => appendBlock(store, [utf8('entry a'), utf8('entry b')])],
        ['putCheckpoint', () => store.putCheckpoint(store.head()!.treeSize, utf8('checkpoint note'), true)],
        ['putSignerState', () => store.putSignerState(utf8('signer'))],
        ['putSignerStateWithWal', () => store.putSignerStateWithWal(utf8('signer 2'), 1, [utf8('wal 0')])],
        ['walAppend', () => store.walAppend(1, [utf8('wal 1')])],
        ['putEvidence', () => store.putEvidence(utf8('evidence 1'))],
        ['putMeta', () => store.putMeta('k', utf8('v'))],
      ];
      for (const [name, fn] of ops) {
        const w = await writesOf(fn);
        expect(w.length, `${name} wrote nothing`).toBeGreaterThan(0);
        expect(w.every((c) => c.sync === true), `${name}: ${JSON.stringify(w)}`).toBe(true);
      }
      // The one write a caller may make unsynced on purpose: a WAL record it can lose in a crash.
      const unsynced = await writesOf(() => store.walAppend(1, [utf8('wal 2')], { sync: false }));
      expect(unsynced).toEqual([{ method: 'batch', sync: false }]);
    } finally {
      await store.close();
    }
  });
});

describe('one place for synced writes (source check)', () => {
  const tracked = execFileSync('git', ['ls-files', '-z', '--', 'node'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f.endsWith('.ts'));

  it('no `sync: true` literal in node/ outside node/storage/durable.ts', async () => {
    expect(tracked.length).toBeGreaterThan(20);
    const hits: string[] = [];
    for (const f of tracked) {
      if (f === 'node/storage/durable.ts') continue;
      const text = await readFile(join(ROOT, f), 'utf8');
      text.split('\n').forEach((l, i) => {
        if (/\bsync\s*:\s*true\b/.test(l) && !/^\s*(\/\/|\*)/.test(l)) hits.push(`${f}:${i + 1}: ${l.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it('node/storage writes to LevelDB only through the helper (no direct db.put / db.batch)', async () => {
    const hits: string[] = [];
    for (const f of tracked.filter((x) => x.startsWith('node/storage/') && x !== 'node/storage/durable.ts')) {
      const text = await readFile(join(ROOT, f), 'utf8');
      text.split('\n').forEach((l, i) => {
        if (/\bdb\s*\.\s*(put|batch)\s*\(/.test(l) && !/^\s*(\/\/|\*)/.test(l)) hits.push(`${f}:${i + 1}: ${l.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });
});

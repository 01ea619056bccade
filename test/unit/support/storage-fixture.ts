// Helpers for the storage tests: temp dirs with real LevelDB, blocks built with the merkle library,
// and raw access to a closed store's LevelDB for corruption tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { sha256 } from '../../../src/crypto/hash.js';
import { utf8 } from '../../../src/encoding/bytes.js';
import { expect } from 'vitest';
import { buildAppliedBlock } from '../../../node/storage/build.js';
import { openStore, type AppliedBlock, type Store } from '../../../node/storage/store.js';

export class TempDirs {
  private readonly dirs: string[] = [];
  async make(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'cairn-storage-'));
    this.dirs.push(d);
    return d;
  }
  async removeAll(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** Stores opened in temp dirs, all closed (and the dirs removed) by `closeAll` after each test. */
export class TempStores {
  private readonly dirs = new TempDirs();
  private readonly open: Store[] = [];
  /** A new empty temp dir (removed by closeAll). */
  makeDir(): Promise<string> {
    return this.dirs.make();
  }
  /** A new store in a new temp dir. */
  async fresh(opts: Parameters<typeof openStore>[1] = {}): Promise<{ dir: string; store: Store }> {
    const dir = await this.dirs.make();
    return { dir, store: await this.openAt(dir, opts) };
  }
  /** Closes `store` and opens its dir again. */
  async reopen(dir: string, store: Store, opts: Parameters<typeof openStore>[1] = {}): Promise<Store> {
    await store.close();
    return this.openAt(dir, opts);
  }
  async openAt(dir: string, opts: Parameters<typeof openStore>[1] = {}): Promise<Store> {
    const s = await openStore(dir, opts);
    this.open.push(s);
    return s;
  }
  async closeAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map((s) => s.close()));
    await this.dirs.removeAll();
  }
}

/** `p` rejects with a StoreError of this code. */
export async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

export function blockBytesFor(height: number): Uint8Array {
  return utf8(`block ${height}`);
}

export function certFor(height: number): Uint8Array {
  return utf8(`certificate ${height}`);
}

/** An AppliedBlock for the store's next height (block bytes and certificate are placeholders). */
export async function nextBlock(store: Store, leaves: Uint8Array[], clientIds?: { client: string; id: string }[]): Promise<AppliedBlock> {
  const height = (store.head()?.height ?? 0) + 1;
  const blockBytes = blockBytesFor(height);
  return buildAppliedBlock(store, {
    height,
    blockBytes,
    blockHash: sha256(blockBytes),
    certificate: certFor(height),
    leaves,
    clientIds: clientIds ?? leaves.map((_, i) => ({ client: 'c', id: `h${height}-${i}` })),
  });
}

export async function appendBlock(store: Store, leaves: Uint8Array[], clientIds?: { client: string; id: string }[]): Promise<AppliedBlock> {
  const b = await nextBlock(store, leaves, clientIds);
  await store.applyBlock(b);
  return b;
}

/** Opens the (closed) store's LevelDB directly, runs fn, closes it. */
export async function withRawDb(dir: string, fn: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

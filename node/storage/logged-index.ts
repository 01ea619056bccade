// The entry indexes: leaf hash → index of the FIRST leaf with that hash, and (client, id) → index
// and leaf hash of the FIRST leaf logged with that pair. Holds the logged filter (logged-filter.ts)
// over both index key spaces, writes the index records of a block, and answers the lookups the
// admission path makes for every entry.

import { HASH_BYTES } from '../../src/merkle/index.js';
import { bytesEqual, toHex, utf8 } from '../../src/encoding/bytes.js';
import { decodeClientIdValue, decodeU64Value, encodeClientIdValue, type StoreHead } from './codec.js';
import type { BatchOp } from './durable.js';
import { StoreError } from './errors.js';
import { P_CLIENT_ID, P_LEAF_HASH, bytesKey, clientIdKey, prefixEnd, u64 } from './keys.js';
import { LOGGED_FILTER_BITS, LOGGED_FILTER_HASHES, LoggedFilter } from './logged-filter.js';
import { dropLoggedFilter, loadLoggedFilter, saveLoggedFilter } from './logged-filter-file.js';
import { bad } from './store-args.js';
import { plain, type StoreContext } from './store-context.js';
import { LOGGED_FILTER_SCAN_KEYS_MAX, LOOKUP_BATCH_MAX } from './store-limits.js';

/**
 * When the filter is saved to its file (logged-filter-file.ts): not below `minEntries` (a small log
 * scans in milliseconds; no 8 MiB write per small store), then every `everyEntries` applied, once
 * no block was applied for `idleMs` (a peer killed while idle reopens without a scan), and at
 * close. Mutable for tests only.
 */
export const loggedFilterSaving = { minEntries: 20_000, everyEntries: 100_000, idleMs: 10_000 };

export class LoggedIndex {
  /**
   * Bloom filter over every leaf-hash and (client, id) index key (logged-filter.ts): a "no" skips
   * LevelDB in lookupLogged / applyBlock. null when no saved file matched at open and the log was
   * too large to scan.
   */
  private filter: LoggedFilter | null = null;
  /** How the filter was made at open (diagnostics and tests). */
  loadedFrom: 'file' | 'scan' | 'none' = 'none';
  /** Tree size the saved file covers (-1: no valid file). */
  private savedSize = -1;
  /** The save in progress (at most one). */
  private saving: Promise<void> | null = null;
  /** Fires `idleMs` after the last block applied: saves what it left unsaved. */
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly ctx: StoreContext) {}

  /**
   * Makes the logged filter at open: from its saved file when that covers exactly this log (no
   * index scan: the scan's touched table pages stayed resident, RSS grew with the log), else by the
   * full scan (bounded by LOGGED_FILTER_SCAN_KEYS_MAX), saved right away for the next open.
   */
  async loadFilter(): Promise<void> {
    const head = this.ctx.head();
    const size = head?.treeSize ?? 0;
    const saved = size >= loggedFilterSaving.minEntries ? await loadLoggedFilter(this.ctx.dir, LOGGED_FILTER_BITS, LOGGED_FILTER_HASHES) : null;
    // The root, not just the size and last leaf: another log can share those, and its filter
    // would miss our keys (a duplicate admitted).
    if (saved !== null && head !== null && saved.coveredSize === size && bytesEqual(saved.root, head.root)) {
      this.filter = saved.filter;
      this.savedSize = size;
      this.loadedFrom = 'file';
      return;
    }
    this.filter = await this.scanLoggedKeys();
    this.loadedFrom = this.filter === null ? 'none' : 'scan';
    if (this.filter === null) await dropLoggedFilter(this.ctx.dir);
    else if (head !== null && size >= loggedFilterSaving.minEntries) await this.save(this.filter.state.words, head); // nothing adds during open: no copy
  }

  /** Saves the filter at close when blocks were applied since the last save (after the block lock drained). */
  async saveOnClose(): Promise<void> {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    await this.saving;
    const head = this.ctx.head();
    const size = head?.treeSize ?? 0;
    if (this.filter !== null && head !== null && size >= loggedFilterSaving.minEntries && size !== this.savedSize) {
      await this.save(this.filter.state.words, head); // the block lock is drained: no copy
    }
  }

  /**
   * Writes `words`, copied while every leaf below `head.treeSize` was durable and had its keys in the
   * filter. A failed write only leaves the older file, which the next open rejects (it covers
   * another size) and replaces by a scan: the file is a shortcut, never the source of truth.
   */
  private async save(words: Uint32Array, head: StoreHead): Promise<void> {
    const f = this.filter!.state;
    try {
      await saveLoggedFilter(this.ctx.dir, { bits: f.bits, hashes: f.hashes, count: f.count, words }, head.treeSize, head.root);
      this.savedSize = head.treeSize;
    } catch {
      // Disk full, directory gone (store closing under a test): keep running on the in-memory filter.
    }
  }

  /**
   * Starts a background save every `everyEntries` applied (called as a block is applied: covers
   * the blocks before it) or when idle (every block applied is covered).
   */
  private maybeSave(idle: boolean): void {
    const head = this.ctx.head(); // durable: the head moves after its batch is written
    const size = head?.treeSize ?? 0;
    if (this.filter === null || head === null || this.saving !== null || size < loggedFilterSaving.minEntries || size === this.savedSize) return;
    if (!idle && size - Math.max(this.savedSize, 0) < loggedFilterSaving.everyEntries) return;
    // The copy is taken now: it holds every key of the leaves below `size` (and maybe a few more).
    this.saving = this.save(this.filter.state.words.slice(), head).finally(() => (this.saving = null));
  }

  /** Builds the logged filter from the two index prefixes (bounded by LOGGED_FILTER_SCAN_KEYS_MAX). */
  private async scanLoggedKeys(): Promise<LoggedFilter | null> {
    const filter = new LoggedFilter();
    let scanned = 0;
    for (const prefix of [P_LEAF_HASH, P_CLIENT_ID]) {
      const it = this.ctx.db.keys({ gte: Uint8Array.of(prefix), lt: prefixEnd(prefix) });
      try {
        for (;;) {
          const batch = await it.nextv(10_000);
          if (batch.length === 0) break;
          scanned += batch.length;
          if (scanned > LOGGED_FILTER_SCAN_KEYS_MAX) return null;
          for (const k of batch) filter.add(k);
        }
      } finally {
        await it.close();
      }
    }
    return filter;
  }

  /** The (client, id) index key, LIMIT_EXCEEDED (naming `name`) when either is over maxClientIdBytes. */
  clientKey(client: string, id: string, name: string): Uint8Array {
    // The lengths come from the built key ('c' ‖ u16 client length ‖ client ‖ id), so ASCII pairs
    // are never UTF-8 encoded. The u16 holds the client length modulo 65,536: exact below that.
    const key = clientIdKey(client, id);
    const total = key.length - 3;
    const cb = total < 65_536 ? key[1]! * 256 + key[2]! : utf8(client).length;
    const ib = total - cb;
    if (cb > this.ctx.limits.maxClientIdBytes || ib > this.ctx.limits.maxClientIdBytes) {
      throw new StoreError('LIMIT_EXCEEDED', `${name}: client (${cb} bytes) or id (${ib} bytes) exceeds maxClientIdBytes = ${this.ctx.limits.maxClientIdBytes}`);
    }
    return key;
  }

  /**
   * The index records of a block's leaves, the first at log index firstIndex, and the leaf-hash
   * keys it looked up. Indexes keep the FIRST leaf with a given hash / (client, id): never
   * overwritten, also not by a later leaf of the same block.
   */
  async opsForBlock(
    firstIndex: number,
    leafHashes: readonly Uint8Array[],
    clientKeys: Uint8Array[],
    // Keys put by earlier blocks of the same batch (not in LevelDB yet): the first index wins.
    seen: { hash: Set<string>; client: Set<string> } = { hash: new Set(), client: new Set() },
  ): Promise<{ ops: BatchOp[]; hashKeys: Uint8Array[] }> {
    const hashKeys = leafHashes.map((h) => bytesKey(P_LEAF_HASH, h));
    const [hashHave, clientHave] = await Promise.all([this.hasManyFiltered(hashKeys), this.hasManyFiltered(clientKeys)]);
    const seenHash = seen.hash;
    const seenClient = seen.client;
    const ops: BatchOp[] = [];
    for (let i = 0; i < leafHashes.length; i++) {
      const index = firstIndex + i;
      const hk = toHex(leafHashes[i]!);
      if (!hashHave[i] && !seenHash.has(hk)) {
        seenHash.add(hk);
        ops.push({ type: 'put', key: hashKeys[i]!, value: u64(index) });
      }
      const ck = toHex(clientKeys[i]!);
      if (!clientHave[i] && !seenClient.has(ck)) {
        seenClient.add(ck);
        ops.push({ type: 'put', key: clientKeys[i]!, value: encodeClientIdValue(index, leafHashes[i]!) });
      }
    }
    return { ops, hashKeys };
  }

  /** Adds a block's index keys to the filter (before the block's batch is written). */
  addToFilter(hashKeys: readonly Uint8Array[], clientKeys: readonly Uint8Array[]): void {
    if (this.filter !== null) {
      for (let i = 0; i < hashKeys.length; i++) {
        this.filter.add(hashKeys[i]!);
        this.filter.add(clientKeys[i]!);
      }
      this.maybeSave(false);
      if (this.idleTimer !== null) clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        this.maybeSave(true);
      }, loggedFilterSaving.idleMs);
      this.idleTimer.unref();
    }
  }

  /** db.getMany that answers undefined from the logged filter for keys never added (index keys only). */
  private async getManyFiltered(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    const f = this.filter;
    if (f === null) return this.ctx.db.getMany(keys);
    const ask: number[] = [];
    for (let i = 0; i < keys.length; i++) if (f.mightContain(keys[i]!)) ask.push(i);
    const out: (Uint8Array | undefined)[] = new Array<undefined>(keys.length).fill(undefined);
    if (ask.length === 0) return out;
    const got = await this.ctx.db.getMany(ask.map((i) => keys[i]!));
    ask.forEach((i, k) => (out[i] = got[k]));
    return out;
  }

  private async hasManyFiltered(keys: Uint8Array[]): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const f = this.filter;
    if (f === null) return this.ctx.db.hasMany(keys);
    const ask: number[] = [];
    for (let i = 0; i < keys.length; i++) if (f.mightContain(keys[i]!)) ask.push(i);
    const out: boolean[] = new Array<boolean>(keys.length).fill(false);
    if (ask.length === 0) return out;
    const got = await this.ctx.db.hasMany(ask.map((i) => keys[i]!));
    ask.forEach((i, k) => (out[i] = got[k]!));
    return out;
  }

  async indexOfLeafHash(hash: Uint8Array): Promise<number | undefined> {
    this.ctx.assertOpen();
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_BYTES) bad(`leaf hash must be ${HASH_BYTES} bytes`);
    const key = bytesKey(P_LEAF_HASH, hash);
    if (this.filter !== null && !this.filter.mightContain(key)) return undefined;
    const v = await this.ctx.db.get(key);
    return v === undefined ? undefined : decodeU64Value(v, 'leaf-hash index');
  }

  async lookupClientId(client: string, id: string): Promise<{ index: number; leafHash: Uint8Array } | undefined> {
    this.ctx.assertOpen();
    if (typeof client !== 'string' || typeof id !== 'string') bad('client and id must be strings');
    const key = this.clientKey(client, id, 'lookupClientId');
    if (this.filter !== null && !this.filter.mightContain(key)) return undefined;
    const v = await this.ctx.db.get(key);
    return v === undefined ? undefined : decodeClientIdValue(plain(v));
  }

  async lookupLogged(entries: readonly { leafHash: Uint8Array; client: string; id: string }[]): Promise<{ index: number | undefined; logged: { index: number; leafHash: Uint8Array } | undefined }[]> {
    this.ctx.assertOpen();
    if (!Array.isArray(entries)) bad('entries must be an array');
    if (entries.length > LOOKUP_BATCH_MAX) throw new StoreError('LIMIT_EXCEEDED', `lookupLogged: ${entries.length} entries, more than LOOKUP_BATCH_MAX = ${LOOKUP_BATCH_MAX}`);
    if (entries.length === 0) return [];
    const keys: Uint8Array[] = [];
    for (const e of entries) {
      if (!(e.leafHash instanceof Uint8Array) || e.leafHash.length !== HASH_BYTES) bad(`leaf hash must be ${HASH_BYTES} bytes`);
      if (typeof e.client !== 'string' || typeof e.id !== 'string') bad('client and id must be strings');
      keys.push(bytesKey(P_LEAF_HASH, e.leafHash), this.clientKey(e.client, e.id, 'lookupLogged'));
    }
    const values = await this.getManyFiltered(keys);
    return entries.map((_, i) => {
      const byHash = values[2 * i];
      const byId = values[2 * i + 1];
      return {
        index: byHash === undefined ? undefined : decodeU64Value(byHash, 'leaf-hash index'),
        logged: byId === undefined ? undefined : decodeClientIdValue(plain(byId)),
      };
    });
  }
}

// The agent's spool: accepted events wait here, synced to disk, until their entries are final.
//
// Its own LevelDB directory. Keys:
//   'i'            instance id (16 hex, random, written once): part of every generated entry id, so
//                  a spool that was deleted and recreated never reuses an id the log already holds
//   'n'            next sequence number (u64), written in the same synced batch as the records
//   'r' ‖ u64 seq  one record: JSON { e: unsigned entry (final id and time), d?: digest of the
//                  event as sent (events with their own id), t?: times of re-signed versions }
//
// Group commit (node/storage/group-commit.ts): add() calls arriving while a write is in flight are
// written together in ONE synced batch, then all resolve. A request's events become visible to the submitter only once that batch
// is on disk, so nothing is submitted that a crash could take back (a generated id is never reused
// for another event). A request is applied whole or not at all: spool_full (count or bytes) and
// event_conflict (an id already spooled with other content) refuse all of its events.
import { randomBytes } from 'node:crypto';
import { ClassicLevel } from 'classic-level';
import { durableBatch, durablePut, writeBatch, type BatchOp } from '../storage/durable.js';
import { GroupCommit } from '../storage/group-commit.js';
import { readU64, u64 } from '../storage/keys.js';
import { utf8 } from '../../src/encoding/bytes.js';
import type { UnsignedEntry } from '../../src/entry/types.js';
import { generatedId } from './event.js';

const K_INSTANCE = 0x69; // 'i'
const K_NEXT = 0x6e; // 'n'
const K_RECORD = 0x72; // 'r'
const dec = new TextDecoder();

export interface StoredRecord {
  e: UnsignedEntry;
  d?: string;
  t?: number[];
}

/** What the submitter needs of a record without reading it from disk. */
export interface RecordMeta {
  bytes: number;
  /** Times of re-signed versions (empty: only the first version exists). */
  versions: number[];
  appId?: string;
  digest?: string;
}

export interface SpoolItem {
  entry: UnsignedEntry;
  appId: string | null;
  digest: string | null;
}

export type AddResult =
  | { ok: true; results: { id: string; status: 'spooled' | 'duplicate' }[] }
  | { ok: false; code: 'spool_full' | 'event_conflict'; message: string; field?: string };

function recordKey(seq: number): Uint8Array {
  const k = new Uint8Array(9);
  k[0] = K_RECORD;
  k.set(u64(seq), 1);
  return k;
}

export interface SpoolLimits {
  spoolEventsMax: number;
  spoolBytesMax: number;
}

export class Spool {
  /** Every spooled record, in sequence order (Map insertion order). */
  readonly meta = new Map<number, RecordMeta>();
  private readonly byAppId = new Map<string, number>();
  private bytesTotal = 0;
  private readonly commits = new GroupCommit<SpoolItem[], AddResult>('spool', (group) => this.commitGroup(group));
  private closed = false;
  /** Called after records became durable (the submitter wakes up). */
  onAdded: (seqs: number[]) => void = () => undefined;

  private constructor(
    private readonly db: ClassicLevel<Uint8Array, Uint8Array>,
    readonly instance: string,
    private nextSeq: number,
    readonly limits: SpoolLimits,
  ) {}

  static async open(dir: string, limits: SpoolLimits): Promise<Spool> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    try {
      let inst = await db.get(Uint8Array.of(K_INSTANCE));
      if (inst === undefined) {
        inst = utf8(randomBytes(8).toString('hex'));
        await durablePut(db, Uint8Array.of(K_INSTANCE), inst);
      }
      const n = await db.get(Uint8Array.of(K_NEXT));
      const s = new Spool(db, dec.decode(inst), n === undefined ? 0 : readU64(n, 0), limits);
      for await (const [k, v] of db.iterator({ gte: Uint8Array.of(K_RECORD), lt: Uint8Array.of(K_RECORD + 1) })) {
        const seq = readU64(k, 1);
        const r = JSON.parse(dec.decode(v)) as StoredRecord;
        s.install(seq, r, v.length);
        if (seq >= s.nextSeq) s.nextSeq = seq + 1;
      }
      return s;
    } catch (e) {
      await db.close().catch(() => undefined);
      throw e;
    }
  }

  get size(): number {
    return this.meta.size;
  }
  get bytes(): number {
    return this.bytesTotal;
  }
  get full(): boolean {
    return this.meta.size >= this.limits.spoolEventsMax || this.bytesTotal >= this.limits.spoolBytesMax;
  }

  private install(seq: number, r: StoredRecord, bytes: number): void {
    const m: RecordMeta = { bytes, versions: r.t ?? [] };
    if (r.d !== undefined) {
      m.appId = r.e.id;
      m.digest = r.d;
      this.byAppId.set(r.e.id, seq);
    }
    this.meta.set(seq, m);
    this.bytesTotal += bytes;
  }

  /** Durably spools one request's events (see the header); resolves once they are on disk. */
  add(items: SpoolItem[]): Promise<AddResult> {
    return this.commits.submit(items);
  }

  /** One group commit: stages every request of the group, writes them in one synced batch. */
  private async commitGroup(group: SpoolItem[][]): Promise<AddResult[]> {
    // Staged state of this batch: later requests of the group see earlier ones.
    const staged = new Map<number, { r: StoredRecord; value: Uint8Array }>();
    const stagedIds = new Map<string, { seq: number; digest: string }>();
    let count = this.meta.size;
    let bytes = this.bytesTotal;
    const results: AddResult[] = group.map((items) => {
      const out: { id: string; status: 'spooled' | 'duplicate' }[] = [];
      const mine: { seq: number; r: StoredRecord; value: Uint8Array; appId: string | null; digest: string | null }[] = [];
      const seen = new Map<string, string>();
      let addBytes = 0;
      for (let i = 0; i < items.length; i++) {
        const it = items[i]!;
        if (it.appId !== null) {
          const prior = seen.get(it.appId) ?? stagedIds.get(it.appId)?.digest ?? this.digestOf(it.appId);
          if (prior !== undefined) {
            if (prior !== it.digest) {
              return { ok: false, code: 'event_conflict', field: `[${i}].id`, message: `an event with id "${it.appId}" and different content is already spooled` };
            }
            out.push({ id: it.appId, status: 'duplicate' });
            continue;
          }
          seen.set(it.appId, it.digest!);
        }
        const seq = this.nextSeq + mine.length;
        const e = it.appId === null ? { ...it.entry, id: generatedId(this.instance, seq) } : it.entry;
        const r: StoredRecord = it.digest === null ? { e } : { e, d: it.digest };
        const value = utf8(JSON.stringify(r));
        addBytes += value.length;
        mine.push({ seq, r, value, appId: it.appId, digest: it.digest });
        out.push({ id: e.id, status: 'spooled' });
      }
      if (count + mine.length > this.limits.spoolEventsMax || bytes + addBytes > this.limits.spoolBytesMax) {
        return {
          ok: false,
          code: 'spool_full',
          message: `spool full: ${count} events / ${bytes} bytes held, ${mine.length} events / ${addBytes} bytes more would exceed spoolEventsMax ${this.limits.spoolEventsMax} or spoolBytesMax ${this.limits.spoolBytesMax}`,
        };
      }
      this.nextSeq += mine.length;
      count += mine.length;
      bytes += addBytes;
      for (const m of mine) {
        staged.set(m.seq, { r: m.r, value: m.value });
        if (m.appId !== null) stagedIds.set(m.appId, { seq: m.seq, digest: m.digest! });
      }
      return { ok: true, results: out };
    });
    if (staged.size === 0) return results;
    const ops: BatchOp[] = [];
    for (const [seq, s] of staged) ops.push({ type: 'put', key: recordKey(seq), value: s.value });
    ops.push({ type: 'put', key: Uint8Array.of(K_NEXT), value: u64(this.nextSeq) });
    // A failed write throws: every caller of the group hears it and nothing becomes visible (the
    // burned sequence numbers are never reused).
    await durableBatch(this.db, ops);
    for (const [seq, s] of staged) this.install(seq, s.r, s.value.length);
    this.onAdded([...staged.keys()]);
    return results;
  }

  private digestOf(appId: string): string | undefined {
    const seq = this.byAppId.get(appId);
    return seq === undefined ? undefined : this.meta.get(seq)?.digest;
  }

  /** The stored records of `seqs` (undefined for one removed meanwhile). */
  async read(seqs: number[]): Promise<(StoredRecord | undefined)[]> {
    if (seqs.length === 0) return [];
    const vals = await this.db.getMany(seqs.map(recordKey));
    return vals.map((v) => (v === undefined ? undefined : (JSON.parse(dec.decode(v)) as StoredRecord)));
  }

  /**
   * Records a new version (fresh time) of a record, synced, BEFORE it is signed and submitted:
   * every version that may reach a peer is on disk, so after a crash all of them are checked.
   */
  async addVersion(seq: number, timeMs: number): Promise<boolean> {
    const m = this.meta.get(seq);
    if (m === undefined) return false;
    const [r] = await this.read([seq]);
    if (r === undefined) return false;
    r.t = [...(r.t ?? []), timeMs];
    const value = utf8(JSON.stringify(r));
    await durablePut(this.db, recordKey(seq), value);
    m.versions = r.t;
    this.bytesTotal += value.length - m.bytes;
    m.bytes = value.length;
    return true;
  }

  /**
   * Removes records whose entries are final. Not synced: a removal lost in a crash only means the
   * record is submitted again after the restart, a peer answers known-final, and it is removed
   * again — no duplicate, nothing lost.
   */
  async remove(seqs: number[]): Promise<void> {
    const ops: BatchOp[] = [];
    for (const seq of seqs) {
      const m = this.meta.get(seq);
      if (m === undefined) continue;
      this.meta.delete(seq);
      this.bytesTotal -= m.bytes;
      if (m.appId !== undefined && this.byAppId.get(m.appId) === seq) this.byAppId.delete(m.appId);
      ops.push({ type: 'del', key: recordKey(seq) });
    }
    if (ops.length > 0) await writeBatch(this.db, ops, { durable: false });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.commits.close();
    await this.db.close();
  }
}

// The peer's view of the governance records in its final log, for GET /v1/governance/*: the
// cairn.gov.* entries found through the search index (action prefix postings), each replayed from
// the genesis with applyGovernance at the height of its block, and for every accepted membership
// change (org.add, org.remove, org.key.rotate) the handover checkpoint an auditor needs.
//
// Why replay here rather than trust the entries: a record that the governance rules refuse (an
// expired deadline, a second change while one is pending) never changes the membership, so it is
// never served as a step even if it was logged as an ordinary entry.
//
// Work is bounded per call: at most GOV_SCAN_PER_CALL records are examined, the rest on later calls
// (the answer says `complete: false`); the scan resumes where it stopped and never re-reads.
import { parseCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { parseNote } from '../../src/checkpoint/note.js';
import { ByteReader } from '../../src/consensus/byte-io.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { parseLeaf } from '../../src/entry/leaf.js';
import {
  applyGovernance,
  genesisGovState,
  GOV_ACTION_PREFIX,
  GOV_MEMBERSHIP_TYPES,
  govRecordFromEntry,
  type GovGenesis,
  type GovState,
  type GovType,
} from '../../src/governance/index.js';
import { decodeGroup, indexOfPostingKey, K_ACTION_PREFIX, postingBase, postingEnd, postingKey } from '../search/keys.js';
import type { Store } from '../storage/store.js';

/** Records examined per call (each costs a leaf read, a parse, a block-height search and signature checks). */
export const GOV_SCAN_PER_CALL = 2_000;
/** Most governance records remembered (older ones are still replayed, only their listing is dropped). */
export const GOV_RECORDS_KEPT_MAX = 100_000;
/** Heights searched below a change's handover height for a final checkpoint when that one is not final. */
export const HANDOVER_SEARCH_HEIGHTS_MAX = 64;
/** Block tree sizes cached (height → tree size). */
const HEIGHT_CACHE_MAX = 50_000;
/** Posting groups read per LevelDB range read. */
const GROUP_READ = 64;

/** One governance record of the final log and the verdict the rules give it. */
export interface GovRecordInfo {
  index: number;
  height: number;
  id: string;
  type: GovType;
  /** 'accepted', or the gov_* code the record is refused with (also for entries that do not parse). */
  verdict: string;
  effectiveHeight?: number;
  summary?: string;
  /** Organization set number a membership change creates. */
  epoch?: number;
}

/** An accepted membership change and, once its handover height is final, the checkpoint that ends the old set. */
export interface MembershipChange extends GovRecordInfo {
  epoch: number;
  effectiveHeight: number;
  /** Final checkpoint note of the last height before the change takes effect (set once found). */
  checkpoint?: Uint8Array;
  checkpointSize?: number;
}

const GOV_PREFIX_BASE = postingBase(K_ACTION_PREFIX, GOV_ACTION_PREFIX)!;

function noteSize(note: Uint8Array): number | null {
  const n = parseNote(note);
  if (!n.ok) return null;
  const cp = parseCheckpoint(n.note.text);
  return cp.ok ? cp.checkpoint.size : null;
}

export class GovScanner {
  private state: GovState;
  private scanned = 0;
  private readonly records: GovRecordInfo[] = [];
  private readonly changes: MembershipChange[] = [];
  private readonly sizeAt = new Map<number, number>();
  private busy: Promise<unknown> = Promise.resolve();
  private dropped = 0;

  constructor(
    private readonly store: Store,
    genesis: GovGenesis,
  ) {
    this.state = genesisGovState(genesis);
  }

  /** Tree size after the block at `height` (from its header), or undefined when not stored. */
  private async treeSizeAt(height: number): Promise<number | undefined> {
    const cached = this.sizeAt.get(height);
    if (cached !== undefined) return cached;
    const b = await this.store.getBlock(height);
    if (b === undefined) return undefined;
    // Header: version u8, height u64, prevHash 32, proposer u16, timeMs u64, treeSize u64 (node/peer/block.ts).
    const r = new ByteReader(b.subarray(0, 1 + 8 + 32 + 2 + 8 + 8));
    r.u8();
    r.u64();
    r.bytes(32);
    r.u16();
    r.u64();
    const size = r.u64();
    if (r.truncated) return undefined;
    if (this.sizeAt.size >= HEIGHT_CACHE_MAX) this.sizeAt.clear();
    this.sizeAt.set(height, size);
    return size;
  }

  /** Height of the block holding leaf `index` (binary search over block headers; no empty blocks). */
  private async heightOf(index: number): Promise<number | undefined> {
    const head = this.store.head();
    if (head === null || index >= head.treeSize) return undefined;
    let lo = 1;
    let hi = head.height;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const s = await this.treeSizeAt(mid);
      if (s === undefined) return undefined;
      if (s > index) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Size of the latest final checkpoint (what is scanned: only final entries count). */
  private async finalSize(): Promise<number> {
    const note = await this.store.latestFinalCheckpoint();
    return note === undefined ? 0 : (noteSize(note) ?? 0);
  }

  /** Examines up to GOV_SCAN_PER_CALL new records; calls are serialized. */
  refresh(): Promise<{ finalSize: number; complete: boolean }> {
    const run = this.busy.then(() => this.scan());
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async scan(): Promise<{ finalSize: number; complete: boolean }> {
    const finalSize = await this.finalSize();
    const access = this.store.searchAccess();
    // Entries not yet indexed are not scanned (the index catches up in the block's own batch).
    const until = Math.min(finalSize, access.enabled ? access.indexedSize() : 0);
    let examined = 0;
    while (this.scanned < until && examined < GOV_SCAN_PER_CALL) {
      const recs = await access.records({ gte: postingKey(GOV_PREFIX_BASE, this.scanned), lt: postingEnd(GOV_PREFIX_BASE), limit: GROUP_READ });
      // Every governance record from `scanned` to `until` is in `indexes` once `complete`.
      let complete = recs.length < GROUP_READ;
      const indexes: number[] = [];
      let lastRead = this.scanned;
      for (const r of recs) {
        lastRead = indexOfPostingKey(r.key);
        const group = decodeGroup(lastRead, r.value) ?? [];
        for (let k = group.length - 1; k >= 0; k--) {
          const i = group[k]!;
          if (i >= this.scanned && i < until && (indexes.length === 0 || i > indexes[indexes.length - 1]!)) indexes.push(i);
        }
        if (lastRead >= until - 1) {
          complete = true;
          break;
        }
      }
      const take = indexes.slice(0, GOV_SCAN_PER_CALL - examined);
      if (take.length < indexes.length) complete = false;
      const leaves = await access.leaves(take);
      let stopped = false;
      for (let i = 0; i < take.length && !stopped; i++) {
        // A leaf or block not readable now is retried on the next call, never skipped.
        if (await this.examine(take[i]!, leaves[i])) this.scanned = take[i]! + 1;
        else stopped = true;
      }
      examined += take.length;
      if (stopped) break;
      if (complete) this.scanned = until;
      // Groups that held nothing to examine (none in range): read on after them.
      else if (take.length === 0) this.scanned = Math.min(until, lastRead + 1);
    }
    await this.findHandovers();
    return { finalSize, complete: this.scanned >= until && until === finalSize };
  }

  private keep(info: GovRecordInfo): void {
    if (this.records.length >= GOV_RECORDS_KEPT_MAX) {
      this.records.shift();
      this.dropped++;
    }
    this.records.push(info);
  }

  /** Replays one record; false when its leaf or block cannot be read now. */
  private async examine(index: number, leaf: Uint8Array | undefined): Promise<boolean> {
    const height = await this.heightOf(index);
    if (leaf === undefined || height === undefined) return false;
    const entry = parseLeaf(leaf);
    if (!entry.ok) return true;
    const gov = govRecordFromEntry(entry.entry);
    if (!gov.ok) {
      this.keep({ index, height, id: '', type: entry.entry.action.slice(GOV_ACTION_PREFIX.length) as GovType, verdict: gov.code });
      return true;
    }
    const p = gov.parsed;
    const info: GovRecordInfo = { index, height, id: p.id, type: p.record.type, verdict: 'accepted' };
    if (height < this.state.height) {
      this.keep({ ...info, verdict: 'gov_height_regress' });
      return true;
    }
    const r = applyGovernance(this.state, p, height, { verifier: nodeVerifier });
    if (!r.ok) {
      this.keep({ ...info, verdict: r.code });
      return true;
    }
    this.state = r.state;
    const done: GovRecordInfo = { ...info, effectiveHeight: r.effect.effectiveHeight, summary: r.effect.summary };
    if (GOV_MEMBERSHIP_TYPES.includes(p.record.type)) {
      const epoch = (p.record.body as { epoch: number }).epoch;
      done.epoch = epoch;
      this.changes.push({ ...done, epoch, effectiveHeight: r.effect.effectiveHeight });
    }
    this.keep(done);
    return true;
  }

  /** For each change whose handover height is decided: the final checkpoint of that height, or the
   *  nearest final one below it that still includes the record (an earlier handover only makes
   *  later old-set checkpoints fail for the auditor, never accepts more). */
  private async findHandovers(): Promise<void> {
    const head = this.store.head();
    if (head === null) return;
    for (const c of this.changes) {
      if (c.checkpoint !== undefined) continue;
      const handover = c.effectiveHeight - 1;
      if (handover > head.height) return; // later changes wait for this one
      const lowest = Math.max(c.height, handover - HANDOVER_SEARCH_HEIGHTS_MAX);
      for (let h = handover; h >= lowest; h--) {
        const size = await this.treeSizeAt(h);
        if (size === undefined || size <= c.index) break;
        const rec = await this.store.getCheckpoint(size);
        if (rec?.final === true) {
          c.checkpoint = rec.note;
          c.checkpointSize = size;
          break;
        }
      }
      if (c.checkpoint === undefined) return;
    }
  }

  /** Accepted membership changes creating set `fromEpoch` and later, in order (with or without a handover yet). */
  changesFrom(fromEpoch: number): readonly MembershipChange[] {
    return this.changes.filter((c) => c.epoch >= fromEpoch);
  }

  /** Records with index >= from, in log order. */
  recordsFrom(from: number): { records: readonly GovRecordInfo[]; dropped: number } {
    return { records: this.records.filter((r) => r.index >= from), dropped: this.dropped };
  }

  govState(): GovState {
    return this.state;
  }
}

// Background scrub: re-verifies the peer's own stored leaves and tiles against its latest final
// checkpoint, at a bounded rate, and reports the first mismatch of each cycle. Without it a peer
// whose LevelDB was edited (an insider changing one leaf while it was stopped) keeps serving the
// edited entry; outside auditors would catch it, the peer itself would not.
//
// One step = one level-0 tile (up to 256 leaves): every leaf is hashed and compared with the
// stored level-0 tile; a full level-0 tile's subtree root is compared with its entry in the
// level-1 tile. At the end of a cycle the root recomputed from the stored tiles is compared with
// the checkpoint's root, which covers edits of higher tiles. Steps are spaced so that at most
// `leavesPerSecond` leaves are read per second (cycle time = tree size / leavesPerSecond).
//
// The search indexes (derived from the leaves) are re-verified after a clean cycle, at most once
// per `indexEveryMs` (verifyIndexes: every posting and time summary the leaves imply is present,
// nothing else is). That check has the same rate bound: its leaf reads (batches of 4,096 leaves
// with their postings) at most `leavesPerSecond`, and its scan of the stored index records at the
// pace of the same number of leaves' postings per second (the postings per leaf measured by its
// first pass), so one run over N leaves takes about 2 N / leavesPerSecond. It runs without the
// block lock, so a block applied meanwhile can look like an extra record or a changed time
// summary at the end of the tree: such a result, when the tree grew during the run, is dropped
// and the next run decides.
import { bytesEqual } from '../../src/encoding/bytes.js';
import { leafHash, nodeHash, tileHash, treeHash, TILE_WIDTH, HASH_BYTES } from '../../src/merkle/index.js';
import { parseCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { parseNote } from '../../src/checkpoint/note.js';
import type { Peer } from '../peer/peer.js';
import type { Store } from '../storage/store.js';
import { verifyIndexes } from '../search/maintain.js';
import { K_TIME, TIME_CHUNK, groupSize } from '../search/keys.js';

export interface ScrubMismatch {
  /** leaf: a leaf does not hash to its tile entry; tile: a level-0 tile disagrees with level 1; root: the stored tiles do not give the checkpoint's root. */
  what: 'leaf' | 'tile' | 'root' | 'missing' | 'index';
  /** The first leaf index concerned. */
  index: number;
  treeSize: number;
  message: string;
}

export interface ScrubStats {
  cycles: number;
  /** Leaves verified in the current cycle. */
  position: number;
  lastCycleMs: number | null;
  mismatches: number;
  /** Search index verifications completed (clean or not), and the last one's duration. */
  indexChecks: number;
  lastIndexCheckMs: number | null;
  /** Time spent waiting for the rate bound (leaf cycles and index checks), ms since start. */
  pausedMs: number;
}

/** Root of a full tile's 256 hashes (a perfect subtree of height 8). */
function fullTileRoot(tile: Uint8Array): Uint8Array {
  let level: Uint8Array[] = [];
  for (let i = 0; i < TILE_WIDTH; i++) level.push(tileHash(tile, i));
  while (level.length > 1) {
    const up: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(nodeHash(level[i]!, level[i + 1]!));
    level = up;
  }
  return level[0]!;
}

/**
 * Keeps work at or below `perSecond` units per second: take(n) waits until the time since the
 * previous take (the work in between) is what n units are allowed. Slow work earns no credit, so
 * the rate is never exceeded in bursts afterwards either.
 */
class Pacer {
  private since = Date.now();

  constructor(
    private readonly perSecond: number,
    private readonly sleep: (ms: number) => Promise<void>,
    /** True once the work must end: take() then throws, also after a sleep cut short. */
    private readonly stopped: () => boolean,
  ) {}

  async take(units: number): Promise<void> {
    const wait = this.since + (units * 1000) / Math.max(1, this.perSecond) - Date.now();
    if (wait > 0 && !this.stopped()) await this.sleep(wait);
    if (this.stopped()) throw new Error('scrub stopped');
    this.since = Date.now();
  }
}

/**
 * The store as verifyIndexes reads it, paced: leaf reads by their count, the scan of the index
 * records by the number of leaves whose postings they hold (postings per leaf as looked up so
 * far). Reads only: every other member is the store's own.
 */
function pacedStore(store: Store, pacer: Pacer): Store {
  const access = store.searchAccess();
  let leaves = 0;
  let postings = 0;
  const paced = {
    ...access,
    firstRecords: (ranges: Parameters<typeof access.firstRecords>[0]) => {
      postings += ranges.length;
      return access.firstRecords(ranges);
    },
    records: async (r: Parameters<typeof access.records>[0]) => {
      const rs = await access.records(r);
      let n = 0;
      for (const x of rs) n += x.key[1] === K_TIME ? 1 : groupSize(x.value);
      await pacer.take(n / Math.max(1, postings / Math.max(1, leaves)));
      return rs;
    },
  };
  return Object.create(store, {
    getLeaves: {
      value: async (start: number, count: number) => {
        await pacer.take(count);
        leaves += count;
        return store.getLeaves(start, count);
      },
    },
    searchAccess: { value: () => paced },
  }) as Store;
}

export class Scrubber {
  readonly stats: ScrubStats = { cycles: 0, position: 0, lastCycleMs: null, mismatches: 0, indexChecks: 0, lastIndexCheckMs: null, pausedMs: 0 };
  private lastIndexCheckAt: number | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly peer: Peer,
    private readonly opts: { leavesPerSecond: number; pauseBetweenCyclesMs?: number; onMismatch: (m: ScrubMismatch) => void; indexEveryMs?: number },
  ) {}

  start(): void {
    this.loop = this.run().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(t);
        self.wake = null;
        r();
      }
      this.wake = done;
    });
  }

  private pacer(): Pacer {
    return new Pacer(
      this.opts.leavesPerSecond,
      async (ms) => {
        const t0 = Date.now();
        await this.sleep(ms);
        this.stats.pausedMs += Date.now() - t0;
      },
      () => this.stopped,
    );
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const note = await this.peer.latestCheckpoint();
      const parsed = note === null ? null : parseNote(note);
      const cp = parsed?.ok ? parseCheckpoint(parsed.note.text) : null;
      if (cp?.ok && cp.checkpoint.size > 0) {
        const t0 = Date.now();
        let found = await this.cycle(cp.checkpoint.size, cp.checkpoint.root);
        if (found === null && !this.stopped) found = await this.indexes();
        if (found !== null) {
          this.stats.mismatches++;
          this.opts.onMismatch(found);
        }
        if (!this.stopped) {
          this.stats.cycles++;
          this.stats.lastCycleMs = Date.now() - t0;
        }
      }
      await this.sleep(this.opts.pauseBetweenCyclesMs ?? 60_000);
    }
  }

  /** The search indexes against the stored leaves, when due; a mismatch, or null. */
  async indexes(): Promise<ScrubMismatch | null> {
    const every = this.opts.indexEveryMs ?? 3_600_000;
    const store = this.peer.internals.store;
    const access = store.searchAccess();
    if (every <= 0 || !access.enabled) return null;
    const t0 = Date.now();
    if (this.lastIndexCheckAt !== null && t0 - this.lastIndexCheckAt < every) return null;
    this.lastIndexCheckAt = t0;
    const before = access.treeSize();
    const r = await verifyIndexes(pacedStore(store, this.pacer()));
    this.stats.indexChecks++;
    this.stats.lastIndexCheckMs = Date.now() - t0;
    if (r.ok) return null;
    const after = access.treeSize();
    // Explained by blocks applied during the run (see the header): not evidence.
    const lastChunk = Math.floor(before / TIME_CHUNK) * TIME_CHUNK;
    const racy =
      r.code === 'INDEX_INCOMPLETE' ||
      (after !== before && (r.index === null || (r.code === 'INDEX_EXTRA' && r.index >= before) || (r.code === 'TIME_SUMMARY_MISMATCH' && r.index >= lastChunk)));
    if (racy) return null;
    return { what: 'index', index: r.index ?? 0, treeSize: before, message: `search index: ${r.code}: ${r.message}` };
  }

  /** One pass over [0, size); the first mismatch, or null. */
  async cycle(size: number, root: Uint8Array): Promise<ScrubMismatch | null> {
    const store = this.peer.internals.store;
    const pacer = this.pacer();
    for (let t = 0; t * TILE_WIDTH < size; t++) {
      if (this.stopped) return null;
      const start = t * TILE_WIDTH;
      const width = Math.min(TILE_WIDTH, size - start);
      this.stats.position = start;
      const [leaves, tile] = await Promise.all([store.getLeaves(start, width), store.readTile(0, t, width)]);
      if (leaves.length !== width || tile === undefined || tile.length !== width * HASH_BYTES) {
        return { what: 'missing', index: start, treeSize: size, message: `leaves or level-0 tile ${t} missing below tree size ${size}` };
      }
      for (let i = 0; i < width; i++) {
        if (!bytesEqual(leafHash(leaves[i]!), tileHash(tile, i))) {
          return { what: 'leaf', index: start + i, treeSize: size, message: `leaf ${start + i} does not hash to its entry in level-0 tile ${t}: the stored leaf or tile was altered` };
        }
      }
      if (width === TILE_WIDTH) {
        const parentIndex = Math.floor(t / TILE_WIDTH);
        const parent = await store.readTile(1, parentIndex, Math.min(TILE_WIDTH, Math.floor(size / TILE_WIDTH) - parentIndex * TILE_WIDTH));
        if (parent !== undefined && !bytesEqual(fullTileRoot(tile), tileHash(parent, t % TILE_WIDTH))) {
          return { what: 'tile', index: start, treeSize: size, message: `level-0 tile ${t} (leaves ${start}..${start + 255}) disagrees with its hash in level-1 tile ${parentIndex}` };
        }
      }
      this.stats.position = start + width;
      await pacer.take(width);
    }
    const computed = await treeHash(store, size);
    if (!bytesEqual(computed, root)) return { what: 'root', index: 0, treeSize: size, message: `the stored tiles give another root than the final checkpoint of size ${size}` };
    return null;
  }
}

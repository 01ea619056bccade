// The gzip of full entry bundles, made once per bundle. A full bundle (256 entries) never changes,
// and every client reading the log fetches the same ones, so compressing per request would spend
// the libuv pool (and memory for each in-progress compression) on identical work. The cache is
// bounded in bytes and evicts the least recently used bundle; concurrent requests for a bundle
// that is being compressed share that one compression. Partial bundles are not cached: they are
// superseded as the tree grows.
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';

const gzip = promisify(gzipCb);

export interface GzipCacheStats {
  entries: number;
  bytes: number;
  hits: number;
  compressions: number;
}

export class BundleGzipCache {
  /** Map order is recency order: the first key is the least recently used. */
  private readonly done = new Map<number, Buffer>();
  private readonly pending = new Map<number, Promise<Buffer>>();
  private bytes = 0;
  private hits = 0;
  private compressions = 0;

  constructor(readonly bytesMax: number) {}

  /** The gzip of the full bundle with this index (`raw` is its content, used on a miss). */
  async get(index: number, raw: Uint8Array): Promise<Buffer> {
    const hit = this.done.get(index);
    if (hit !== undefined) {
      this.hits++;
      this.done.delete(index);
      this.done.set(index, hit);
      return hit;
    }
    const inProgress = this.pending.get(index);
    if (inProgress !== undefined) {
      this.hits++;
      return inProgress;
    }
    this.compressions++;
    // zlib runs on the libuv thread pool: the event loop stays free for consensus.
    const p = gzip(raw).finally(() => this.pending.delete(index));
    this.pending.set(index, p);
    const z = await p;
    this.keep(index, z);
    return z;
  }

  private keep(index: number, z: Buffer): void {
    if (z.length > this.bytesMax || this.done.has(index)) return;
    this.done.set(index, z);
    this.bytes += z.length;
    for (const [k, v] of this.done) {
      if (this.bytes <= this.bytesMax) break;
      this.done.delete(k);
      this.bytes -= v.length;
    }
  }

  stats(): GzipCacheStats {
    return { entries: this.done.size, bytes: this.bytes, hits: this.hits, compressions: this.compressions };
  }
}

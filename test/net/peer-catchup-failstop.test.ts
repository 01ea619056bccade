// Fail-stop during catch-up, on real peers (real LevelDB, real libp2p on 127.0.0.1): what no sync
// source can cause halts the catching-up peer instead of backing off the source that served it.
// Three peers build a log of several catch-up ranges; the fourth starts from an empty data dir:
//   1. its store's write of a range fails (an I/O error, injected into that peer's store only):
//      consensus halts with STORE_FAILED, no source is blamed, nothing is applied;
//   2. (data dir wiped) its ledger refuses a block whose commit certificate verified (our state
//      diverged from the quorum's, injected into that peer's ledger only): DIVERGENCE, no source
//      is blamed.
// Before this, both were logged as a warning and the source was backed off, then the next source
// failed the same way, and so on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, rm } from 'node:fs/promises';
import type { Store } from '../../node/storage/store.js';
import { Ledger } from '../../node/peer/ledger.js';
import { failure } from '../../node/peer/errors.js';
import { clusterProgress, makeCluster, makeEntries, waitConnected, waitFor, type Cluster } from '../peer-support/cluster.js';
import type { Peer } from '../../node/peer/peer.js';

// 40 heights of 4 entries: more than one catch-up range (a range is up to 64 blocks, but a
// response's first block is verified alone before the rest).
const ENTRIES = 160;
let c: Cluster;
let height = 0;

/** The store class's prototype (the class is not exported; every peer's store is one). */
let storeProto: Pick<Store, 'applyBlocks'>;
let realApplyBlocks: Store['applyBlocks'];
const realApplyRange = Ledger.prototype.applyRange;

beforeAll(async () => {
  c = await makeCluster(4, { label: 'syncfs', clients: 4, limits: { maxBlockEntries: 4 } });
  await Promise.all([0, 1, 2].map((i) => c.start(i)));
  await waitConnected(c, [0, 1, 2], 2);
  storeProto = Object.getPrototypeOf(c.peers[0]!.internals.store) as Pick<Store, 'applyBlocks'>;
  realApplyBlocks = storeProto.applyBlocks;
  const entries = makeEntries(c.clients, ENTRIES, 'syncfs');
  for (let i = 0; i < ENTRIES; i += 40) await c.peers[(i / 40) % 3]!.submit(entries.slice(i, i + 40));
  await waitFor(c, `${ENTRIES} entries final on peers 0-2`, () => c.peers.slice(0, 3).every((p) => p!.status().finalSize >= ENTRIES), () => clusterProgress(c), { stallMs: 30_000, maxMs: 180_000 });
  height = c.peers[0]!.status().height;
}, 240_000);

afterAll(async () => {
  if (storeProto !== undefined) storeProto.applyBlocks = realApplyBlocks;
  Ledger.prototype.applyRange = realApplyRange;
  await c?.close();
});

/** Starts org3 from an empty data dir and waits until it halted (or fails naming its state). */
async function startEmptyUntilHalted(): Promise<Peer> {
  await rm(c.dirs[3]!, { recursive: true, force: true });
  await mkdir(c.dirs[3]!, { recursive: true });
  const p = await c.start(3);
  await waitFor(c, 'org3 halts during catch-up', () => p.status().halted !== null, () => p.status().height + p.status().sync.sourcesDemoted, { stallMs: 20_000, maxMs: 60_000 });
  return p;
}

/** The halted peer stays halted and applies nothing more; no source was backed off. */
async function expectStoppedHere(p: Peer, atHeight: number): Promise<void> {
  const failures = p.status().sync.failures;
  // Several status polls (one per second) after the halt: a catch-up that still ran would apply
  // blocks or fail again and back off a source.
  await new Promise((r) => setTimeout(r, 2_500));
  const st = p.status();
  expect(st.height).toBe(atHeight);
  expect(st.sync.sourcesDemoted).toBe(0);
  expect(st.sync.failures).toBe(failures);
  expect(st.problem).toMatch(/^consensus halted: /);
}

describe('catch-up that fails for a reason of our own halts the peer', () => {
  it('a store write that fails while applying a range halts with STORE_FAILED and blames no source', async () => {
    const org3Dir = c.dirs[3]!;
    let injected = 0;
    storeProto.applyBlocks = function (this: Store & { dir: string }, bs) {
      if (!this.dir.startsWith(org3Dir)) return realApplyBlocks.call(this, bs);
      injected++;
      // What classic-level reports when LevelDB's write fails (e.g. the disk is full).
      return Promise.reject(Object.assign(new Error('IO error: data/000005.log: No space left on device'), { code: 'LEVEL_IO_ERROR' }));
    };
    try {
      const p = await startEmptyUntilHalted();
      expect(injected).toBe(1);
      expect(p.status().halted).toMatchObject({ code: 'STORE_FAILED', message: expect.stringMatching(/^catch-up of height 1: IO error: .*No space left on device/) });
      expect(c.logs[3]!.some((l) => l.level === 'error' && /halted/.test(l.msg))).toBe(true);
      await expectStoppedHere(p, 0);
      expect(injected).toBe(1);
    } finally {
      storeProto.applyBlocks = realApplyBlocks;
      await c.stop(3);
    }
  }, 120_000);

  it('a certified block our checks refuse halts with DIVERGENCE and blames no source', async () => {
    let injected = 0;
    Ledger.prototype.applyRange = function (this: Ledger, items) {
      if (this !== c.peers[3]?.internals.ledger) return realApplyRange.call(this, items);
      injected++;
      // Our recomputed root disagrees with the one q validators committed: our state diverged.
      return Promise.resolve({ applied: 0, failure: failure('block_bad_root', 'root does not match the log after appending the entries (RFC 9162 MTH)') });
    };
    try {
      const p = await startEmptyUntilHalted();
      expect(injected).toBe(1);
      expect(p.status().halted).toMatchObject({ code: 'DIVERGENCE', message: expect.stringMatching(/^certified block 1 does not apply: block_bad_root: /) });
      await expectStoppedHere(p, 0);
      expect(injected).toBe(1);
    } finally {
      Ledger.prototype.applyRange = realApplyRange;
      await c.stop(3);
    }
    // The log it failed on was fine: the same empty peer catches up without the fault.
    await rm(c.dirs[3]!, { recursive: true, force: true });
    await mkdir(c.dirs[3]!, { recursive: true });
    const p = await c.start(3);
    await waitFor(c, 'org3 catches up', () => p.status().height >= height, () => p.status().height, { stallMs: 20_000, maxMs: 60_000 });
    expect(p.status().halted).toBeNull();
    expect(p.status().sync.sourcesDemoted).toBe(0);
  }, 120_000);
});

// A peer restarted in the middle of a height whose proposal travelled compact (the production
// consensus runner and block assembly, a real LevelDB store, a clock that moves only when the test
// advances it; validators 1-3 are played by the test through onGossip):
//  - after it precommitted a RECEIVED compact proposal, its mempool empty and nobody to fetch the
//    entries from, it still rebuilds the block, decides and applies it once the others' precommits
//    arrive, and serves the block's entries by hash (entries-by-hash/1) to peers that lack them;
//  - a restored compact proposal it cannot rebuild and did not precommit never wedges it: nil
//    prevote at the propose timeout (paper L57) or nil precommit at the prevote timeout (L61), and
//    the next round after the precommit timeout (L47 -> L65).
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type ConsensusMessage, type Vote } from '../../src/consensus/index.js';
import { toHex } from '../../src/encoding/bytes.js';
import { openStore } from '../../node/storage/store.js';
import { ConsensusRunner, encodeEnvelope, fastSha256, openEnvelope } from '../../node/peer/consensus-runner.js';
import { decodeSignerState } from '../../node/peer/codec.js';
import { BlockAssembly } from '../../node/peer/block-assembly.js';
import { encodeCompact } from '../../node/peer/block-compact.js';
import { decodeFetchResponse, encodeFetchRequest, serveFetch } from '../../node/peer/block-fetch.js';
import { BLOCK_CAPS, decodeBlock, encodeBlock, entriesHashOf } from '../../node/peer/block.js';
import { fastLeafHash } from '../../node/peer/entries.js';
import { encodeCompactProposal, isCompactRecord } from '../../node/peer/runner/compact.js';
import { restoredValues, SyncedLock } from '../../node/peer/runner/restore.js';
import { ManualClock } from './support/manual-clock.js';
import { CHAIN, closedAfterEach, TestLedger, genesisFor, proposal, signers, vote } from './support/runner-harness.js';

const STEP_MS = 1_000;

/** The test ledger with the production block assembly: real blocks, compact forms, rebuilds from `pool` (the mempool). */
class CompactLedger extends TestLedger {
  readonly pool = new Map<string, Uint8Array>();
  private readonly verdicts2 = new Map<string, boolean>();
  readonly assembly = new BlockAssembly({ leafOf: (h) => this.pool.get(h), leafHash: fastLeafHash, valueId: fastSha256, limitsAt: () => BLOCK_CAPS });
  compactOf(v: Uint8Array): Uint8Array | null {
    return this.assembly.compactOf(v);
  }
  expandCompact(c: Uint8Array, deadlineMs: number) {
    return this.assembly.expand(c, deadlineMs);
  }
  /** Our own proposal: a real block of the leaves in the pool, valid by construction (as in the production ledger). */
  override buildBlock(height: number, proposer: number): Uint8Array {
    const leaves = [...this.pool.values()];
    const hashes = leaves.map(fastLeafHash);
    const block = { header: { height, prevHash: new Uint8Array(32), proposer, timeMs: clock.now(), treeSize: leaves.length, root: new Uint8Array(32).fill(9), entriesHash: entriesHashOf(hashes) }, entries: leaves };
    const value = encodeBlock(block);
    this.verdicts2.set(toHex(fastSha256(value)), true);
    return value;
  }
  override verdict(idHex: string): boolean | undefined {
    return this.verdicts2.get(idHex);
  }
  override async prevalidate(bytes: Uint8Array) {
    this.prevalidations++;
    const ok = decodeBlock(bytes).ok;
    this.verdicts2.set(toHex(fastSha256(bytes)), ok);
    return ok ? ({ ok: true } as const) : { ok: false as const, code: 'invalid', message: 'not a block' };
  }
}

const { dirs, open } = closedAfterEach();

const clock = new ManualClock();

/** Validator 0 over `dir` at head 0 (height 1: validator 1 proposes round 0, validator 2 round 1). */
async function peer(dir: string, ledger: CompactLedger) {
  const store = await openStore(dir);
  const published: ConsensusMessage[] = [];
  const halts: string[] = [];
  const runner = new ConsensusRunner({
    genesis: genesisFor(STEP_MS),
    store,
    ledger: ledger as never,
    mempool: { size: 0, onAdded: () => () => undefined } as never,
    selfIndex: 0,
    signer: signers[0]!,
    clock,
    publish: (b: Uint8Array) => {
      const d = openEnvelope(b);
      if (d === null || isCompactRecord(d)) return;
      const m = decodeMessage(d);
      if (m.ok) published.push(m.message);
    },
    onBehind: () => undefined,
    onHalt: (code: string) => halts.push(code),
    log: () => undefined,
  } as never);
  await runner.start();
  const entry = { runner, store };
  open.push(entry);
  const close = async () => {
    await runner.stop();
    await store.close();
    open.splice(open.indexOf(entry), 1);
  };
  /** Validates then feeds, like the gossip topic does. */
  const gossip = (data: Uint8Array) => {
    const e = encodeEnvelope(data, clock.now());
    expect(runner.validateGossip(e)).toBe('accept');
    runner.onGossip(e);
  };
  const ours = (type: Vote['type'], round: number) => published.filter((m): m is Vote => m.type === type && m.round === round);
  return { runner, store, ledger, gossip, ours, halts, close };
}

/** Polls until `cond` holds; `ms` is a generous upper bound (the runner's work is asynchronous, never timed). */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Validator 1's compact proposal for height 1 round 0: a real block of three leaves. */
function compactProposal() {
  const leaves = [1, 2, 3].map((i) => new TextEncoder().encode(`entry ${i} of height 1`));
  const hashes = leaves.map(fastLeafHash);
  const block = {
    header: { height: 1, prevHash: new Uint8Array(32), proposer: 1, timeMs: clock.now(), treeSize: 3, root: new Uint8Array(32).fill(7), entriesHash: entriesHashOf(hashes) },
    entries: leaves,
  };
  const value = encodeBlock(block);
  const record = encodeCompactProposal(CHAIN, proposal(1, 1, 0, value), encodeCompact(block, hashes), signers[1]!);
  return { leaves, hashes, value, id: fastSha256(value), record };
}

/** Validator 0 with the entries in its mempool, after it prevoted validator 1's compact proposal. */
async function prevoted() {
  const dir = await dirs.make();
  const p = compactProposal();
  const before = new CompactLedger();
  p.leaves.forEach((l, i) => before.pool.set(toHex(p.hashes[i]!), l));
  const a = await peer(dir, before);
  a.gossip(p.record);
  await until(() => a.ours('prevote', 0).length === 1, 'our prevote');
  return { dir, p, a };
}

describe('restart mid-height with a compact proposal', () => {
  it('a received compact proposal we precommitted is applied after a restart with an empty mempool and nobody to fetch from', async () => {
    const { dir, p, a } = await prevoted();
    expect(a.ours('prevote', 0)[0]!.valueId).toEqual(p.id);
    for (const v of [1, 2]) a.gossip(encodeMessage(vote(v, 'prevote', 1, 0, p.id)));
    await until(() => a.ours('precommit', 0).length === 1, 'our precommit (L36)');
    expect(a.ours('precommit', 0)[0]!.valueId).toEqual(p.id);
    // The received proposal stays compact in the WAL; the whole block is durable in the signer
    // state, synced before the precommit left (L36 locks v).
    const wal = await a.store.walRead(1);
    expect(wal.some((r) => isCompactRecord(r))).toBe(true);
    const ss = decodeSignerState((await a.store.getSignerState())!);
    expect(ss.ok && ss.state.lockedValue !== null && toHex(fastSha256(ss.state.lockedValue))).toBe(toHex(p.id));
    await a.close();

    // Restart: empty mempool, no fetcher (the others are down).
    const after = new CompactLedger();
    const b = await peer(dir, after);
    await until(() => b.runner.status().running, 'resumed height 1');
    // The restored locked value's entries are served by hash to peers that ask (entries-by-hash/1).
    const served = serveFetch(encodeFetchRequest(p.hashes), (hex) => after.assembly.servedLeaf(hex));
    expect(served.ok && served.served).toBe(3);
    const back = served.ok ? decodeFetchResponse(served.response, p.hashes, fastLeafHash) : null;
    expect(back?.ok && back.leaves.size).toBe(3);
    // The others come back and precommit: L49 needs the proposal, rebuilt from the restored lock.
    for (const v of [1, 2]) b.gossip(encodeMessage(vote(v, 'precommit', 1, 0, p.id)));
    await until(() => after.applied.length === 1, 'height 1 decided and applied');
    expect(toHex(after.applied[0]!)).toBe(toHex(p.value));
    expect(b.halts).toEqual([]);
  });

  it('our own compact proposal we precommitted is applied after a restart with an empty mempool (the one-organization case)', async () => {
    const dir = await dirs.make();
    const leaves = [1, 2].map((i) => new TextEncoder().encode(`own entry ${i}`));
    const before = new CompactLedger();
    before.height = 3; // height 4 round 0: validator 0 proposes
    for (const l of leaves) before.pool.set(toHex(fastLeafHash(l)), l);
    const a = await peer(dir, before);
    a.gossip(encodeMessage(vote(1, 'prevote', 4, 0, null))); // a valid message for height 4 starts it
    await until(() => a.ours('prevote', 0).length === 1, 'our prevote of our proposal');
    const id = a.ours('prevote', 0)[0]!.valueId!;
    expect(id).not.toBeNull();
    for (const v of [2, 3]) a.gossip(encodeMessage(vote(v, 'prevote', 4, 0, id)));
    await until(() => a.ours('precommit', 0).length === 1, 'our precommit (L36)');
    // Our proposal is in the WAL as it went on the wire: compact.
    const wal = await a.store.walRead(4);
    expect(wal.filter((r) => isCompactRecord(r)).length).toBe(1);
    expect(wal.filter((r) => { const m = decodeMessage(r); return m.ok && m.message.type === 'proposal'; })).toEqual([]);
    await a.close();

    const after = new CompactLedger();
    after.height = 3;
    const b = await peer(dir, after);
    await until(() => b.runner.status().running, 'resumed height 4');
    for (const v of [2, 3]) b.gossip(encodeMessage(vote(v, 'precommit', 4, 0, id)));
    await until(() => after.applied.length === 1, 'height 4 decided and applied');
    expect(toHex(fastSha256(after.applied[0]!))).toBe(toHex(id));
    expect(b.halts).toEqual([]);
  });

  it('a restored compact proposal we cannot rebuild and never voted for: nil prevote at the propose timeout, then the next round', async () => {
    const dir = await dirs.make();
    const p = compactProposal();
    // The state a crash leaves between the WAL write of a received proposal and the effects it
    // caused (the runner writes the WAL first): the record, no signer state, no entries.
    const s0 = await openStore(dir);
    await s0.walAppend(1, [p.record]);
    await s0.close();
    const a = await peer(dir, new CompactLedger());
    await until(() => a.runner.status().running, 'height 1 started from its WAL');
    clock.advance(STEP_MS); // L57
    await until(() => a.ours('prevote', 0).length === 1, 'nil prevote at the propose timeout');
    expect(a.ours('prevote', 0)[0]!.valueId).toBeNull();
    await leaveRound(a);
  });

  it('a restored compact proposal we prevoted but did not precommit: nil precommit at the prevote timeout, then the next round', async () => {
    const { dir, a } = await prevoted();
    await a.close();

    const b = await peer(dir, new CompactLedger());
    await until(() => b.runner.status().running && b.runner.status().step === 'prevote', 'resumed at the prevote step');
    await leaveRound(b);
  });
});

/**
 * Round 0 of height 1 at the prevote step, the proposal not available: the others prevote nil, the
 * prevote timeout (L61, armed at L34) or L44 gives a nil precommit, the others precommit nil and
 * the precommit timeout (L47 -> L65) starts round 1.
 */
async function leaveRound(a: Awaited<ReturnType<typeof peer>>): Promise<void> {
  for (const v of [1, 2]) a.gossip(encodeMessage(vote(v, 'prevote', 1, 0, null)));
  await until(() => a.runner.status().queueDepth === 0, 'prevotes handled');
  clock.advance(STEP_MS);
  await until(() => a.ours('precommit', 0).length === 1, 'nil precommit');
  expect(a.ours('precommit', 0)[0]!.valueId).toBeNull();
  for (const v of [1, 2]) a.gossip(encodeMessage(vote(v, 'precommit', 1, 0, null)));
  await until(() => a.runner.status().queueDepth === 0, 'precommits handled');
  expect(a.runner.status().round).toBe(0);
  clock.advance(STEP_MS);
  await until(() => a.runner.status().round === 1, 'round 1');
  expect(a.halts).toEqual([]);
}

describe('block assembly: a value we propose again is served again', () => {
  it('compactOf serves the leaves of a cached value whose leaves newer blocks pushed out', () => {
    const asm = new BlockAssembly({ leafOf: () => undefined, leafHash: fastLeafHash, valueId: fastSha256, limitsAt: () => BLOCK_CAPS });
    const blockOf = (tag: string) => {
      const leaves = [new TextEncoder().encode(`leaf ${tag}`)];
      const hashes = leaves.map(fastLeafHash);
      const header = { height: 1, prevHash: new Uint8Array(32), proposer: 0, timeMs: 1, treeSize: 1, root: new Uint8Array(32), entriesHash: entriesHashOf(hashes) };
      return { value: encodeBlock({ header, entries: leaves }), hex: toHex(hashes[0]!) };
    };
    const v = blockOf('locked');
    const first = asm.compactOf(v.value);
    for (const t of ['a', 'b', 'c', 'd', 'e']) asm.compactOf(blockOf(t).value);
    expect(asm.servedLeaf(v.hex)).toBeUndefined();
    expect(asm.compactOf(v.value)).toEqual(first);
    expect(asm.servedLeaf(v.hex)).toBeDefined();
  });
});

describe('durable before precommit (runner/restore.ts)', () => {
  const state = (lockedValue: Uint8Array | null) =>
    ({ version: 1, height: 1, round: 0, step: 'precommit', lockedValue, lockedRound: lockedValue === null ? -1 : 0, validValue: lockedValue, validRound: lockedValue === null ? -1 : 0, lastSigned: null }) as const;
  it('a non-nil precommit passes only when the synced signer state holds the value it names whole', () => {
    const v = new TextEncoder().encode('value v');
    const w = new TextEncoder().encode('value w');
    const lock = new SyncedLock();
    expect(() => lock.check(vote(0, 'precommit', 1, 0, fastSha256(v)), fastSha256)).toThrow(/PRECOMMIT_NOT_DURABLE/);
    lock.note(state(w));
    expect(() => lock.check(vote(0, 'precommit', 1, 0, fastSha256(v)), fastSha256)).toThrow(/PRECOMMIT_NOT_DURABLE/);
    lock.note(state(v));
    expect(() => lock.check(vote(0, 'precommit', 1, 0, fastSha256(v)), fastSha256)).not.toThrow();
    expect(() => lock.check(vote(0, 'precommit', 1, 0, null), fastSha256)).not.toThrow();
    expect(() => lock.check(vote(0, 'prevote', 1, 0, fastSha256(w)), fastSha256)).not.toThrow();
    expect(restoredValues({ ...state(v), validValue: w, validRound: 0 }, fastSha256).length).toBe(2);
  });
});

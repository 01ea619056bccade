// The proposer's signer-state writes (the production consensus runner, a real LevelDB store, a
// manual clock). The driver emits [persist S1, broadcast proposal, persist S2, broadcast prevote]
// in one step (it ingests its own proposal); the runner writes only S2, synced, in the same batch
// as the WAL records of both messages (and of the messages received since the last write), and
// sends both after it. S2's last-signed slot (prevote, h, r) is later than the proposal's, so a
// restarted peer refuses to sign any proposal for (h, r) again: checked by restarting on the same
// store. A failed write halts consensus (WAL_FULL or STORE_FAILED) before anything it protects
// leaves, and stop() writes the records still held before the caller closes the store.
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type ConsensusMessage } from '../../src/consensus/index.js';
import { openStore } from '../../node/storage/store.js';
import { StoreError } from '../../node/storage/errors.js';
import { ConsensusRunner, fastSha256, openEnvelope } from '../../node/peer/consensus-runner.js';
import { decodeSignerState } from '../../node/peer/codec.js';
import { isCompactRecord } from '../../node/peer/runner/compact.js';
import { ManualClock } from './support/manual-clock.js';
import { closedAfterEach, ListeningMempool, TestLedger, env as envOf, runnerOptions, settle, vote, waitFor, validValue } from './support/runner-harness.js';

/** Our own blocks are valid (like the production ledger's); each build returns a different value. */
class BuildingLedger extends TestLedger {
  builds = 0;
  override verdict(idHex: string): boolean | undefined {
    return super.verdict(idHex) ?? true;
  }
  override buildBlock(height: number, proposer: number): Uint8Array {
    return validValue(`built h${height} p${proposer} #${++this.builds}`);
  }
}

const { dirs, open } = closedAfterEach();

/** A WAL record as `type height/round by validator`. */
function recordName(r: Uint8Array): string {
  const d = decodeMessage(r);
  return d.ok ? `${d.message.type} ${d.message.height}/${d.message.round} v${d.message.validator}` : 'undecodable';
}

/** Errors the store's writes throw instead of writing (set or cleared while the runner runs). */
type Failures = { persist?: Error; append?: Error };

/**
 * Validator 0 at head 3 (it proposes height 4 round 0); `events` logs each synced signer-state
 * write (with the WAL records written in its batch), each other WAL write and each send, in order.
 * `crashAfterPersist` makes the process "die" right after a synced write completes.
 */
async function setup(dir: string, ledger: BuildingLedger, crashAfterPersist = false, fail: Failures = {}) {
  const store = await openStore(dir);
  const events: string[] = [];
  const written: Uint8Array[] = [];
  const put = store.putSignerStateWithWal.bind(store);
  store.putSignerStateWithWal = async (bytes: Uint8Array, height: number, records: Uint8Array[]) => {
    if (fail.persist) throw fail.persist;
    await put(bytes, height, records);
    written.push(bytes);
    const d = decodeSignerState(bytes);
    const l = d.ok ? d.state.lastSigned : null;
    events.push(`persist ${l === null ? 'none' : `${l.step} ${l.height}/${l.round}`} [${records.map(recordName).join(', ')}]`);
    if (crashAfterPersist) throw new Error('crashed');
  };
  store.putSignerState = () => Promise.reject(new Error('the runner writes its signer state with its WAL records'));
  const append = store.walAppend.bind(store);
  store.walAppend = async (height, records, o) => {
    if (fail.append) throw fail.append;
    await append(height, records, o);
    events.push(`wal [${records.map(recordName).join(', ')}]`);
  };
  const mempool = new ListeningMempool();
  const clock = new ManualClock();
  const sent: ConsensusMessage[] = [];
  const halts: string[] = [];
  const runner = new ConsensusRunner(
    runnerOptions({
      store,
      ledger,
      mempool,
      clock,
      publish: (b: Uint8Array) => {
        const data = openEnvelope(b)!;
        if (isCompactRecord(data)) {
          events.push('send compact proposal');
          return;
        }
        const d = decodeMessage(data);
        if (!d.ok) throw new Error('published an undecodable message');
        sent.push(d.message);
        events.push(`send ${d.message.type} ${d.message.height}/${d.message.round}`);
      },
      onHalt: (code: string) => halts.push(code),
    }),
  );
  await runner.start();
  open.push({ runner, store });
  return { runner, store, mempool, clock, sent, events, halts, written, dir };
}

/** Stops the last runner started (its store stays open for the caller to change, then close). */
async function stopLast() {
  const o = open.pop()!;
  await o.runner.stop();
  return o;
}

/** Starts (or restarts) validator 0 on `dir` with one entry in its mempool and lets it settle. */
async function startWithWork(dir: string, ledger: BuildingLedger) {
  const b = await setup(dir, ledger);
  b.mempool.add(1);
  b.clock.advance(0);
  await settle(b.runner);
  return b;
}

/** Validator 0 (head 3) with one entry in its mempool, settled after proposing and prevoting height 4; `id` is its value's id. */
async function proposedAt4(fail: Failures = {}) {
  const { s, ledger } = await proposingAt4(fail);
  return { s, ledger, id: fastSha256((s.sent[0] as { value: Uint8Array }).value) };
}

/** Validator 0 (head 3) with one entry in its mempool, settled after its first step of height 4 (whatever that sent). */
async function proposingAt4(fail: Failures = {}) {
  const ledger = new BuildingLedger();
  ledger.height = 3;
  const s = await setup(await dirs.make(), ledger, false, fail);
  s.mempool.add(1);
  s.clock.advance(0);
  await settle(s.runner);
  return { s, ledger };
}

describe('consensus runner: coalesced signer-state writes', () => {
  it('the proposer writes its signer state once before proposal and prevote, once before its precommit', async () => {
    const { s, ledger, id } = await proposedAt4();
    // One synced write covers both messages and their WAL records, durable before either leaves.
    expect(s.events).toEqual(['persist prevote 4/0 [proposal 4/0 v0, prevote 4/0 v0]', 'send proposal 4/0', 'send prevote 4/0']);
    // The received prevotes are written with the precommit they complete a polka for, in its
    // synced batch; no write of their own.
    for (const v of [1, 2]) s.runner.onGossip(envOf(vote(v, 'prevote', 4, 0, id)));
    await waitFor(() => s.events.length >= 5, 10_000, 'our precommit');
    expect(s.events.slice(3)).toEqual(['persist precommit 4/0 [prevote 4/0 v1, prevote 4/0 v2, precommit 4/0 v0]', 'send precommit 4/0']);
    // The precommits that decide the height are never written: the block is durable instead.
    for (const v of [1, 2]) s.runner.onGossip(envOf(vote(v, 'precommit', 4, 0, id)));
    await waitFor(() => ledger.height === 4, 10_000, 'height 4 decided');
    await settle(s.runner);
    expect(s.events).toHaveLength(5);
    expect(s.halts).toEqual([]);
  });

  it('a received message that starts no step is written once the queue is empty, several in one unsynced write', async () => {
    const { s, id } = await proposedAt4();
    // Two precommits (no quorum with ours missing) and one prevote: no step, no synced write.
    s.runner.onGossip(envOf(vote(1, 'prevote', 4, 0, id)));
    s.runner.onGossip(envOf(vote(1, 'precommit', 4, 0, id)));
    s.runner.onGossip(envOf(vote(2, 'precommit', 4, 0, id)));
    await settle(s.runner);
    expect(s.events.slice(3)).toEqual(['wal [prevote 4/0 v1, precommit 4/0 v1, precommit 4/0 v2]']);
    expect((await s.store.walRead(4)).map(recordName)).toEqual(['proposal 4/0 v0', 'prevote 4/0 v0', 'prevote 4/0 v1', 'precommit 4/0 v1', 'precommit 4/0 v2']);
    expect(s.halts).toEqual([]);
  });

  it('after a restart on the coalesced state the proposer never signs another proposal for the same height and round', async () => {
    const ledger = new BuildingLedger();
    ledger.height = 3;
    const dir = await dirs.make();
    const a = await startWithWork(dir, ledger);
    const first = a.sent.find((m) => m.type === 'proposal')!;
    expect(first).toBeDefined();
    const o = await stopLast();
    await o.store.close();

    // Restarted with work in the mempool: the ledger would build a DIFFERENT value for (4, 0).
    const b = await startWithWork(dir, ledger);
    const buildsAfter = ledger.builds;
    // Only the last signed message (the prevote) is re-emitted, byte for byte; no new proposal.
    expect(b.sent.filter((m) => m.type === 'proposal' && m.height === 4 && m.round === 0)).toEqual([]);
    const prevotes = b.sent.filter((m) => m.type === 'prevote' && m.height === 4 && m.round === 0);
    expect(prevotes.length).toBeGreaterThan(0);
    expect(prevotes.every((m) => m.type === 'prevote' && m.valueId !== null && Buffer.from(m.valueId).equals(Buffer.from(fastSha256((first as { value: Uint8Array }).value))))).toBe(true);
    expect(buildsAfter).toBe(1);
    expect(b.halts).toEqual([]);
  });

  it('a crash after the coalesced write, before anything leaves: the restarted proposer builds no other proposal for that slot, keeps the one it signed and re-emits its prevote', async () => {
    const ledger = new BuildingLedger();
    ledger.height = 3;
    const dir = await dirs.make();
    // The process dies right after the synced write of the signer state with the WAL records of
    // its proposal and prevote: neither message is on the wire.
    const a = await setup(dir, ledger, true);
    a.mempool.add(1);
    a.clock.advance(0);
    await settle(a.runner);
    expect(a.events).toEqual(['persist prevote 4/0 [proposal 4/0 v0, prevote 4/0 v0]']);
    expect(a.sent).toEqual([]);
    expect(a.halts).toEqual(['STORE_FAILED']);
    expect(ledger.builds).toBe(1);
    const d = decodeSignerState(a.written[0]!);
    if (!d.ok || d.state.lastSigned === null) throw new Error('no last-signed record stored');
    const signed = encodeMessage(d.state.lastSigned.message);
    const walBefore = await a.store.walRead(4);
    const o = await stopLast();
    await o.store.close();

    // Restarted on the same store with work in the mempool: the WAL holds the proposal it signed.
    const b = await startWithWork(dir, ledger);
    expect(ledger.builds).toBe(1);
    const proposals = b.sent.filter((m) => m.type === 'proposal' && m.height === 4 && m.round === 0);
    for (const m of proposals) expect(Buffer.from(encodeMessage(m)).equals(Buffer.from(walBefore[0]!))).toBe(true);
    const prevotes = b.sent.filter((m) => m.type === 'prevote' && m.height === 4 && m.round === 0);
    expect(prevotes.length).toBeGreaterThan(0);
    for (const m of prevotes) expect(Buffer.from(encodeMessage(m)).equals(Buffer.from(signed))).toBe(true);
    // Nothing was written twice: the WAL still holds the two records of the first run.
    expect((await b.store.walRead(4)).map(recordName)).toEqual(['proposal 4/0 v0', 'prevote 4/0 v0']);
    expect(b.halts).toEqual([]);
  });

  describe('a failed WAL write halts consensus and sends nothing after it', () => {
    it('WAL_FULL from the combined write (the store refusing state and records together) halts with WAL_FULL before the proposal leaves', async () => {
      const full = new StoreError('WAL_FULL', 'WAL of height 4 would hold 2 records, more than maxWalRecordsPerHeight = 1');
      const { s } = await proposingAt4({ persist: full });
      expect(s.halts).toEqual(['WAL_FULL']);
      expect(s.sent).toEqual([]);
      expect(s.runner.status().haltCode).toBe('WAL_FULL');
      expect(await s.store.walRead(4)).toEqual([]);
    });

    it('any other error from the combined write halts with STORE_FAILED', async () => {
      const { s } = await proposingAt4({ persist: new Error('EIO: i/o error, write') });
      expect(s.halts).toEqual(['STORE_FAILED']);
      expect(s.sent).toEqual([]);
    });

    for (const [name, error, code] of [
      ['an I/O error', new Error('EIO: i/o error, write'), 'STORE_FAILED'],
      ['WAL_FULL', new StoreError('WAL_FULL', 'WAL of height 4 would hold 1,025 records'), 'WAL_FULL'],
    ] as const) {
      it(`${name} in the write made once the queue is empty halts with ${code}; later messages are not taken`, async () => {
        const fail: Failures = {};
        const { s, id } = await proposedAt4(fail);
        expect(s.halts).toEqual([]);
        fail.append = error;
        s.runner.onGossip(envOf(vote(1, 'precommit', 4, 0, id)));
        await settle(s.runner);
        expect(s.halts).toEqual([code]);
        // Halted for good: a quorum of prevotes no longer leads to our precommit.
        fail.append = undefined;
        for (const v of [1, 2]) s.runner.onGossip(envOf(vote(v, 'prevote', 4, 0, id)));
        await settle(s.runner);
        expect(s.sent.map((m) => m.type)).toEqual(['proposal', 'prevote']);
        expect((await s.store.walRead(4)).map(recordName)).toEqual(['proposal 4/0 v0', 'prevote 4/0 v0']);
      });
    }
  });

  it('stop() writes the records still held (the queue never ran empty) before the caller closes the store', async () => {
    const { s, id } = await proposedAt4();
    // The received precommit starts no step; a task queued behind it keeps the queue from running
    // empty, so its record is still held when stop() is called.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    s.runner.onGossip(envOf(vote(1, 'precommit', 4, 0, id)));
    void s.runner.enqueue(() => gate);
    await waitFor(() => s.runner.status().queueDepth === 1, 10_000, 'the precommit handled, the gate waiting');
    await new Promise((r) => setTimeout(r, 20));
    expect(s.events).toHaveLength(3);
    const stopped = s.runner.stop();
    release();
    await stopped;
    expect(s.events.slice(3)).toEqual(['wal [precommit 4/0 v1]']);
    const o = open.pop()!;
    await o.store.close();
    const reopened = await openStore(s.dir);
    try {
      expect((await reopened.walRead(4)).map(recordName)).toEqual(['proposal 4/0 v0', 'prevote 4/0 v0', 'precommit 4/0 v1']);
    } finally {
      await reopened.close();
    }
  });
});

// The proposer's signer-state writes (the production consensus runner, a real LevelDB store, a
// manual clock). The driver emits [persist S1, broadcast proposal, persist S2, broadcast prevote]
// in one step (it ingests its own proposal); the runner writes only S2, synced, and sends both
// after it. S2's last-signed slot (prevote, h, r) is later than the proposal's, so a restarted
// peer refuses to sign any proposal for (h, r) again: checked by restarting on the same store.
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type ConsensusMessage } from '../../src/consensus/index.js';
import { openStore } from '../../node/storage/store.js';
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

/** Validator 0 at head 3 (it proposes height 4 round 0); `events` logs each synced signer-state write and each send in order. */
async function setup(dir: string, ledger: BuildingLedger) {
  const store = await openStore(dir);
  const events: string[] = [];
  const put = store.putSignerState.bind(store);
  store.putSignerState = async (bytes: Uint8Array) => {
    await put(bytes);
    const d = decodeSignerState(bytes);
    const l = d.ok ? d.state.lastSigned : null;
    events.push(`persist ${l === null ? 'none' : `${l.step} ${l.height}/${l.round}`}`);
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
  return { runner, store, mempool, clock, sent, events, halts };
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

describe('consensus runner: coalesced signer-state writes', () => {
  it('the proposer writes its signer state once before proposal and prevote, once before its precommit', async () => {
    const ledger = new BuildingLedger();
    ledger.height = 3;
    const s = await setup(await dirs.make(), ledger);
    s.mempool.add(1);
    s.clock.advance(0);
    await settle(s.runner);
    // One synced write covers both messages, and it is durable before either leaves.
    expect(s.events).toEqual(['persist prevote 4/0', 'send proposal 4/0', 'send prevote 4/0']);
    const id = fastSha256((s.sent[0] as { value: Uint8Array }).value);
    for (const v of [1, 2]) s.runner.onGossip(envOf(vote(v, 'prevote', 4, 0, id)));
    for (const v of [1, 2]) s.runner.onGossip(envOf(vote(v, 'precommit', 4, 0, id)));
    await waitFor(() => ledger.height === 4, 10_000, 'height 4 decided');
    await settle(s.runner);
    expect(s.events.slice(3)).toEqual(['persist precommit 4/0', 'send precommit 4/0']);
    expect(s.events.filter((e) => e.startsWith('persist'))).toHaveLength(2);
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

  it('a crash after the coalesced write but before the proposal reaches the WAL or the wire: the restarted proposer builds and sends no proposal for that slot and re-emits its prevote', async () => {
    const ledger = new BuildingLedger();
    ledger.height = 3;
    const dir = await dirs.make();
    const a = await setup(dir, ledger);
    // The process dies right after the synced signer-state write: the first WAL append (our
    // proposal's) never completes, so neither message is in the WAL nor on the wire.
    let written: Uint8Array | null = null;
    const put = a.store.putSignerState.bind(a.store);
    a.store.putSignerState = async (bytes: Uint8Array) => {
      await put(bytes);
      written = bytes;
    };
    a.store.walAppend = () => Promise.reject(new Error('crashed'));
    a.mempool.add(1);
    a.clock.advance(0);
    await settle(a.runner);
    expect(a.events).toEqual(['persist prevote 4/0']);
    expect(a.sent).toEqual([]);
    expect(ledger.builds).toBe(1);
    const d = decodeSignerState(written!);
    if (!d.ok || d.state.lastSigned === null) throw new Error('no last-signed record stored');
    const signed = encodeMessage(d.state.lastSigned.message);
    const o = await stopLast();
    await o.store.close();

    // Restarted on the same store with work in the mempool: only the signer state knows (4, 0).
    const b = await startWithWork(dir, ledger);
    expect(ledger.builds).toBe(1);
    expect(b.sent.filter((m) => m.type === 'proposal' && m.height === 4 && m.round === 0)).toEqual([]);
    const prevotes = b.sent.filter((m) => m.type === 'prevote' && m.height === 4 && m.round === 0);
    expect(prevotes.length).toBeGreaterThan(0);
    for (const m of prevotes) expect(Buffer.from(encodeMessage(m)).equals(Buffer.from(signed))).toBe(true);
    expect(b.halts).toEqual([]);
  });
});

// When the next height starts (the production consensus runner, a real LevelDB store, a controllable
// clock): on an idle network a lone entry is proposed without waiting blockIntervalMs; when the
// mempool or the last block is large the runner still waits the interval so blocks fill.
import { describe, expect, it } from 'vitest';
import { EAGER_START_ENTRIES_MAX, fastSha256 } from '../../node/peer/consensus-runner.js';
// startRunner's ManualClock starts at Date.now(): envelopes carry wall-clock send times.
import { closedAfterEach, TestLedger, env as envOf, genesisFor, proposal, settle, startRunner, validValue, vote, waitFor } from './support/runner-harness.js';

const INTERVAL_MS = 50;

class CountingLedger extends TestLedger {
  /** Entries the next applied block reports. */
  nextCount = 1;
  /** Our own blocks are never prevalidated here: valid like the production ledger's own blocks. */
  override verdict(idHex: string): boolean | undefined {
    return super.verdict(idHex) ?? true;
  }
  override async apply(bytes: Uint8Array, cert: Uint8Array, o: unknown) {
    return { ...(await super.apply(bytes, cert, o)), count: this.nextCount };
  }
}

const closed = closedAfterEach();

/** Validator 0 at head 3: it proposes height 4 round 0 (proposer = (height + round) mod 4). */
async function setup() {
  const genesis = genesisFor();
  (genesis.limits as { blockIntervalMs: number }).blockIntervalMs = INTERVAL_MS;
  const ledger = new CountingLedger();
  ledger.height = 3;
  const s = await startRunner(closed, { ledger, genesis });
  const proposals = () => s.sent().flatMap((m) => (m.type === 'proposal' ? [m] : []));
  return { ...s, ledger, proposals };
}

/** Our own proposal of `height` is decided (validators 1 and 2 vote with us: 3 of 4 is a quorum) with `count` entries. */
function decideOwn(s: Awaited<ReturnType<typeof setup>>, height: number, count: number): void {
  s.ledger.nextCount = count;
  s.mempool.size = 0;
  const id = fastSha256(s.proposals().find((p) => p.height === height)!.value);
  for (const v of [1, 2]) s.runner.onGossip(envOf(vote(v, 'prevote', height, 0, id)));
  for (const v of [1, 2]) s.runner.onGossip(envOf(vote(v, 'precommit', height, 0, id)));
}

/** Validator 1's proposal of `height` is decided (1 and 2 vote with us) with `count` entries. */
async function decideTheirs(s: Awaited<ReturnType<typeof setup>>, height: number, label: string, count: number): Promise<void> {
  const value = validValue(label);
  s.runner.onGossip(envOf(proposal(1, height, 0, value)));
  s.ledger.nextCount = count;
  s.mempool.size = 0;
  for (const v of [1, 2]) s.runner.onGossip(envOf(vote(v, 'prevote', height, 0, fastSha256(value))));
  for (const v of [1, 2]) s.runner.onGossip(envOf(vote(v, 'precommit', height, 0, fastSha256(value))));
  await waitFor(() => s.ledger.height === height, 10_000, `height ${height} decided`);
  await settle(s.runner);
}

describe('consensus runner: when a height starts', () => {
  it('idle network, one entry: proposes at once, not after blockIntervalMs', async () => {
    const s = await setup();
    s.mempool.add(1);
    s.clock.advance(0);
    await settle(s.runner);
    expect(s.started(4)).toBe(true);
    expect(s.proposals().map((p) => p.height)).toEqual([4]);
  });

  it('a mempool above the bound waits blockIntervalMs; so does a small mempool after a large block; a small block makes it eager again', async () => {
    const s = await setup();
    s.mempool.add(EAGER_START_ENTRIES_MAX + 1);
    s.clock.advance(INTERVAL_MS - 1);
    await settle(s.runner);
    expect(s.started(4)).toBe(false);
    s.clock.advance(1);
    await settle(s.runner);
    expect(s.proposals().map((p) => p.height)).toEqual([4]);

    // Height 4 decides a large block.
    decideOwn(s, 4, 50);
    await settle(s.runner);
    await waitFor(() => s.ledger.height === 4, 10_000, 'height 4 decided');
    await settle(s.runner);
    s.mempool.add(1);
    s.clock.advance(INTERVAL_MS - 1);
    await settle(s.runner);
    expect(s.started(5)).toBe(false);
    s.clock.advance(1);
    await settle(s.runner);
    expect(s.started(5)).toBe(true);

    // Height 5 (validator 1 proposes) decides a one-entry block: the next lone entry goes at once.
    await decideTheirs(s, 5, 'block 5', 1);
    s.mempool.add(1);
    s.clock.advance(0);
    await settle(s.runner);
    expect(s.started(6)).toBe(true);
  });

  it('under load heights start blockIntervalMs apart counted from the previous START: a height longer than the interval is followed at once', async () => {
    const s = await setup();
    s.mempool.add(EAGER_START_ENTRIES_MAX + 1);
    s.clock.advance(INTERVAL_MS);
    await settle(s.runner);
    expect(s.proposals().map((p) => p.height)).toEqual([4]);

    // Height 4 (started at t) takes 3 intervals and decides a large block; entries are waiting.
    s.clock.advance(3 * INTERVAL_MS);
    decideOwn(s, 4, 50);
    await waitFor(() => s.ledger.height === 4, 10_000, 'height 4 decided');
    await settle(s.runner);
    s.mempool.add(EAGER_START_ENTRIES_MAX + 1);
    s.clock.advance(0);
    await settle(s.runner);
    expect(s.started(5)).toBe(true);

    // Height 5 (validator 1 proposes) decides a large block quickly, 10 ms after it started: the
    // next height waits for the rest of the interval, not a whole one, and not less.
    s.clock.advance(10);
    await decideTheirs(s, 5, 'block 5 (load)', 50);
    s.mempool.add(EAGER_START_ENTRIES_MAX + 1);
    s.clock.advance(INTERVAL_MS - 10 - 1);
    await settle(s.runner);
    expect(s.started(6)).toBe(false);
    s.clock.advance(1);
    await settle(s.runner);
    expect(s.started(6)).toBe(true);
  });
});

// The consensus runner times each height with the parameters in force at that height (a
// params.set changes the timeouts from its effective height), not with the genesis timeouts:
// here the genesis gives 60 s and the ledger's parameters give 50 ms from height 2, so our
// propose timeout at height 2 fires (prevote nil) long before a genesis timeout could.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessage } from '../../src/consensus/index.js';
import { fastSha256, openEnvelope } from '../../node/peer/consensus-runner.js';
import { stepTimeoutMs, resendEveryMs } from '../../node/peer/height-params.js';
import { TempDirs } from './support/storage-fixture.js';
import { makeHarness, proposal, TestLedger, validValue, vote, waitFor, type Harness } from './support/runner-harness.js';

const dirs = new TempDirs();
const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close().catch(() => undefined);
  await dirs.removeAll();
});

const SHORT = { proposeMs: 50, prevoteMs: 50, precommitMs: 50, deltaMs: 10 };

/** A ledger whose parameters change at height 2 (as a params.set decided at height 0 would). */
class ParamsLedger extends TestLedger {
  asked: number[] = [];
  paramsAt(height: number) {
    this.asked.push(height);
    return { blockIntervalMs: 10, timeouts: height >= 2 ? SHORT : { proposeMs: 60_000, prevoteMs: 60_000, precommitMs: 60_000, deltaMs: 0 } };
  }
}

describe('consensus timeouts follow the parameters of each height', () => {
  it('height 2 runs on its own timeouts, not the genesis ones', async () => {
    const ledger = new ParamsLedger();
    const h = await makeHarness(dirs, { ledger, timeoutMs: 60_000 });
    open.push(h);
    // Height 1 (proposer: validator 1) decided by validators 1 and 2 with us.
    const value = validValue('block 1');
    const id = fastSha256(value);
    h.gossip(proposal(1, 1, 0, value));
    for (const v of [1, 2]) h.gossip(vote(v, 'prevote', 1, 0, id));
    for (const v of [1, 2]) h.gossip(vote(v, 'precommit', 1, 0, id));
    await waitFor(() => ledger.applied.length === 1, 10_000, 'height 1 decided');
    // Height 2 (proposer: validator 2, silent): another validator's vote starts it here; our
    // propose timeout is 50 ms, so we prevote nil well within 5 s (the genesis says 60 s).
    const started = Date.now();
    h.gossip(vote(1, 'prevote', 2, 0, null));
    await waitFor(
      () => h.published.map((b) => decodeMessage(openEnvelope(b)!)).some((d) => d.ok && d.message.type === 'prevote' && d.message.height === 2 && d.message.valueId === null),
      5_000,
      'our nil prevote at height 2 after its 50 ms propose timeout',
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ledger.asked).toContain(2);
    expect(h.halts).toEqual([]);
  }, 30_000);

  it('timeout of a round: base + round · deltaMs; re-send every two rounds of base timeouts, at least 1 s', () => {
    expect(stepTimeoutMs(SHORT, 'propose', 0)).toBe(50);
    expect(stepTimeoutMs(SHORT, 'precommit', 3)).toBe(80);
    expect(resendEveryMs(SHORT)).toBe(1_000);
    expect(resendEveryMs({ proposeMs: 3_000, prevoteMs: 1_000, precommitMs: 1_000, deltaMs: 500 })).toBe(10_000);
  });
});

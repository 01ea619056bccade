// Gossip that reaches the consensus runner before start() (the network subscribes the consensus
// topic before the runner has restored its driver and queued its WAL replay) is dropped and
// counted, not queued: queued, it would start the height on a driver that has not seen our own
// WAL records yet (or on no driver at all), and the other validators re-send while a height is
// stuck, so nothing is lost. The production runner, a real LevelDB store, a manual clock.
import { describe, expect, it } from 'vitest';
import { openStore } from '../../node/storage/store.js';
import { ConsensusRunner } from '../../node/peer/consensus-runner.js';
import { ManualClock } from './support/manual-clock.js';
import { closedAfterEach, env, ListeningMempool, runnerOptions, settle, TestLedger, vote, waitFor } from './support/runner-harness.js';

const closed = closedAfterEach();

describe('consensus runner: gossip before start', () => {
  it('a message arriving before start() is dropped (NOT_STARTED) and starts nothing; the same message after start() starts the height', async () => {
    const store = await openStore(await closed.dirs.make());
    const ledger = new TestLedger();
    ledger.height = 3;
    const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
    const runner = new ConsensusRunner(
      runnerOptions({ store, ledger, mempool: new ListeningMempool(), clock: new ManualClock(), log: (level, msg, fields) => logs.push({ level, msg, fields }) }),
    );
    closed.open.push({ runner, store });
    const prevote = env(vote(1, 'prevote', 4, 0, new Uint8Array(32).fill(7)));

    runner.onGossip(prevote);
    await new Promise((r) => setTimeout(r, 20));
    expect(runner.status()).toMatchObject({ queueDepth: 0, running: false, rejected: { NOT_STARTED: 1 } });
    expect(logs.filter((l) => l.level === 'error' || l.msg === 'start height')).toEqual([]);

    await runner.start();
    runner.onGossip(prevote);
    await waitFor(() => logs.some((l) => l.msg === 'start height' && l.fields?.height === 4), 10_000, 'height 4 started');
    await settle(runner);
    expect(runner.status()).toMatchObject({ height: 4, running: true, halted: false, rejected: { NOT_STARTED: 1 } });
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});

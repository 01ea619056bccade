// Fail-stop PRECOMMIT_NOT_DURABLE (node/peer/runner/restore.ts SyncedLock, checked before every
// send): a non-nil precommit leaves only when the synced signer state holds the value it names as
// its locked value (L36-L38: lock, then precommit). Production runner, real LevelDB, manual clock.
// The store's signer-state write is wrapped so it drops the locked value (as a codec or store bug
// would); the process "crashes" right after the synced write of its precommit's step, before the
// precommit leaves, and the restarted runner, resuming from that durable state, must halt instead
// of re-emitting the precommit.
import { describe, expect, it } from 'vitest';
import { decodeMessage } from '../../src/consensus/index.js';
import { fastSha256 } from '../../node/peer/consensus-runner.js';
import { decodeSignerState, encodeSignerState } from '../../node/peer/codec.js';
import { closedAfterEach, env as envOf, proposal, settle, startRunner, TestLedger, validValue, vote, waitFor } from './support/runner-harness.js';

const closed = closedAfterEach();

/** Our precommit among WAL records. */
function holdsOurPrecommit(records: Uint8Array[]): boolean {
  return records.map((r) => decodeMessage(r)).some((d) => d.ok && d.message.type === 'precommit' && d.message.validator === 0);
}

/**
 * Validator 0 on `dir` at the ledger's head; its signer-state writes keep everything but the
 * locked value. With `crashAtPrecommit`, the process dies right after the synced write that
 * carries our precommit's WAL record.
 */
function start(dir: string, ledger: TestLedger, crashAtPrecommit = false) {
  return startRunner(closed, {
    ledger,
    dir,
    prepare: (store) => {
      const put = store.putSignerStateWithWal.bind(store);
      store.putSignerStateWithWal = async (bytes: Uint8Array, height: number, records: Uint8Array[]) => {
        const d = decodeSignerState(bytes);
        if (!d.ok) throw new Error('the runner wrote an undecodable signer state');
        await put(encodeSignerState({ ...d.state, lockedValue: null, lockedRound: -1 }), height, records);
        if (crashAtPrecommit && holdsOurPrecommit(records)) throw new Error('crashed');
      };
    },
  });
}

describe('consensus runner: a precommit leaves only when its value is durable as the locked value', () => {
  it('resuming from a synced signer state that lost its locked value, the runner halts PRECOMMIT_NOT_DURABLE and never publishes the precommit', async () => {
    const ledger = new TestLedger();
    const dir = await closed.dirs.make();
    // This process dies once the signer state (minus the lock) and our precommit's WAL record
    // are synced, before the precommit leaves.
    const a = await start(dir, ledger, true);
    const value = validValue('block 1');
    const id = fastSha256(value);
    a.runner.onGossip(envOf(proposal(1, 1, 0, value)));
    for (const v of [1, 2]) a.runner.onGossip(envOf(vote(v, 'prevote', 1, 0, id)));
    await waitFor(() => a.halts.length > 0, 10_000, 'the simulated crash');
    await settle(a.runner);
    expect(a.halts.map((h) => h.code)).toEqual(['STORE_FAILED']);
    expect(a.sent().map((m) => m.type)).toEqual(['prevote']);
    const stored = decodeSignerState((await a.store.getSignerState())!);
    if (!stored.ok || stored.state.lastSigned === null) throw new Error('no last-signed record stored');
    expect(stored.state.lastSigned.message.type).toBe('precommit');
    expect(stored.state.lockedValue).toBeNull();
    const o = closed.open.pop()!;
    await o.runner.stop();
    await o.store.close();

    // Restart: the driver re-emits its last signed message, a precommit for a value the synced
    // state does not hold whole.
    const b = await start(dir, ledger);
    await settle(b.runner);
    expect(b.halts.map((h) => [h.code, h.fields?.invariant])).toEqual([['INVARIANT', 'PRECOMMIT_NOT_DURABLE']]);
    expect(b.sent().filter((m) => m.type === 'precommit')).toEqual([]);
    // The WAL holds the one precommit written before the crash; the restart added none.
    expect((await b.store.walRead(1)).map((r) => decodeMessage(r)).filter((d) => d.ok && d.message.type === 'precommit' && d.message.validator === 0)).toHaveLength(1);
    expect(b.runner.status().haltCode).toBe('INVARIANT');
  });
});

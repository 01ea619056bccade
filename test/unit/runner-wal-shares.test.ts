// Per-validator WAL shares across a restart (the production consensus runner, a real LevelDB store,
// a manual clock). Each validator may fill only its share of a height's WAL, and the shares sum to
// the store's per-height cap, so the runner skips a writer's excess before the store refuses a
// write (which halts the peer, WAL_FULL). The records a restart reads back are in the store whether
// or not the replay can use them again (a compact proposal whose entries nobody holds any more is
// never rebuilt), so they must count against their validators' shares from the start, once.
import { describe, expect, it } from 'vitest';
import { encodeEnvelope, fastSha256 } from '../../node/peer/consensus-runner.js';
import { encodeCompactProposal, isCompactRecord } from '../../node/peer/runner/compact.js';
import { encodeSignerState } from '../../node/peer/codec.js';
import { CHAIN, closedAfterEach, proposal, settle, signers, startRunner, TestLedger, validValue, waitFor } from './support/runner-harness.js';
import { toHex } from '../../src/encoding/bytes.js';

/** Proposals travel compact: a stand-in form (the value's hash) rebuilt only while `held` has its value. */
class CompactLedger extends TestLedger {
  readonly held = new Map<string, Uint8Array>();
  compactOf(v: Uint8Array): Uint8Array {
    return fastSha256(v);
  }
  expandCompact(compact: Uint8Array): Promise<{ ok: true; value: Uint8Array } | { ok: false; code: string; message: string }> {
    const value = this.held.get(toHex(compact));
    return Promise.resolve(value === undefined ? { ok: false, code: 'compact_entries_missing', message: 'not held' } : { ok: true, value });
  }
}

const closed = closedAfterEach();
/** 4 validators: each may write 3 records of a height. */
const LIMITS = { maxWalRecordsPerHeight: 12 };

/**
 * Validator 1's compact proposal of (1, round) as it arrives from the topic (proposer(1, r) = 1 for
 * r = 0, 4, 8, ...; the topic validator's checks of the compact form are not what is tested here).
 */
function compactFrom1(ledger: CompactLedger, round: number): Uint8Array {
  const value = validValue(`block of round ${round}`);
  const compact = ledger.compactOf(value);
  ledger.held.set(toHex(compact), value);
  return encodeEnvelope(encodeCompactProposal(CHAIN, proposal(1, 1, round, value), compact, signers[1]!), Date.now());
}

describe('consensus runner: WAL shares after a restart', () => {
  it('records read back from the WAL count against their validator\'s share even when the replay never rebuilds them, and only once', async () => {
    const ledger = new CompactLedger();
    const dir = await closed.dirs.make();
    const a = await startRunner(closed, { ledger, dir, limits: LIMITS });
    // Validator 1 fills its share of height 1: three proposals, each rebuilt and used by the driver.
    // One at a time: a validator has at most two rebuilds in flight.
    for (const [i, round] of [0, 4, 8].entries()) {
      a.runner.onGossip(compactFrom1(ledger, round));
      // The first one also brings our prevote.
      await waitFor(() => a.runner.status().walRecords === i + 2, 10_000, `validator 1's proposal of round ${round} in the WAL`);
    }
    await settle(a.runner);
    expect(a.runner.status().walSkipped).toBe(0);
    const before = await a.store.walRead(1);
    expect(before.filter((r) => isCompactRecord(r))).toHaveLength(3);
    // Restart: nobody holds those blocks' entries any more, so the replay cannot rebuild them.
    closed.open.splice(closed.open.findIndex((o) => o.runner === a.runner), 1);
    await a.runner.stop();
    await a.store.close();
    ledger.held.clear();
    const b = await startRunner(closed, { ledger, dir, limits: LIMITS });
    await settle(b.runner);
    expect(b.halts).toEqual([]);
    // What the store holds for the height is what the shares count: nothing twice, nothing left out.
    expect(b.runner.status().walRecords).toBe((await b.store.walRead(1)).length);
    expect(b.runner.status().walRecords).toBe(before.length);
    // Validator 1's share is still used up: its next proposal is handed to the driver but not written.
    b.runner.onGossip(compactFrom1(ledger, 12));
    await waitFor(() => b.runner.status().walSkipped > 0, 10_000, 'the round-12 proposal skipped');
    await settle(b.runner);
    expect(b.runner.status().walSkipped).toBe(1);
    expect((await b.store.walRead(1)).filter((r) => isCompactRecord(r))).toHaveLength(3);
    expect(b.halts).toEqual([]);
  }, 30_000);

  it('our own proposal read back from the WAL and re-sent as it was after the restart is counted once', async () => {
    const ledger = new CompactLedger();
    ledger.height = 3; // proposer(4, 0) = 0: we propose, compact, and prevote our block
    const dir = await closed.dirs.make();
    const a = await startRunner(closed, { ledger, dir, limits: LIMITS });
    a.mempool.add(1);
    a.clock.advance(0);
    await waitFor(() => a.runner.status().walRecords === 2, 10_000, 'our proposal and prevote in the WAL');
    await settle(a.runner);
    closed.open.splice(closed.open.findIndex((o) => o.runner === a.runner), 1);
    await a.runner.stop();
    // A signer state that lost its last-signed record: the restarted driver proposes (4, 0) again,
    // the same block, which the runner finds in the WAL and re-sends without writing it again.
    await a.store.putSignerState(encodeSignerState({ version: 1, height: 4, round: 0, step: 'propose', lockedValue: null, lockedRound: -1, validValue: null, validRound: -1, lastSigned: null }));
    await a.store.close();
    const b = await startRunner(closed, { ledger, dir, limits: LIMITS });
    b.mempool.add(1);
    b.clock.advance(0);
    await settle(b.runner);
    expect(b.halts).toEqual([]);
    expect(b.sent().filter((m) => m.type === 'prevote' && m.height === 4).length).toBeGreaterThan(0);
    const wal = await b.store.walRead(4);
    expect(wal.filter((r) => isCompactRecord(r))).toHaveLength(1);
    expect(b.runner.status().walRecords).toBe(wal.length);
    expect(b.runner.status().walBytes).toBe(wal.reduce((s, r) => s + r.length, 0));
  }, 30_000);
});

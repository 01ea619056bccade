// Our own proposals found in the WAL at restart (the production consensus runner, a real LevelDB
// store, a manual clock). A restart notes each of our proposals in the WAL by its slot (height,
// round) with its signature, before the height resumes: the signer state alone does not guard a
// proposal slot when its last-signed record is lost (a persistence bug, or a write the crash beat).
// The same proposal rebuilt for a noted slot is re-sent as it was (nothing new signed); a different
// one would be a second signature for the slot, so the runner halts DOUBLE_SIGN_RISK before it
// reaches the WAL or the wire. Our proposals travel (and are kept in the WAL) compact.
import { describe, expect, it } from 'vitest';
import { encodeSignerState } from '../../node/peer/codec.js';
import { fastSha256, openEnvelope } from '../../node/peer/consensus-runner.js';
import { decodeCompactRecord, isCompactRecord } from '../../node/peer/runner/compact.js';
import { closedAfterEach, settle, startRunner, TestLedger, validValue } from './support/runner-harness.js';

/**
 * Our blocks are valid (like the production ledger's) and travel compact: a stand-in record derived
 * from the value, never rebuilt (nobody else holds the entries). `sameBlock`: every build of a
 * height returns the same block (as a restart with the same mempool would), else a different one.
 */
class CompactLedger extends TestLedger {
  builds = 0;
  constructor(private readonly sameBlock: boolean) {
    super();
  }
  override verdict(idHex: string): boolean | undefined {
    return super.verdict(idHex) ?? true;
  }
  override buildBlock(height: number, proposer: number): Uint8Array {
    this.builds++;
    return validValue(`built h${height} p${proposer}${this.sameBlock ? '' : ` #${this.builds}`}`);
  }
  compactOf(v: Uint8Array): Uint8Array {
    return fastSha256(v);
  }
  expandCompact(): Promise<{ ok: false; code: string; message: string }> {
    return Promise.resolve({ ok: false, code: 'compact_entries_missing', message: 'not held' });
  }
}

const closed = closedAfterEach();

/** Validator 0 on `dir` with one entry in its mempool, settled. */
async function startWithWork(ledger: CompactLedger, dir: string) {
  const r = await startRunner(closed, { ledger, dir });
  r.mempool.add(1);
  r.clock.advance(0);
  await settle(r.runner);
  return r;
}

/** The compact proposal records a runner published for (height, round), out of their envelopes. */
function compactSent(published: Uint8Array[], height: number, round: number): Uint8Array[] {
  return published
    .map((b) => openEnvelope(b)!)
    .filter((d) => {
      const c = isCompactRecord(d) ? decodeCompactRecord(d, 1024) : null;
      return c !== null && c.height === height && c.round === round;
    });
}

/** Proposes (4, 0) compact, then restarts on a signer state as a persistence bug would leave it: same height and round, nothing signed. */
async function restartWithLostLastSigned(ledger: CompactLedger) {
  ledger.height = 3;
  const dir = await closed.dirs.make();
  const a = await startWithWork(ledger, dir);
  const first = compactSent(a.published, 4, 0);
  expect(first).toHaveLength(1);
  expect(a.sent().filter((m) => m.type === 'prevote' && m.height === 4 && m.round === 0)).toHaveLength(1);
  expect(ledger.builds).toBe(1);
  // Stopped, its store kept open to lose the last-signed record, then closed.
  closed.open.splice(closed.open.findIndex((o) => o.runner === a.runner), 1);
  await a.runner.stop();
  const wal = await a.store.walRead(4);
  await a.store.putSignerState(encodeSignerState({ version: 1, height: 4, round: 0, step: 'propose', lockedValue: null, lockedRound: -1, validValue: null, validRound: -1, lastSigned: null }));
  await a.store.close();
  return { first: first[0]!, wal, b: await startWithWork(ledger, dir) };
}

describe('consensus runner: our own proposal in the WAL (compact) guards its slot', () => {
  it('the WAL holds our proposal as the compact record that travelled, not the whole block', async () => {
    const { first, wal } = await restartWithLostLastSigned(new CompactLedger(false));
    const proposals = wal.filter((r) => isCompactRecord(r));
    expect(proposals).toEqual([first]);
    // Header (height, round, validator, validRound, two signatures) + the 32-byte stand-in form.
    expect(proposals[0]!.length).toBe(1 + 8 + 4 + 2 + 4 + 64 + 64 + 32);
  });

  it('restarted on a signer state that lost its last-signed record, a different proposal for the same slot halts (DOUBLE_SIGN_RISK) and never leaves', async () => {
    const ledger = new CompactLedger(false);
    const { b } = await restartWithLostLastSigned(ledger);
    // The compact record is never rebuilt (nobody holds the entries), so the driver proposed
    // afresh; the slot noted from the WAL before the height resumed stopped it before the wire.
    expect(ledger.builds).toBe(2);
    expect(b.halts.map((h) => h.code)).toEqual(['DOUBLE_SIGN_RISK']);
    expect(compactSent(b.published, 4, 0)).toEqual([]);
    expect(b.sent().filter((m) => m.type === 'prevote' && m.height === 4 && m.round === 0)).toEqual([]);
    // Nor did it reach the WAL: only the first run's proposal is there.
    expect((await b.store.walRead(4)).filter((r) => isCompactRecord(r))).toHaveLength(1);
  });

  it('the same proposal rebuilt for that slot is re-sent (same signature, nothing new signed) and consensus carries on', async () => {
    const ledger = new CompactLedger(true);
    const { first, b } = await restartWithLostLastSigned(ledger);
    expect(ledger.builds).toBe(2);
    expect(b.halts).toEqual([]);
    const resent = compactSent(b.published, 4, 0);
    expect(resent.length).toBeGreaterThan(0);
    for (const r of resent) expect(Buffer.from(r).equals(Buffer.from(first))).toBe(true);
    expect(b.sent().filter((m) => m.type === 'prevote' && m.height === 4 && m.round === 0).length).toBeGreaterThan(0);
  });
});

// The consensus runner against a real LevelDB store: a validly signed flood from one validator must
// not stop the honest ones (WAL admission, per-validator quotas, held proposals, future heights,
// compact evidence), and states that must never happen halt consensus on the peer (fail-stop).
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../src/consensus/index.js';
import { fastSha256, openEnvelope } from '../../node/peer/consensus-runner.js';
import { TempDirs } from './support/storage-fixture.js';
import { makeHarness, proposal, settle, validValue, vote, waitFor, type Harness } from './support/runner-harness.js';

const dirs = new TempDirs();
const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close().catch(() => undefined);
  await dirs.removeAll();
});

/** Messages we (validator 0) published, decoded. */
function ours(h: Harness) {
  return h.published.map((b) => decodeMessage(openEnvelope(b)!)).flatMap((d) => (d.ok ? [d.message] : []));
}

/** Validators 1..3 finish height 1 round 0 for `value` (proposer of (1, 0) is validator 1). */
function honestRound(h: Harness, value: Uint8Array): void {
  const id = fastSha256(value);
  h.gossip(proposal(1, 1, 0, value));
  for (const v of [1, 2]) h.gossip(vote(v, 'prevote', 1, 0, id));
  for (const v of [1, 2]) h.gossip(vote(v, 'precommit', 1, 0, id));
}

describe('consensus runner under a validly signed flood', () => {
  it('junk proposals of one validator do not fill the WAL: honest messages of the same height still reach the WAL and the driver decides; a restart reads a bounded WAL', async () => {
    // A WAL cap small enough for the test (the production cap is 256 MiB / 100,000 records).
    const h = await makeHarness(dirs, { limits: { maxWalRecordsPerHeight: 400, maxWalBytesPerHeight: 8 * 1024 * 1024 } });
    open.push(h);
    // Validator 3 floods height 1 with 600 signed proposals for rounds it does not propose in,
    // and 50 for its own round 2 (proposer(1, 2) = 3): at most three of those may be kept.
    for (let i = 0; i < 600; i++) h.gossip(proposal(3, 1, 4 * (i % 50) + 1, validValue(`junk ${i}`, 2_000)));
    for (let i = 0; i < 50; i++) h.gossip(proposal(3, 1, 2, validValue(`own-round junk ${i}`, 2_000)));
    await settle(h.runner);
    const value = validValue('the real block');
    honestRound(h, value);
    await waitFor(() => h.ledger.applied.length === 1, 10_000, 'height 1 decided');
    expect(h.ledger.applied[0]).toEqual(value);
    expect(h.halts).toEqual([]);
    // Wrong-proposer proposals never reach the expensive block validation.
    expect(h.ledger.prevalidations).toBeLessThanOrEqual(4);
    // The WAL of a height is pruned once decided: flood a fresh peer that has voted but not
    // decided, then restart it and read what the restart replays.
    await h.close();
    open.length = 0;
    const h2 = await makeHarness(dirs, { limits: { maxWalRecordsPerHeight: 400, maxWalBytesPerHeight: 8 * 1024 * 1024 } });
    open.push(h2);
    for (let i = 0; i < 600; i++) h2.gossip(proposal(3, 1, 4 * (i % 50) + 1, validValue(`junk ${i}`, 2_000)));
    for (let i = 0; i < 50; i++) h2.gossip(proposal(3, 1, 2, validValue(`own-round junk ${i}`, 2_000)));
    h2.gossip(proposal(1, 1, 0, value));
    await waitFor(() => ours(h2).some((m) => m.type === 'prevote'), 10_000, 'our prevote');
    await settle(h2.runner);
    await h2.restart();
    await settle(h2.runner);
    const wal = await h2.store.walRead(1);
    // validator 1's proposal, our prevote, and three versions of validator 3's round-2 proposal
    // (the driver's vote keeper counts the first and up to two conflicting ones).
    expect(wal.length).toBe(5);
    expect(h2.runner.status().walRecords).toBe(wal.length);
    expect(h2.runner.status().halted).toBe(false);
  }, 60_000);

  it('a junk proposal from a non-proposer does not evict the real next-height proposal from the held set', async () => {
    const h = await makeHarness(dirs);
    open.push(h);
    const v1 = validValue('block 1');
    // Height 2 round 0 is proposed by validator 2; validator 3 sends 40 junk proposals for height 2 first.
    for (let i = 0; i < 40; i++) h.gossip(proposal(3, 2, 4 * i, validValue(`junk ${i}`)));
    const v2 = validValue('block 2');
    h.gossip(proposal(2, 2, 0, v2));
    honestRound(h, v1);
    await waitFor(() => h.ledger.applied.length === 1, 10_000, 'height 1 decided');
    // Height 2 starts (there is a held proposal for it) and we prevote the real proposal.
    await waitFor(
      () => ours(h).some((m) => m.type === 'prevote' && m.height === 2 && m.valueId !== null && Buffer.from(m.valueId).equals(fastSha256(v2))),
      20_000,
      'our prevote for the real height-2 proposal',
    );
  }, 60_000);

  it('gossip for a height far above ours is ignored (neither kept nor relayed); near heights are accepted', async () => {
    const h = await makeHarness(dirs);
    open.push(h);
    expect(h.gossip(vote(1, 'prevote', 2, 0, null))).toBe('accept');
    expect(h.gossip(vote(1, 'prevote', 50, 0, null))).toBe('ignore');
    expect(h.gossip(vote(1, 'prevote', 1_000_000, 0, null))).toBe('ignore');
    // A proposal from a validator that is not the proposer of its (height, round) is rejected.
    expect(h.gossip(proposal(3, 1, 0, validValue('x')))).toBe('reject');
  });

  it('equivocation evidence is stored compactly (value ids, not whole blocks)', async () => {
    const h = await makeHarness(dirs);
    open.push(h);
    const a = validValue('a', 512 * 1024);
    const b = validValue('b', 512 * 1024);
    h.gossip(proposal(1, 1, 0, a));
    h.gossip(proposal(1, 1, 0, b));
    await settle(h.runner);
    await waitFor(() => h.runner.status().evidence >= 1, 10_000, 'evidence');
    const ev = await h.store.listEvidence(10);
    expect(ev.length).toBe(1);
    expect(ev[0]!.length).toBeLessThan(1024);
  });

  it('our own re-emitted message after a restart is published and in the WAL once', async () => {
    const h = await makeHarness(dirs);
    open.push(h);
    const value = validValue('block');
    h.gossip(proposal(1, 1, 0, value));
    await waitFor(() => ours(h).some((m) => m.type === 'prevote'), 10_000, 'our prevote');
    await settle(h.runner);
    await h.restart();
    await waitFor(() => ours(h).filter((m) => m.type === 'prevote').length >= 2, 10_000, 're-emitted prevote');
    await settle(h.runner);
    const wal = (await h.store.walRead(1)).map((r) => decodeMessage(r)).flatMap((d) => (d.ok ? [d.message] : []));
    const ownPrevotes = wal.filter((m) => m.validator === 0 && m.type === 'prevote');
    expect(ownPrevotes.length).toBe(1);
    expect(encodeMessage(ownPrevotes[0]!)).toEqual(encodeMessage(ours(h).filter((m) => m.type === 'prevote')[1]!));
  });
});

describe('consensus runner queue', () => {
  it('bounds queued gossip in bytes per validator: a flooder fills only its own share, others still get in, and a dropped message is handled when re-sent', async () => {
    const h = await makeHarness(dirs);
    open.push(h);
    // Block block validation so the queue fills up behind the first proposal.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const validate = h.ledger.prevalidate.bind(h.ledger);
    h.ledger.prevalidate = async (bytes: Uint8Array) => {
      await gate;
      return validate(bytes);
    };
    h.gossip(proposal(1, 1, 0, validValue('first')));
    await new Promise((r) => setTimeout(r, 50));
    // Validator 1 proposes in rounds 0, 4, 8, ...: 40 proposals of 1 MiB each.
    const big = Array.from({ length: 40 }, (_, i) => proposal(1, 1, 4 * (i + 1), validValue(`big ${i}`, 1024 * 1024)));
    for (const p of big) h.gossip(p);
    const s = h.runner.status();
    // Two blocks and a bit per validator (blocks up to VALUE_BYTES_MAX, the largest a params.set allows): far below 40 MiB.
    const cap = (await import('../../node/peer/consensus-runner.js')).VALUE_BYTES_MAX;
    expect(s.queueBytes).toBeLessThanOrEqual(2 * cap + 1024 * 1024 + 1024);
    expect(s.queueDepth).toBeLessThan(10);
    expect(s.rejected['QUEUE_FULL']).toBeGreaterThan(30);
    // Another validator's vote still gets into the queue.
    const depth = s.queueDepth;
    h.gossip(vote(2, 'prevote', 1, 0, null));
    expect(h.runner.status().queueDepth).toBe(depth + 1);
    release();
    await settle(h.runner);
    // A proposal dropped for back-pressure was never marked handled: its re-send is accepted and
    // queued again, while a re-send of one that was handled is ignored before its signature.
    const dropped = big[big.length - 1]!;
    expect(h.gossip(proposal(1, 1, 0, validValue('first')))).toBe('ignore');
    const before = h.runner.status().rejected['QUEUE_FULL']!;
    expect(h.gossip(dropped)).toBe('accept');
    expect(h.runner.status().queueDepth).toBe(1);
    expect(h.runner.status().rejected['QUEUE_FULL']).toBe(before);
    await settle(h.runner);
  });
});

describe('consensus runner fail-stop', () => {
  it('a decided block that does not apply halts consensus (onHalt, error log, no more driver input)', async () => {
    const h = await makeHarness(dirs);
    open.push(h);
    h.ledger.failApply = true;
    honestRound(h, validValue('block'));
    await waitFor(() => h.halts.length > 0, 10_000, 'onHalt');
    expect(h.halts[0]!.code).toBe('DIVERGENCE');
    expect(h.logs.some((l) => l.level === 'error')).toBe(true);
    expect(h.runner.status().halted).toBe(true);
    const before = h.published.length;
    h.gossip(proposal(2, 2, 0, validValue('next')));
    await new Promise((r) => setTimeout(r, 100));
    expect(h.published.length).toBe(before);
  });

  it('a full WAL halts consensus instead of dropping messages silently', async () => {
    const limits = { maxWalRecordsPerHeight: 50 };
    const h = await makeHarness(dirs, { limits });
    open.push(h);
    // Something else filled the WAL of height 1 (it cannot be the runner's own admission).
    await h.store.walAppend(1, Array.from({ length: 50 }, (_, i) => new Uint8Array([i])));
    h.gossip(proposal(1, 1, 0, validValue('block')));
    await waitFor(() => h.halts.length > 0, 10_000, 'onHalt');
    expect(h.halts[0]!.code).toBe('WAL_FULL');
    expect(h.runner.status().halted).toBe(true);
  });
});

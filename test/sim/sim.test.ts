// The deterministic consensus simulator against the real driver (src/consensus/driver.ts), run by
// the real consensus runner (node/peer/consensus-runner.ts) in every correct peer:
// a bounded fault sweep, determinism, and one test per injected driver bug showing that the
// simulator FINDS the safety violation the bug allows (and that the same scenarios are clean
// without the bug, so the finding is the bug's and not the scenario's).
//
// Timing (one core): the sweep is the slow part (~10-30 s); each bug test is a few seconds.
import { describe, expect, test } from 'vitest';
import { runSimulation, type SimResult } from './run.js';
import type { BugName, ScenarioName, SimConfig } from './scenario.js';

function describeFailures(results: SimResult[], extraFlags = ''): string {
  return results
    .filter((r) => r.violations.length > 0)
    .slice(0, 5)
    .map(
      (r) =>
        `seed ${r.seed} n=${r.n}: ${r.violations[0]!.kind}: ${r.violations[0]!.detail}\n  replay: npx tsx test/sim/cli.ts --seed ${r.seed} --n ${r.n} --heights ${r.heightsTarget} --faults on` +
        (r.bug ? ` --bug ${r.bug}` : '') +
        ` --scenario ${r.scenario}${extraFlags}`,
    )
    .join('\n');
}

async function sweep(seeds: number, start: number, cfg: SimConfig): Promise<SimResult[]> {
  const out: SimResult[] = [];
  for (let s = start; s < start + seeds; s++) out.push(await runSimulation(s, cfg));
  return out;
}

describe('fault sweep (real driver, random faults)', () => {
  // A few hundred seeds across n in {4, 5, 7, 10}: Byzantine peers (silent, equivocating proposer,
  // double voter, invalid proposer, amnesiac, Twins), crashes/restarts, loss, duplication,
  // reordering, partitions, clock skew; then GST. Slow-ish test (~10-30 s on one core).
  const plan: [n: number, seeds: number][] = [
    [4, 100],
    [5, 80],
    [7, 60],
    [10, 40],
  ];
  for (const [n, seeds] of plan) {
    test(`n=${n}: ${seeds} seeds with faults, no violation, every height decided`, { timeout: 120_000 }, async () => {
      const results = await sweep(seeds, 1_000 * n, { n, heights: 3, faults: true });
      expect(describeFailures(results)).toBe('');
      for (const r of results) {
        expect(r.heightsDecided).toBe(3);
        expect(r.decisionRounds.every((x) => x >= 0)).toBe(true);
      }
      // The sweep really injected faults (otherwise it proves little).
      expect(results.reduce((s, r) => s + r.crashes, 0)).toBeGreaterThan(0);
      expect(results.filter((r) => r.byzantine.length > 0).length).toBeGreaterThan(seeds / 4);
      expect(results.reduce((s, r) => s + r.evidence, 0)).toBeGreaterThan(0);
      expect(Math.max(...results.flatMap((r) => r.decisionRounds))).toBeGreaterThan(0);
    });
  }

  test('faults off: every height decided in round 0 for n in {4, 5, 7, 10}', async () => {
    for (const n of [4, 5, 7, 10]) {
      const results = await sweep(10, 500, { n, heights: 3, faults: false });
      expect(describeFailures(results)).toBe('');
      for (const r of results) {
        expect(r.heightsDecided).toBe(3);
        expect(r.decisionRounds).toEqual([0, 0, 0]);
        expect(r.crashes).toBe(0);
        expect(r.byzantine).toEqual([]);
      }
    }
  });

  test('real Ed25519 (node:crypto) instead of the fast signature scheme', async () => {
    const results = await sweep(3, 77, { n: 4, heights: 2, faults: true, realCrypto: true });
    expect(describeFailures(results)).toBe('');
    for (const r of results) expect(r.heightsDecided).toBe(2);
  });
});

describe('liveness regression: polka rounds older than the vote-keeper window (long-async)', () => {
  // Long pre-GST asynchrony drives heights to round 20-30; the old keeper dropped every round more
  // than maxRoundsKept (16) below the current one, so re-proposals of validValue (vr = the polka
  // round) failed L28 everywhere and no height decided again (seeds 73, 257, 368, 445 at n = 4).
  // ~100 runs, a few seconds on one core.
  const seeds = [...Array.from({ length: 50 }, (_, i) => i), 73, 257, 368, 445];

  async function longAsync(extra: Partial<SimConfig>): Promise<SimResult[]> {
    const out: SimResult[] = [];
    for (const s of seeds) out.push(await runSimulation(s, { n: 4, heights: 4, faults: true, scenario: 'long-async', ...extra }));
    return out;
  }

  test('default limits: every height decided, no violation, and heights really went past round 16', { timeout: 60_000 }, async () => {
    const results = await longAsync({});
    expect(describeFailures(results)).toBe('');
    for (const r of results) expect(r.heightsDecided).toBe(4);
    expect(Math.max(...results.flatMap((r) => r.decisionRounds))).toBeGreaterThan(16);
  });

  test('maxRoundsKept = maxPastRoundsKept = 2: old rounds survive only as pinned polka/locked/valid/vr rounds, still live', { timeout: 60_000 }, async () => {
    const results = await longAsync({ maxRoundsKept: 2, maxPastRoundsKept: 2 });
    expect(describeFailures(results, ' --max-rounds-kept 2 --max-past-rounds-kept 2')).toBe('');
    for (const r of results) expect(r.heightsDecided).toBe(4);
    // The tiny window really discarded old rounds (messages for them were refused).
    expect(results.reduce((s, r) => s + (r.rejected['ROUND_OUT_OF_WINDOW'] ?? 0), 0)).toBeGreaterThan(0);
  });
});

describe('validly signed junk (wal-flooder, junk-proposer, height-liar) against the real runner', () => {
  // f Byzantine validators sign junk: many versions of their proposals and votes, proposals for
  // rounds they do not propose in, messages for far-future heights; correct peers crash and
  // restart often (their WAL is replayed). Every height must still be decided, and no correct
  // peer's WAL of a height may grow past n per-validator shares (a 'limit' violation).
  for (const [n, seeds] of [
    [4, 40],
    [7, 20],
  ] as const) {
    test(`n=${n}: ${seeds} seeds, no violation, every height decided, junk refused`, { timeout: 120_000 }, async () => {
      const results = await sweep(seeds, 0, { n, heights: 3, faults: true, scenario: 'junk' });
      expect(describeFailures(results)).toBe('');
      for (const r of results) expect(r.heightsDecided).toBe(3);
      const behaviours = new Set(results.flatMap((r) => r.byzantine.map((b) => b.behaviour)));
      expect([...behaviours].sort()).toEqual(['height-liar', 'junk-proposer', 'wal-flooder']);
      const refused = (code: string) => results.reduce((s, r) => s + (r.rejected[code] ?? 0), 0);
      expect(refused('gossip-reject')).toBeGreaterThan(0); // proposals from non-proposers
      expect(refused('gossip-ignore')).toBeGreaterThan(0); // far-future heights, repeats, excess versions
      // A few dozen records per height: honest messages plus the versions the driver counts.
      expect(Math.max(...results.map((r) => r.walRecordsMax))).toBeLessThan(400);
    });
  }
});

describe('regression: a message of a height decided while it waited in the runner queue', () => {
  // These seeds once halted a correct peer (invariant ADMIT_HEIGHT): the head moved (a decision
  // while held proposals were fed, or a catch-up block) before a queued message was admitted.
  for (const [seed, n] of [
    [2555, 4],
    [3530, 4],
    [5486, 4],
    [5893, 10],
  ] as const) {
    test(`seed ${seed} (n=${n}): no violation, every height decided`, { timeout: 60_000 }, async () => {
      const r = await runSimulation(seed, { n, heights: 4, faults: true });
      expect(describeFailures([r])).toBe('');
      expect(r.heightsDecided).toBe(4);
    });
  }
});

describe('membership changes (rotation, addition, removal) under faults', () => {
  // Each run changes the validator set three times, as governance does (decided in block D, in
  // force from D + 2 or later; a peer knows a change once it decided D), with crashes, loss,
  // partitions and up to f Byzantine validators. Correct peers run the real runner with the set
  // of each height: the joining validator votes from its first height, the rotated one signs
  // with its new key, the removed one only follows. ~20 s on one core.
  for (const [n, seeds] of [
    [4, 15],
    [5, 10],
    [7, 6],
  ] as const) {
    test(`n=${n}: ${seeds} seeds, no violation, every height decided, new keys signed`, { timeout: 120_000 }, async () => {
      const results = await sweep(seeds, 0, { n, heights: 4, faults: true, scenario: 'membership' });
      expect(describeFailures(results)).toBe('');
      for (const r of results) {
        expect(r.heightsDecided).toBe(r.heightsTarget);
        expect(r.newKeyMessages).toBeGreaterThan(0);
      }
      expect(results.filter((r) => r.byzantine.length > 0).length).toBeGreaterThan(0);
    });
  }
});

describe('the liveness check can fail', () => {
  test('f silent validators: still live; f + 1 silent validators (no quorum left): liveness violation', async () => {
    for (const n of [4, 7]) {
      const f = Math.floor((n - 1) / 3);
      const ok = await runSimulation(9, { n, heights: 2, faults: false, silent: f });
      expect(ok.violations).toEqual([]);
      expect(ok.heightsDecided).toBe(2);
      const stuck = await runSimulation(9, { n, heights: 2, faults: false, silent: f + 1 });
      expect(stuck.heightsDecided).toBe(0);
      expect(stuck.violations.map((v) => v.kind)).toEqual(['liveness']);
      expect(stuck.safetyViolated).toBe(false);
    }
  });
});

describe('determinism', () => {
  test('same seed and config -> identical result and trace hash; other seeds differ', async () => {
    const cfg: SimConfig = { n: 7, heights: 3, faults: true };
    for (const seed of [3, 41, 2_024]) {
      const a = await runSimulation(seed, cfg);
      const b = await runSimulation(seed, cfg);
      expect(b.traceHash).toBe(a.traceHash);
      expect(b).toEqual(a);
      expect(a.events).toBeGreaterThan(100);
    }
    const hashes = new Set<string>();
    for (const s of [1, 2, 3, 4, 5]) hashes.add((await runSimulation(s, cfg)).traceHash);
    expect(hashes.size).toBe(5);
  });

  test('tracing does not change the run', async () => {
    const cfg: SimConfig = { n: 4, heights: 2, faults: true };
    const plain = await runSimulation(11, cfg);
    const traced = await runSimulation(11, { ...cfg, trace: true });
    expect(traced.traceHash).toBe(plain.traceHash);
    expect(traced.trace!.length).toBeGreaterThan(10);
  });

  test('a bug scenario replays identically (a violation is reproducible from its seed)', async () => {
    const cfg: SimConfig = { n: 4, heights: 3, faults: true, bug: 'noSignerPersistence' };
    const a = await runSimulation(9, cfg);
    const b = await runSimulation(9, cfg);
    expect(a.violations.length).toBeGreaterThan(0);
    expect(b.violations).toEqual(a.violations);
    expect(b.traceHash).toBe(a.traceHash);
  });
});

/**
 * Runs the seed budget with the bug and asserts that a violation of `kind` is found; then runs the
 * same seeds without the bug and asserts they are clean.
 */
async function expectBugFound(bug: BugName, scenario: ScenarioName, n: number, budget: number, kind: string, heights: number, detail?: string): Promise<void> {
  const withBug = await sweep(budget, 0, { n, heights, faults: true, bug, scenario });
  const found = withBug.filter((r) => r.violations.some((v) => v.kind === kind && (detail === undefined || v.detail.includes(detail))));
  expect(found.length, `no ${kind} violation within ${budget} seeds of ${scenario} with ${bug} at n=${n}`).toBeGreaterThan(0);
  const without = await sweep(budget, 0, { n, heights, faults: true, scenario });
  expect(describeFailures(without)).toBe('');
  // (the membership scenario extends a run to the heights its changes need: heightsTarget)
  for (const r of without) expect(r.heightsDecided).toBe(r.heightsTarget);
}

describe('injected driver bugs are found within a fixed seed budget', () => {
  test('quorumTwoFPlusOne at n=6 (q=5 but 2f+1=3): Twins across a partition -> two decisions at one height', async () => {
    await expectBugFound('quorumTwoFPlusOne', 'split-brain', 6, 20, 'agreement', 3);
  });

  test('quorumTwoFPlusOne at n=5 (q=4 but 2f+1=3): Twins across a partition -> two decisions at one height', async () => {
    await expectBugFound('quorumTwoFPlusOne', 'split-brain', 5, 20, 'agreement', 3);
  });

  test('noLocking at n=4: a value decided by one peer and locked by another, then a fresh proposal -> agreement broken', async () => {
    await expectBugFound('noLocking', 'lock-race', 4, 30, 'agreement', 4);
  });

  // The runner writes each of our messages to the WAL before it leaves and refuses to send a
  // different message for a slot the WAL already holds one of ours for: the restarted peer's
  // second signature never leaves, the peer halts instead (fail-stop), and that is what the
  // simulator reports.
  test('staleValidatorSet at n=4: peers that keep the first set decide with certificates the real set refuses', async () => {
    await expectBugFound('staleValidatorSet', 'membership', 4, 10, 'certificate', 4);
  });

  test('noSignerPersistence at n=4: crash right after signing, restart, re-sign differently -> the runner halts before sending it', async () => {
    await expectBugFound('noSignerPersistence', 'crash-revote', 4, 20, 'exception', 3, 'DOUBLE_SIGN_RISK');
  });
});

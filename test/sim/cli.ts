// Command line of the consensus simulator (`npm run sim` = `tsx test/sim/cli.ts`).
//
//   --seeds N        number of runs (default 100)          --start S   first seed (default 0)
//   --n 4|5|7|10|mixed  validators (mixed: chosen per seed) --heights H heights per run (default 4)
//   --faults on|off  network faults, crashes, Byzantine peers (default on)
//   --bug <name>     inject a bug (quorumTwoFPlusOne | noLocking | noSignerPersistence | staleValidatorSet)
//   --scenario <s>   random | split-brain | lock-race | crash-revote (default: the bug's, else random)
//   --real-crypto    Ed25519 via node:crypto instead of the fast keyed-hash scheme
//   --seed S         replay ONE seed verbosely (prints the plan and the full trace)
//   --max-rounds-kept K  pass cfg.maxRoundsKept to every driver (default: the driver's own)
//   --max-past-rounds-kept P  pass cfg.maxPastRoundsKept to every driver (default: the driver's own)
//
// Prints runs, heights decided, mean/max rounds per height, messages per height, the slowest
// seed, and every violation with its seed and a replay command. Exit code 1 on any violation,
// 2 on a usage error.

import { parseArgs } from 'node:util';
import { runSimulation, type SimResult } from './run.js';
import { BUG_NAMES, SCENARIO_NAMES, buildPlan, scenarioOf, type BugName, type ScenarioName, type SimConfig } from './scenario.js';
import { Prng, SEED_MAX } from './prng.js';

const MIXED_N = [4, 5, 7, 10] as const;
/** quorumTwoFPlusOne only differs from the real quorum when n != 3f + 1. */
const MIXED_N_QUORUM_BUG = [5, 6] as const;
/** Most violations printed in a sweep. */
const VIOLATIONS_PRINTED_MAX = 20;
/** Most runs in one invocation. */
const SEEDS_MAX = 10_000_000;

interface Options {
  seeds: number;
  start: number;
  n: number | 'mixed';
  heights: number;
  faults: boolean;
  bug: BugName | null;
  scenario: ScenarioName | undefined;
  realCrypto: boolean;
  replay: number | null;
  maxRoundsKept: number | undefined;
  maxPastRoundsKept: number | undefined;
}

function usage(msg: string): never {
  process.stderr.write(`sim: ${msg}\nusage: tsx test/sim/cli.ts [--seeds N] [--start S] [--n 4|5|7|10|mixed] [--heights H] [--faults on|off] [--bug ${BUG_NAMES.join('|')}] [--scenario ${SCENARIO_NAMES.join('|')}] [--real-crypto] [--max-rounds-kept K] [--max-past-rounds-kept P] [--seed S]\n`);
  process.exit(2);
}

function intArg(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) usage(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  const x = Number(v);
  if (!Number.isSafeInteger(x) || x < min || x > max) usage(`--${name} must be in [${min}, ${max}], got ${v}`);
  return x;
}

function parse(): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        seeds: { type: 'string' },
        start: { type: 'string' },
        n: { type: 'string' },
        heights: { type: 'string' },
        faults: { type: 'string' },
        bug: { type: 'string' },
        scenario: { type: 'string' },
        'real-crypto': { type: 'boolean' },
        seed: { type: 'string' },
        'max-rounds-kept': { type: 'string' },
        'max-past-rounds-kept': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const nArg = str('n') ?? 'mixed';
  let n: number | 'mixed';
  if (nArg === 'mixed') n = 'mixed';
  else n = intArg('n', nArg, 4, 1, 31);
  const faultsArg = str('faults') ?? 'on';
  if (faultsArg !== 'on' && faultsArg !== 'off') usage('--faults must be on or off');
  const bugArg = str('bug');
  if (bugArg !== undefined && !BUG_NAMES.includes(bugArg as BugName)) usage(`unknown --bug ${bugArg}; known: ${BUG_NAMES.join(', ')}`);
  const scArg = str('scenario');
  if (scArg !== undefined && !SCENARIO_NAMES.includes(scArg as ScenarioName)) usage(`unknown --scenario ${scArg}; known: ${SCENARIO_NAMES.join(', ')}`);
  const seedArg = str('seed');
  return {
    seeds: intArg('seeds', str('seeds'), 100, 1, SEEDS_MAX),
    start: intArg('start', str('start'), 0, 0, SEED_MAX),
    n,
    heights: intArg('heights', str('heights'), 4, 1, 1_000),
    faults: faultsArg === 'on',
    bug: (bugArg as BugName | undefined) ?? null,
    scenario: scArg as ScenarioName | undefined,
    realCrypto: values['real-crypto'] === true,
    replay: seedArg === undefined ? null : intArg('seed', seedArg, 0, 0, SEED_MAX),
    maxRoundsKept: str('max-rounds-kept') === undefined ? undefined : intArg('max-rounds-kept', str('max-rounds-kept'), 16, 1, 1_000_000),
    maxPastRoundsKept: str('max-past-rounds-kept') === undefined ? undefined : intArg('max-past-rounds-kept', str('max-past-rounds-kept'), 256, 1, 1_000_000),
  };
}

function nFor(seed: number, o: Options): number {
  if (o.n !== 'mixed') return o.n;
  const choices = o.bug === 'quorumTwoFPlusOne' ? MIXED_N_QUORUM_BUG : MIXED_N;
  return Prng.derive(seed, 'mixed-n').pick(choices);
}

function configFor(seed: number, o: Options, trace: boolean): SimConfig {
  return {
    n: nFor(seed, o),
    heights: o.heights,
    faults: o.faults,
    bug: o.bug,
    ...(o.scenario !== undefined ? { scenario: o.scenario } : {}),
    realCrypto: o.realCrypto,
    trace,
    ...(o.maxRoundsKept !== undefined ? { maxRoundsKept: o.maxRoundsKept } : {}),
    ...(o.maxPastRoundsKept !== undefined ? { maxPastRoundsKept: o.maxPastRoundsKept } : {}),
  };
}

function replayCommand(seed: number, c: SimConfig): string {
  return (
    `npx tsx test/sim/cli.ts --seed ${seed} --n ${c.n} --heights ${c.heights} --faults ${c.faults ? 'on' : 'off'}` +
    (c.bug ? ` --bug ${c.bug}` : '') +
    (c.scenario !== undefined ? ` --scenario ${c.scenario}` : '') +
    (c.realCrypto ? ' --real-crypto' : '') +
    (c.maxRoundsKept !== undefined ? ` --max-rounds-kept ${c.maxRoundsKept}` : '') +
    (c.maxPastRoundsKept !== undefined ? ` --max-past-rounds-kept ${c.maxPastRoundsKept}` : '')
  );
}

async function replay(seed: number, o: Options): Promise<number> {
  const cfg = configFor(seed, o, true);
  const plan = buildPlan(seed, cfg);
  const out = process.stdout;
  out.write(`seed ${seed}: scenario ${scenarioOf(cfg)}, n=${plan.n} (f=${plan.f}), ${plan.network.nodes} nodes, heights ${plan.heights}, bug ${plan.bug ?? 'none'}\n`);
  out.write(`  timeouts ${JSON.stringify(plan.timeouts)}, gossip every ${plan.gossipIntervalMs}ms\n`);
  out.write(`  byzantine: ${JSON.stringify(plan.peers.filter((p) => p.behaviour !== 'correct'))}\n`);
  const net = plan.network;
  out.write(
    `  network: GST ${net.gstMs}ms, latency ${net.latency.minMs}-${net.latency.maxMs}ms (tail p=${net.tailProbability.toFixed(3)} to ${net.tailMaxMs}ms), after GST ${net.latencyAfterGst.minMs}-${net.latencyAfterGst.maxMs}ms, drop ${net.dropRate.toFixed(3)}, dup ${net.duplicateRate.toFixed(3)}, reorder ${net.reorderRate.toFixed(3)}+${net.reorderExtraMs}ms${net.kinds ? `, per kind ${JSON.stringify(net.kinds)}` : ''}\n`,
  );
  for (const p of net.partitions) out.write(`  partition ${JSON.stringify(p)}\n`);
  out.write(`  clock rates ${net.clockRates.map((r) => r.toFixed(2)).join(' ')}\n`);
  for (const c of plan.crashes) out.write(`  crash node ${c.node} at ${c.atMs}ms for ${c.downMs}ms\n`);
  const pc = plan.pointCrashProbability.map((p, i) => (p > 0 ? `n${i}:${p.toFixed(3)}` : '')).filter((x) => x !== '');
  if (pc.length > 0) out.write(`  crash right after persist/broadcast: ${pc.join(' ')}\n`);
  const r = await runSimulation(seed, cfg);
  out.write('--- trace ---\n');
  for (const line of r.trace ?? []) out.write(line + '\n');
  out.write('--- result ---\n');
  out.write(`${summaryLine(r)}\n`);
  out.write(`driver rejections: ${JSON.stringify(r.rejected)}\n`);
  for (const v of r.violations) out.write(`VIOLATION ${v.kind} at ${v.atMs.toFixed(1)}ms: ${v.detail}\n`);
  out.write(`trace hash ${r.traceHash}\n`);
  return r.violations.length > 0 ? 1 : 0;
}

/** Severity order for reporting: a broken agreement matters more than a rejected certificate. */
const SEVERITY = ['agreement', 'double-sign', 'validity', 'bad-own-signature', 'certificate', 'exception', 'codec', 'unexpected-rejection', 'liveness', 'limit'];

function mostSevere(r: SimResult): SimResult['violations'][number] {
  return [...r.violations].sort((a, b) => SEVERITY.indexOf(a.kind) - SEVERITY.indexOf(b.kind))[0]!;
}

function summaryLine(r: SimResult): string {
  return (
    `decided ${r.heightsDecided}/${r.heightsTarget} heights, rounds [${r.decisionRounds.join(',')}], ` +
    `${r.consensusMessages} consensus + ${r.statusMessages} anti-entropy messages, ${r.events} events, ` +
    `virtual ${r.virtualTimeMs.toFixed(0)}ms (GST ${r.gstMs}ms), crashes ${r.crashes}, evidence ${r.evidence}, synced ${r.synced}`
  );
}

async function sweep(o: Options): Promise<number> {
  const out = process.stdout;
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  let runs = 0;
  let heightsDecided = 0;
  let heightsTarget = 0;
  let roundSum = 0;
  let roundMax = 0;
  let roundMaxSeed = -1;
  let consensusMessages = 0;
  let statusMessages = 0;
  let crashes = 0;
  let byzantine = 0;
  let evidence = 0;
  let synced = 0;
  const rejected = new Map<string, number>();
  let violatingRuns = 0;
  let slowest = { ms: -1, seed: -1, n: 0 };
  const byKind = new Map<string, number>();
  const byN = new Map<number, { runs: number; ms: number }>();
  const printed: string[] = [];
  let firstViolation: { seed: number; cfg: SimConfig } | null = null;
  out.write(
    `Cairn consensus simulator: ${o.seeds} runs (seeds ${o.start}..${o.start + o.seeds - 1}), n=${o.n}, heights=${o.heights}, faults=${o.faults ? 'on' : 'off'}, ` +
      `bug=${o.bug ?? 'none'}, scenario=${o.scenario ?? (o.bug ? 'bug default' : 'random')}, crypto=${o.realCrypto ? 'ed25519 (node:crypto)' : 'fast keyed hash'}\n`,
  );
  for (let i = 0; i < o.seeds; i++) {
    const seed = o.start + i;
    const cfg = configFor(seed, o, false);
    const t0 = performance.now();
    const r = await runSimulation(seed, cfg);
    const ms = performance.now() - t0;
    runs++;
    const perN = byN.get(cfg.n) ?? { runs: 0, ms: 0 };
    perN.runs++;
    perN.ms += ms;
    byN.set(cfg.n, perN);
    if (ms > slowest.ms) slowest = { ms, seed, n: cfg.n };
    heightsDecided += r.heightsDecided;
    heightsTarget += r.heightsTarget;
    for (const x of r.decisionRounds) {
      roundSum += x;
      if (x > roundMax) {
        roundMax = x;
        roundMaxSeed = seed;
      }
    }
    consensusMessages += r.consensusMessages;
    statusMessages += r.statusMessages;
    crashes += r.crashes;
    byzantine += new Set(r.byzantine.map((b) => b.validator)).size;
    evidence += r.evidence;
    synced += r.synced;
    for (const [k, c] of Object.entries(r.rejected)) rejected.set(k, (rejected.get(k) ?? 0) + c);
    if (r.violations.length > 0) {
      violatingRuns++;
      if (firstViolation === null) firstViolation = { seed, cfg };
      const kinds = [...new Set(r.violations.map((v) => v.kind))];
      for (const k of kinds) byKind.set(k, (byKind.get(k) ?? 0) + 1);
      if (printed.length < VIOLATIONS_PRINTED_MAX) {
        const v = mostSevere(r);
        printed.push(`  seed ${seed} (n=${cfg.n}) [${kinds.join(', ')}]: ${v.kind}: ${v.detail}\n    replay: ${replayCommand(seed, cfg)}`);
      }
    }
    if ((i + 1) % 1000 === 0 && i + 1 < o.seeds) {
      process.stderr.write(`  ... ${i + 1} runs, ${violatingRuns} with violations, ${((performance.now() - wall0) / 1000).toFixed(1)}s\n`);
    }
  }
  const wall = (performance.now() - wall0) / 1000;
  const cpuUsed = process.cpuUsage(cpu0);
  const cpu = (cpuUsed.user + cpuUsed.system) / 1e6;
  const decidedHeights = Math.max(1, heightsDecided);
  out.write(`runs: ${runs}\n`);
  out.write(`heights decided: ${heightsDecided}/${heightsTarget} (every correct peer)\n`);
  out.write(`rounds per height (round of the first decision): mean ${(roundSum / decidedHeights).toFixed(3)}, max ${roundMax}${roundMaxSeed >= 0 ? ` (seed ${roundMaxSeed})` : ''}\n`);
  out.write(
    `messages per height: ${(consensusMessages / decidedHeights).toFixed(1)} consensus + ${(statusMessages / decidedHeights).toFixed(1)} anti-entropy (each copy to each recipient counted)\n`,
  );
  out.write(`faults injected: ${crashes} crashes, ${byzantine} Byzantine validators, ${evidence} equivocation evidence, ${synced} heights adopted from certificates\n`);
  out.write(`driver rejections (diagnostics): ${[...rejected.entries()].sort().map(([k, c]) => `${k} ${c}`).join(', ') || 'none'}\n`);
  out.write(`slowest seed: ${slowest.seed} (n=${slowest.n}, ${slowest.ms.toFixed(0)} ms)\n`);
  out.write(
    `wall time: ${wall.toFixed(1)} s, cpu time: ${cpu.toFixed(1)} s (${((cpu * 1000) / runs).toFixed(1)} ms cpu/run; wall per run by n: ` +
      [...byN.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([n, s]) => `n=${n}: ${s.runs} runs ${(s.ms / s.runs).toFixed(1)} ms/run`)
        .join(', ') +
      ')\n',
  );
  if (violatingRuns === 0) {
    out.write('violations: none\n');
    return 0;
  }
  out.write(`violations: ${violatingRuns} runs (runs per kind: ${[...byKind.entries()].map(([k, c]) => `${k} ${c}`).join(', ')})\n`);
  for (const p of printed) out.write(p + '\n');
  if (firstViolation !== null) out.write(`replay the first: ${replayCommand(firstViolation.seed, firstViolation.cfg)}\n`);
  return 1;
}

async function main(): Promise<void> {
  const o = parse();
  const code = o.replay !== null ? await replay(o.replay, o) : await sweep(o);
  process.exitCode = code;
}

void main();

// The command line of `npm run bench` (bench/run.ts): the options a run takes (BenchOptions),
// their defaults, the usage text and the parser that checks names and ranges.
import { resolve } from 'node:path';
import { readArgs } from './args.js';
import { BENCH_AUTH_MODES, type BenchAuthMode } from './auth.js';

export interface BenchOptions {
  orgs: number;
  entryBytes: number;
  durationS: number;
  smoke: boolean;
  out: string | null;
  loadgens: number;
  clients: number;
  startRate: number;
  catchupEntries: number;
  catchupMaxS: number;
  profile: boolean;
  keep: boolean;
  /**
   * Diagnosis mode: no ramp; after the warm-up one step at this rate for `durationS`, with the
   * peers' counters and CPU; no latency steps, catch-up or audit. null: the full bench.
   */
  fixedRate: number | null;
  /** Access policy on the peers and how the bench's reads authenticate (bench/auth.ts). */
  auth: BenchAuthMode;
  /** With --auth: restricted reads are also recorded in the log (meta-audit clients). */
  metaAudit: boolean;
  /** The alerts phase after the network phases (--no-alerts: false). */
  alerts: boolean;
  /** Only the alerts phase, compared with the newest recorded full run (--alerts-only). */
  alertsOnly: boolean;
  /**
   * The peers write search indexes in each block's batch (default). `--search-indexes off` runs the
   * same bench without them, for the "within 15 %" comparison: run both back to back.
   */
  searchIndexes: boolean;
  /** --timeline DIR: the peers record their pipeline timeline there (node/timeline, docs/timeline.md). */
  timeline: string | null;
}

export const USAGE = `usage: bench [--orgs 4|7|10] [--entry-bytes N] [--duration S] [--smoke] [--out FILE]
             [--loadgens K] [--clients C] [--start-rate R] [--catchup-entries N] [--catchup-max-s S] [--profile] [--keep]
             [--fixed-rate R] [--auth none|signature|token] [--meta-audit] [--no-alerts | --alerts-only]
             [--search-indexes on|off] [--timeline DIR]`;

/** What a run uses for each option the command line does not give. */
export const BENCH_DEFAULTS: Readonly<BenchOptions> = { orgs: 4, entryBytes: 300, durationS: 30, smoke: false, out: null, loadgens: 2, clients: 256, startRate: 200, catchupEntries: 100_000, catchupMaxS: 150, profile: false, keep: false, fixedRate: null, auth: 'none', metaAudit: false, alerts: true, alertsOnly: false, searchIndexes: true, timeline: null };

export function parseBenchArgs(argv: string[]): BenchOptions {
  const o: BenchOptions = { ...BENCH_DEFAULTS };
  readArgs(argv, USAGE, ({ name: a, value: v, int, num, oneOf, refuse, unknown }) => {
    if (a === '--orgs') o.orgs = int(v(), 1, 16);
    else if (a === '--entry-bytes') o.entryBytes = int(v(), 250, 60_000);
    else if (a === '--duration') o.durationS = num(v(), 1, 600);
    else if (a === '--smoke') o.smoke = true;
    else if (a === '--out') o.out = v();
    else if (a === '--loadgens') o.loadgens = int(v(), 1, 8);
    else if (a === '--clients') o.clients = int(v(), 1, 4096);
    else if (a === '--start-rate') o.startRate = num(v(), 10, 100_000);
    else if (a === '--catchup-entries') o.catchupEntries = int(v(), 0, 2_000_000);
    else if (a === '--catchup-max-s') o.catchupMaxS = num(v(), 1, 3600);
    else if (a === '--profile') o.profile = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--auth') o.auth = oneOf(v(), BENCH_AUTH_MODES);
    else if (a === '--meta-audit') o.metaAudit = true;
    else if (a === '--no-alerts') o.alerts = false;
    else if (a === '--alerts-only') o.alertsOnly = true;
    else if (a === '--search-indexes') o.searchIndexes = oneOf(v(), ['on', 'off'] as const) === 'on';
    else if (a === '--timeline') {
      const d = v();
      if (d === '') refuse('a directory');
      o.timeline = resolve(d);
    } else if (a === '--fixed-rate') o.fixedRate = num(v(), 10, 100_000);
    else unknown();
  });
  if (o.alertsOnly && !o.alerts) throw new Error(`--alerts-only and --no-alerts exclude each other\n${USAGE}`);
  return o;
}

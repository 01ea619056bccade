// The command line of `npm run bench` (bench/run.ts): the options a run takes (BenchOptions),
// their defaults, the usage text and the parser that checks names and ranges.
import { resolve } from 'node:path';
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
  const num = (v: string | undefined, name: string, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new Error(`${name} must be a number in ${min}..${max}\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = () => argv[++i];
    switch (a) {
      case '--orgs':
        o.orgs = num(v(), '--orgs', 1, 16);
        break;
      case '--entry-bytes':
        o.entryBytes = num(v(), '--entry-bytes', 250, 60_000);
        break;
      case '--duration':
        o.durationS = num(v(), '--duration', 1, 600);
        break;
      case '--smoke':
        o.smoke = true;
        break;
      case '--out':
        o.out = v() ?? null;
        break;
      case '--loadgens':
        o.loadgens = num(v(), '--loadgens', 1, 8);
        break;
      case '--clients':
        o.clients = num(v(), '--clients', 1, 4096);
        break;
      case '--start-rate':
        o.startRate = num(v(), '--start-rate', 10, 100_000);
        break;
      case '--catchup-entries':
        o.catchupEntries = num(v(), '--catchup-entries', 0, 2_000_000);
        break;
      case '--catchup-max-s':
        o.catchupMaxS = num(v(), '--catchup-max-s', 1, 3600);
        break;
      case '--profile':
        o.profile = true;
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--auth': {
        const m = v();
        if (!BENCH_AUTH_MODES.includes(m as BenchAuthMode)) throw new Error(`--auth must be one of ${BENCH_AUTH_MODES.join(', ')}\n${USAGE}`);
        o.auth = m as BenchAuthMode;
        break;
      }
      case '--meta-audit':
        o.metaAudit = true;
        break;
      case '--no-alerts':
        o.alerts = false;
        break;
      case '--alerts-only':
        o.alertsOnly = true;
        break;
      case '--search-indexes': {
        const m = v();
        if (m !== 'on' && m !== 'off') throw new Error(`--search-indexes must be on or off\n${USAGE}`);
        o.searchIndexes = m === 'on';
        break;
      }
      case '--timeline': {
        const d = v();
        if (d === undefined || d === '') throw new Error(`--timeline needs a directory\n${USAGE}`);
        o.timeline = resolve(d);
        break;
      }
      case '--fixed-rate':
        o.fixedRate = num(v(), '--fixed-rate', 10, 100_000);
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    }
  }
  if (o.alertsOnly && !o.alerts) throw new Error(`--alerts-only and --no-alerts exclude each other\n${USAGE}`);
  return o;
}

// `cairn alerts replay --from <index> --to <index> --rules <file> --peer <url>`: evaluates a rules
// file over the final entries [from, to) of a peer's log, read as C2SP tlog-tiles entry bundles,
// and prints the alerts as JSON lines. Evaluation uses entry time and log order only, so anyone
// replaying the same range with the same rules gets the same alerts with the same ids. This does
// not verify the entries against a checkpoint (`cairn audit` does); each alert names the leaf
// hashes it was computed from, so it can be checked afterwards. Entry bundles are restricted
// (read.bundle) under an access policy: the shared credential flags sign or authorize every read.
import type { Command } from 'commander';
import { AlertEngine } from '../../src/alerts/engine.js';
import { fromUtf8 } from '../../src/encoding/bytes.js';
import { decodeEntryBundle, entryBundlePath, TILE_WIDTH } from '../../src/merkle/index.js';
import { NOTE_BYTES_MAX } from '../../src/checkpoint/note.js';
import { loadRulesFile, RulesFileError } from '../alerts/rules-file.js';
import { replayLeaves, ReplayEntryError } from '../alerts/replay.js';
import { ENTRY_BUNDLE_BYTES_MAX } from './audit.js';
import { addCredentialOptions, loadCredential, type CliCredential, type CredentialFlags } from './credentials.js';
import { failure, resolvePath, usageError, type CliIo } from './io.js';
import { describeHttpFailure, parseDurationMs, parsePeerUrl, peerRequest } from './peer-http.js';

/** Largest range one replay evaluates (entries). */
export const REPLAY_RANGE_MAX = 100_000_000;

export interface ReplayOptions extends CredentialFlags {
  from: string;
  to: string;
  rules: string;
  peer: string;
  timeout?: string;
}

function index(text: string, name: string): number {
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) throw usageError(`${name} must be a non-negative integer`);
  return Number(text);
}

/** Tree size of the peer's checkpoint (its second line). */
async function treeSize(base: string, timeoutMs: number, auth: CliCredential | null): Promise<number> {
  const res = await peerRequest(base, '/checkpoint', { timeoutMs, bytesMax: NOTE_BYTES_MAX, limitName: 'NOTE_BYTES_MAX', auth });
  if (res.status !== 200) throw failure(`cannot read ${base}/checkpoint: ${describeHttpFailure(res)}`);
  const line = fromUtf8(res.body).split('\n')[1] ?? '';
  if (!/^\d{1,16}$/.test(line)) throw failure(`${base}/checkpoint is not a checkpoint (no tree size on its second line)`);
  return Number(line);
}

export async function alertsReplayCommand(io: CliIo, opts: ReplayOptions): Promise<void> {
  const from = index(opts.from, '--from');
  const to = index(opts.to, '--to');
  if (to < from) throw usageError('--to must not be smaller than --from (the range is [from, to))');
  if (to - from > REPLAY_RANGE_MAX) throw usageError(`the range holds more than ${REPLAY_RANGE_MAX} entries (REPLAY_RANGE_MAX)`);
  const base = parsePeerUrl(opts.peer);
  const timeoutMs = opts.timeout === undefined ? 30_000 : parseDurationMs(opts.timeout, '--timeout', 600_000);
  // Credentials are checked (and key files read) before any request.
  const auth = await loadCredential(io, opts);
  let rules;
  try {
    // Destinations are named but not contacted: no secret files are read.
    rules = await loadRulesFile(resolvePath(io, opts.rules), { destinations: false });
  } catch (e) {
    if (e instanceof RulesFileError) throw usageError(e.message.replace(/\n/g, '; '));
    throw e;
  }
  const size = await treeSize(base, timeoutMs, auth);
  if (to > size) throw failure(`entries up to ${to - 1} are not in the log yet (the checkpoint covers ${size})`);
  const engine = new AlertEngine(rules.rules);
  for (let bundle = Math.floor(from / TILE_WIDTH); bundle * TILE_WIDTH < to; bundle++) {
    const start = bundle * TILE_WIDTH;
    const width = Math.min(TILE_WIDTH, size - start);
    const path = `/${entryBundlePath({ index: bundle, width: width === TILE_WIDTH ? TILE_WIDTH : width })}`;
    const res = await peerRequest(base, path, { timeoutMs, bytesMax: ENTRY_BUNDLE_BYTES_MAX, limitName: 'ENTRY_BUNDLE_BYTES_MAX', auth });
    if (res.status !== 200) throw failure(`cannot read ${path}: ${describeHttpFailure(res)}`);
    let leaves: Uint8Array[];
    try {
      leaves = decodeEntryBundle(res.body, width);
    } catch (e) {
      throw failure(`${path} is not an entry bundle of ${width} entries: ${(e as Error).message}`);
    }
    let lines: string[];
    try {
      lines = replayLeaves(engine, leaves, start, from, to);
    } catch (e) {
      if (e instanceof ReplayEntryError) throw failure(e.message);
      throw e;
    }
    if (lines.length > 0) io.stdout(lines.join('\n') + '\n');
  }
}

export function registerAlerts(program: Command, io: CliIo): void {
  const alerts = program.command('alerts').description('alert rules (see docs/monitoring.md)');
  addCredentialOptions(
    alerts
      .command('replay')
      .description('evaluate a rules file over the final entries [from, to) of a peer and print the alerts as JSON lines (same range and rules give the same alerts and ids)')
      .requiredOption('--from <index>', 'first entry index')
      .requiredOption('--to <index>', 'index after the last entry')
      .requiredOption('--rules <file>', 'rules file (YAML or JSON)')
      .requiredOption('--peer <url>', 'peer base URL (its C2SP tlog-tiles endpoints are read)')
      .option('--timeout <duration>', 'per-request timeout', '30s'),
  ).action((opts: ReplayOptions) => alertsReplayCommand(io, opts));
}

// `cairn history <type> <id> --peer <url> --trust <file>`: every entry that touched the resource,
// oldest first, each verified against the trust file (via the SDK), with the field-level changes
// each entry states in data.before / data.after (docs/search.md) and a warning where a version's
// `before` differs from the previous `after`. `--follow` then prints new versions as they become
// final (search-follow.ts), continuing the diff from the last version shown.
import type { Command } from 'commander';
import { nodeVerifier } from '../../src/crypto/node.js';
import { historySteps, type HistoryStep } from '../../src/search/diff.js';
import type { AuditEntry, JsonValue } from '../../src/entry/types.js';
import { usageError, type CliIo } from './io.js';
import { parsePeerUrl } from './peer-http.js';
import { addCredentialOptions, loadCredential, type CredentialFlags } from './credentials.js';
import { asCliFailure, readClient } from './search.js';
import { follow, interruptSignal, parseFollowFor } from './search-follow.js';
import { loadTrust } from './trust.js';

export interface HistoryCliOptions extends CredentialFlags {
  peer: string;
  trust: string;
  limit?: string;
  json?: boolean;
  follow?: boolean;
  followFor?: string;
}

export async function historyCommand(io: CliIo, type: string, id: string, o: HistoryCliOptions): Promise<void> {
  const trust = await loadTrust(io, o.trust);
  const url = parsePeerUrl(o.peer);
  if (o.limit !== undefined && !/^\d{1,4}$/.test(o.limit)) throw usageError('--limit must be an integer in 1..1000');
  const followFor = o.follow === true ? parseFollowFor(o.followFor) : undefined;
  if (o.follow !== true && o.followFor !== undefined) throw usageError('--follow-for needs --follow');
  const cred = await loadCredential(io, o);
  const stop = followFor !== undefined ? interruptSignal() : undefined;
  try {
    const client = readClient(url, cred, stop?.signal);
    let prevAfter: JsonValue | undefined;
    let count = 0;
    let size = 0;
    const say = (s: string): void => (o.json === true ? io.stderr(s) : io.stdout(s));
    /** Prints verified versions (oldest first), continuing the diff from the previous one. */
    const show = (entries: AuditEntry[], indexes: number[]): void => {
      // Steps recomputed here over the VERIFIED entries, continuing across pages.
      const steps = historySteps(entries, prevAfter);
      entries.forEach((e, i) => {
        printVersion(io, o.json === true, indexes[i]!, e, steps[i]!);
        if (e.data !== undefined && Object.prototype.hasOwnProperty.call(e.data, 'after')) prevAfter = e.data.after;
      });
    };
    for await (const p of client.history(type, id, { trust, verifier: nodeVerifier, ...(o.limit !== undefined ? { limit: Number(o.limit) } : {}) })) {
      size = p.treeSize;
      show(p.entries, p.results.map((r) => r.index));
      count += p.entries.length;
    }
    say(`verified: ${count} version(s) of ${type}/${id} against the final checkpoint of tree size ${size}\n`);
    if (followFor === undefined) return;
    say(`following new versions for up to ${Math.round(followFor / 1000)} s (Ctrl-C to stop)\n`);
    const n = await follow({
      client,
      filter: { resourceType: type, resourceId: id },
      trust,
      since: size,
      forMs: followFor,
      signal: stop!.signal,
      print: (found, treeSize) => {
        show(
          found.map((f) => f.entry),
          found.map((f) => f.index),
        );
        say(`verified: ${found.length} new version(s) against the final checkpoint of tree size ${treeSize}\n`);
      },
    });
    say(`stopped following: ${n} new version(s)\n`);
  } finally {
    stop?.dispose();
  }
}

function printVersion(io: CliIo, json: boolean, idx: number, e: AuditEntry, s: HistoryStep): void {
  if (json) {
    io.stdout(JSON.stringify({ index: idx, entry: e, changes: s.changes, continuous: s.continuous }) + '\n');
    return;
  }
  io.stdout(`#${idx}  ${e.time}  ${e.actor.id}  ${e.action}  ${e.outcome}\n`);
  if (s.continuous === false) io.stdout('    ! data.before differs from the previous version\'s data.after\n');
  for (const c of s.changes ?? []) {
    io.stdout(`    ${c.op.padEnd(7)} ${c.path === '' ? '(whole state)' : c.path}${c.old !== undefined ? `  ${JSON.stringify(c.old)}` : ''}${c.new !== undefined ? ` -> ${JSON.stringify(c.new)}` : ''}\n`);
  }
  if (s.truncated) io.stdout('    ... (more changes)\n');
}

export function registerHistory(program: Command, io: CliIo): void {
  const cmd = program
    .command('history')
    .description('every entry that touched a resource, oldest first, verified, with field-level changes')
    .argument('<type>', 'resource.type')
    .argument('<id>', 'resource.id')
    .requiredOption('--peer <url>', 'base URL of the peer API')
    .requiredOption('--trust <file>', 'the trust file')
    .option('--limit <n>', 'versions per page, 1..1000')
    .option('--json', 'JSON lines: {"index","entry","changes","continuous"}')
    .option('--follow', 'then keep printing new versions as they become final')
    .option('--follow-for <duration>', 'stop following after this long (30s, 5m, 2h; default 1h)')
    .action(async (type: string, id: string, opts: HistoryCliOptions) => asCliFailure(() => historyCommand(io, type, id, opts)));
  addCredentialOptions(cmd);
}

// `cairn history <type> <id> --peer <url> --trust <file>`: every entry that touched the resource,
// oldest first, each verified against the trust file (via the SDK), with the field-level changes
// each entry states in data.before / data.after (docs/search.md) and a warning where a version's
// `before` differs from the previous `after`.
import type { Command } from 'commander';
import { CairnClient } from '../../src/client/client.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { historySteps } from '../../src/search/diff.js';
import type { JsonValue } from '../../src/entry/types.js';
import { usageError, type CliIo } from './io.js';
import { parsePeerUrl } from './peer-http.js';
import { loadTrust } from './trust.js';

export interface HistoryCliOptions {
  peer: string;
  trust: string;
  limit?: string;
  json?: boolean;
}

export async function historyCommand(io: CliIo, type: string, id: string, o: HistoryCliOptions): Promise<void> {
  const trust = await loadTrust(io, o.trust);
  const client = new CairnClient({ url: parsePeerUrl(o.peer) });
  if (o.limit !== undefined && !/^\d{1,4}$/.test(o.limit)) throw usageError('--limit must be an integer in 1..1000');
  let prevAfter: JsonValue | undefined;
  let count = 0;
  let size = 0;
  for await (const p of client.history(type, id, { trust, verifier: nodeVerifier, ...(o.limit !== undefined ? { limit: Number(o.limit) } : {}) })) {
    size = p.treeSize;
    // Steps recomputed here over the VERIFIED entries, continuing across pages.
    const steps = historySteps(p.entries, prevAfter);
    p.entries.forEach((e, i) => {
      const s = steps[i]!;
      const idx = p.results[i]!.index;
      if (o.json === true) io.stdout(JSON.stringify({ index: idx, entry: e, changes: s.changes, continuous: s.continuous }) + '\n');
      else {
        io.stdout(`#${idx}  ${e.time}  ${e.actor.id}  ${e.action}  ${e.outcome}\n`);
        if (s.continuous === false) io.stdout('    ! data.before differs from the previous version\'s data.after\n');
        for (const c of s.changes ?? []) {
          io.stdout(`    ${c.op.padEnd(7)} ${c.path === '' ? '(whole state)' : c.path}${c.old !== undefined ? `  ${JSON.stringify(c.old)}` : ''}${c.new !== undefined ? ` -> ${JSON.stringify(c.new)}` : ''}\n`);
        }
        if (s.truncated) io.stdout('    ... (more changes)\n');
      }
      if (e.data !== undefined && Object.prototype.hasOwnProperty.call(e.data, 'after')) prevAfter = e.data.after;
    });
    count += p.entries.length;
  }
  const line = `verified: ${count} version(s) of ${type}/${id} against the final checkpoint of tree size ${size}\n`;
  if (o.json === true) io.stderr(line);
  else io.stdout(line);
}

export function registerHistory(program: Command, io: CliIo): void {
  program
    .command('history')
    .description('every entry that touched a resource, oldest first, verified, with field-level changes')
    .argument('<type>', 'resource.type')
    .argument('<id>', 'resource.id')
    .requiredOption('--peer <url>', 'base URL of the peer API')
    .requiredOption('--trust <file>', 'the trust file')
    .option('--limit <n>', 'versions per page, 1..1000')
    .option('--json', 'JSON lines: {"index","entry","changes","continuous"}')
    .action(async (type: string, id: string, opts: HistoryCliOptions) => historyCommand(io, type, id, opts));
}

// `cairn search --peer <url> --trust <file> [filters]`: pages through GET /v1/search with the SDK,
// verifies every page against the trust file before printing it (checkpoint quorum, inclusion
// proofs, client signatures, the filter asked for, order), and says so. `--verify-complete` then
// re-runs the filter over every entry of the covered ranges (entry bundles, each entry proven
// against the same checkpoint from the hash tiles) and reports what the peer left out.
// Output: a table, or JSON lines (`--json`: one {"index", "entry"} object per result).
// `--follow` then keeps printing new matches as they become final (search-follow.ts).
// The routes are described in docs/search.md.
import type { Command } from 'commander';
import { CairnClient } from '../../src/client/client.js';
import { CairnApiError } from '../../src/client/errors.js';
import type { SearchPageResult } from '../../src/client/search.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { decodeEntryBundle, inclusionProof, TILE_WIDTH, type TileId, type TileReader } from '../../src/merkle/index.js';
import type { SearchFilter } from '../../src/search/fields.js';
import { verifyComplete, type AnswerResult, type SearchAnswer } from '../../src/search/verify.js';
import type { TrustRoot } from '../../src/verifier/trust.js';
import { addCredentialOptions, loadCredential, sdkCredentials, type CliCredential, type CredentialFlags } from './credentials.js';
import { failure, usageError, type CliIo } from './io.js';
import { abortableFetch, follow, interruptSignal, parseFollowFor } from './search-follow.js';
import { parsePeerUrl } from './peer-http.js';
import { loadTrust } from './trust.js';

export interface SearchCliOptions extends CredentialFlags {
  peer: string;
  trust: string;
  actor?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  tenant?: string;
  outcome?: string;
  client?: string;
  from?: string;
  to?: string;
  order?: string;
  limit?: string;
  maxPages?: string;
  json?: boolean;
  verifyComplete?: boolean;
  follow?: boolean;
  followFor?: string;
}

/**
 * The SDK client of the read commands (search, history): the credential of the shared flags
 * (--token, --token-file, --auth-key, or the CAIRN_* environment) on every request; `signal`
 * aborts pending requests (SIGINT while following).
 */
export function readClient(url: string, cred: CliCredential | null, signal?: AbortSignal): CairnClient {
  const credentials = sdkCredentials(cred);
  return new CairnClient({ url, ...(credentials !== undefined ? { credentials } : {}), ...(signal !== undefined ? { fetch: abortableFetch(signal) } : {}) });
}

/** SDK errors as the one-line failure of a command (a refused or unverifiable answer is not an internal error). */
export async function asCliFailure<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!(e instanceof CairnApiError)) throw e;
    const hint = e.code === 'unauthenticated' ? ' (give --token, --token-file or --auth-key)' : '';
    throw failure(`${e.message}${hint}`);
  }
}

function timeArg(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^-?\d{1,15}$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isSafeInteger(ms)) throw usageError(`${name} must be an RFC 3339 time or Unix milliseconds`);
  return ms;
}

function intArg(name: string, v: string | undefined, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,7}$/.test(v) || Number(v) < 1 || Number(v) > max) throw usageError(`${name} must be an integer in 1..${max}`);
  return Number(v);
}

export function filterFromCli(o: SearchCliOptions): SearchFilter {
  const f: SearchFilter = {};
  if (o.actor !== undefined) f.actor = o.actor;
  if (o.action !== undefined) {
    if (o.action.endsWith('*')) f.actionPrefix = o.action;
    else f.action = o.action;
  }
  if (o.resourceType !== undefined) f.resourceType = o.resourceType;
  if (o.resourceId !== undefined) f.resourceId = o.resourceId;
  if (o.tenant !== undefined) f.tenant = o.tenant;
  if (o.outcome !== undefined) f.outcome = o.outcome;
  if (o.client !== undefined) f.client = o.client;
  const from = timeArg('--from', o.from);
  const to = timeArg('--to', o.to);
  if (from !== undefined) f.fromMs = from;
  if (to !== undefined) f.toMs = to;
  return f;
}

function row(index: number, e: AuditEntry): string {
  return [String(index).padStart(8), e.time.padEnd(24), e.actor.id.slice(0, 24).padEnd(24), e.action.slice(0, 28).padEnd(28), `${e.resource.type}/${e.resource.id}`.slice(0, 40).padEnd(40), e.outcome].join('  ');
}

/** Tiles and entry bundles over HTTP, each tile read once (for --verify-complete). */
class HttpTiles implements TileReader {
  private readonly cache = new Map<string, Uint8Array>();
  constructor(private readonly client: CairnClient) {}
  async readTiles(ids: readonly TileId[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (const t of ids) {
      const k = `${t.level}/${t.index}/${t.width}`;
      let b = this.cache.get(k);
      if (b === undefined) {
        b = await this.client.tile(t.level, t.index, t.width);
        if (this.cache.size < 65_536) this.cache.set(k, b);
      }
      out.push(b);
    }
    return out;
  }
}

/** The pages printed (each verified), then the completeness check when asked. */
/** Prints the verified pages (and checks completeness when asked); returns the pinned tree size. */
export async function printPages(io: CliIo, pages: AsyncGenerator<SearchPageResult>, opts: { json: boolean; verifyComplete: boolean; trust: TrustRoot; client: CairnClient }): Promise<number> {
  const kept: SearchAnswer[] = [];
  let count = 0;
  let size = 0;
  const print = resultPrinter(io, opts.json);
  for await (const p of pages) {
    size = p.treeSize;
    if (opts.verifyComplete) kept.push({ ...p, results: p.results });
    p.results.forEach((r, i) => print(r.index, p.entries[i]!));
    count += p.results.length;
  }
  const say = (s: string): void => (opts.json ? io.stderr(s) : io.stdout(s));
  say(`verified: ${count} result(s) against the final checkpoint of tree size ${size} (quorum signatures, inclusion proofs, client signatures, filter, order)\n`);
  if (!opts.verifyComplete) return size;
  const tiles = new HttpTiles(opts.client);
  const fetch = async (from: number, to: number): Promise<AnswerResult[]> => {
    const out: AnswerResult[] = [];
    // [from, to) may span two entry bundles.
    for (let n = Math.floor(from / TILE_WIDTH); n * TILE_WIDTH < to; n++) {
      const width = Math.min(TILE_WIDTH, size - n * TILE_WIDTH);
      const entries = decodeEntryBundle(await opts.client.entryBundle(n, width));
      for (let i = Math.max(from, n * TILE_WIDTH); i < Math.min(to, (n + 1) * TILE_WIDTH); i++) {
        const entry = entries[i - n * TILE_WIDTH];
        if (entry !== undefined) out.push({ index: i, entry, proof: await inclusionProof(tiles, i, size) });
      }
    }
    return out;
  };
  const c = await verifyComplete(opts.trust, kept, { fetch, verifier: nodeVerifier });
  if (!c.ok) throw failure(`completeness check failed: ${c.failures.map((f) => `${f.code}${f.index !== undefined ? ` at ${f.index}` : ''}`).slice(0, 10).join(', ')}${c.failures.length > 10 ? ', ...' : ''}`);
  say(`complete: every matching entry of the covered ranges (${c.checked} entries re-checked from the entry bundles) is in the answer\n`);
  return size;
}

/** Prints one verified result as a table row (header first) or a JSON line. */
function resultPrinter(io: CliIo, json: boolean): (index: number, e: AuditEntry) => void {
  let header = false;
  return (index, e) => {
    if (json) io.stdout(JSON.stringify({ index, entry: e }) + '\n');
    else {
      if (!header) {
        io.stdout(`${'index'.padStart(8)}  ${'time'.padEnd(24)}  ${'actor'.padEnd(24)}  ${'action'.padEnd(28)}  ${'resource'.padEnd(40)}  outcome\n`);
        header = true;
      }
      io.stdout(row(index, e) + '\n');
    }
  };
}

export async function searchCommand(io: CliIo, o: SearchCliOptions): Promise<void> {
  const url = parsePeerUrl(o.peer);
  const trust = await loadTrust(io, o.trust);
  if (o.order !== undefined && o.order !== 'newest' && o.order !== 'oldest') throw usageError('--order must be newest or oldest');
  const limit = intArg('--limit', o.limit, 1000);
  const maxPages = intArg('--max-pages', o.maxPages, 1_000_000);
  const followFor = o.follow === true ? parseFollowFor(o.followFor) : undefined;
  if (o.follow !== true && o.followFor !== undefined) throw usageError('--follow-for needs --follow');
  const cred = await loadCredential(io, o);
  const stop = followFor !== undefined ? interruptSignal() : undefined;
  try {
    const client = readClient(url, cred, stop?.signal);
    const filter = filterFromCli(o);
    const size = await searchOnce(io, client, filter, o, trust, limit, maxPages);
    if (followFor === undefined) return;
    const say = (s: string): void => (o.json === true ? io.stderr(s) : io.stdout(s));
    say(`following new matches for up to ${Math.round(followFor / 1000)} s (Ctrl-C to stop)\n`);
    const print = resultPrinter(io, o.json === true);
    const n = await follow({
      client,
      filter,
      trust,
      since: size,
      forMs: followFor,
      signal: stop!.signal,
      print: (found, treeSize) => {
        for (const f of found) print(f.index, f.entry);
        say(`verified: ${found.length} new result(s) against the final checkpoint of tree size ${treeSize}\n`);
      },
    });
    say(`stopped following: ${n} new result(s)\n`);
  } finally {
    stop?.dispose();
  }
}

async function searchOnce(io: CliIo, client: CairnClient, filter: SearchFilter, o: SearchCliOptions, trust: TrustRoot, limit: number | undefined, maxPages: number | undefined): Promise<number> {
  const pages = client.search(filter, {
    trust,
    verifier: nodeVerifier,
    ...(o.order !== undefined ? { order: o.order as 'newest' | 'oldest' } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(maxPages !== undefined ? { maxPages } : {}),
  });
  return printPages(io, pages, { json: o.json === true, verifyComplete: o.verifyComplete === true, trust, client });
}

export function registerSearch(program: Command, io: CliIo): void {
  const cmd = program
    .command('search')
    .description('search a peer; every result is verified against the trust file before it is shown')
    .requiredOption('--peer <url>', 'base URL of the peer API')
    .requiredOption('--trust <file>', 'the trust file (origin, organization keys, quorum)')
    .option('--actor <id>', 'actor.id')
    .option('--action <action>', "action, or a prefix ending in '*' (db.*)")
    .option('--resource-type <type>', 'resource.type')
    .option('--resource-id <id>', 'resource.id')
    .option('--tenant <tenant>', 'tenant')
    .option('--outcome <outcome>', 'success, failure, denied or unknown')
    .option('--client <hex>', 'submitting client key (64 hex digits)')
    .option('--from <time>', 'entry time from (inclusive), RFC 3339 or Unix ms')
    .option('--to <time>', 'entry time to (exclusive), RFC 3339 or Unix ms')
    .option('--order <order>', 'newest (default) or oldest first')
    .option('--limit <n>', 'results per page, 1..1000')
    .option('--max-pages <n>', 'stop after n pages')
    .option('--json', 'JSON lines: one {"index","entry"} per result')
    .option('--verify-complete', 're-check every entry of the covered ranges and report any left out')
    .option('--follow', 'then keep printing new matches as they become final')
    .option('--follow-for <duration>', 'stop following after this long (30s, 5m, 2h; default 1h)')
    .action(async (opts: SearchCliOptions) => asCliFailure(() => searchCommand(io, opts)));
  addCredentialOptions(cmd);
}

// `npm run bench:search`: search at the peer on a log of 1,000,000 entries (not part of `npm test`).
//
// Builds a store in a temp dir by applying blocks directly (Store.applyBlock, the same code path
// and synced batches as a peer applying decided blocks, without consensus), then measures the
// engine's latency (in process, what the peer spends per page: index walk, leaf reads, inclusion
// proofs; no HTTP) for typical queries, resource history of a resource with 1,000 versions, the
// index size, and the cost of writing the indexes (apply rate with and without them, back to back).
//
// Entries are shaped like real ones (JCS key order, realistic field values) but, unless --sign is
// given, carry a placeholder signature: nothing on the peer's query path checks client signatures
// (the auditor's verifier does), and signing a million entries would dominate the build.
//
//   tsx bench/search.ts [--entries 1000000] [--block 2000] [--queries 100] [--sign] [--out file.json]
//                       [--store <dir>]   keep the built store there; a later run with the same
//                                         --store and --entries skips the build and only measures
//                       [--proof-cache-mib 64]  bound of the peer's cache of full-tile node hashes
//                                         (node/search/tile-cache.ts); 0 turns it off
//                       [--passes 2]      run the query mix this many times on the same open store:
//                                         pass 1 starts with an empty proof cache (a peer just
//                                         started), later passes are a peer that has been answering
//                                         queries (its steady state); `queries` is the last pass
//                       [--skip-size]     skip the index-size step (a full compaction of the store)
//                       [--kinds actor,history-1000,...]  run only these query kinds (ids in `mix`)
//                       [--history-runs n]  measured runs of the 1,000-version history page
//                                         (default max(5, queries / 5))
//                       [--note text]     recorded as machine.note (e.g. what else was running)
//                       [--warm-cache]    after pass 1, fill the proof cache with every full tile
//                                         of the log (warmProofCache: a peer that has answered
//                                         queries all over the log), so later passes measure that
//                                         steady state rather than the tiles pass 1 happened to touch
//
// Each pass uses its own seed (other actors, tenants, times than the previous pass). The run ends
// with the acceptance figures of the LAST pass (`acceptance` in the JSON): selective queries (every
// kind of ≤ 100 results per page) pooled and per kind against p50 ≤ 20 ms / p99 ≤ 100 ms, and the
// page of all 1,000 versions of a resource against 100 ms. Every query is also timed in process
// CPU time (cpuP50Ms), which a loaded machine inflates far less than wall time.
import { ClassicLevel } from 'classic-level';
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../src/crypto/hash.js';
import { nodeSigner } from '../src/crypto/node.js';
import { utf8, toHex } from '../src/encoding/bytes.js';
import { formatCheckpoint } from '../src/checkpoint/checkpoint.js';
import { signNote } from '../src/checkpoint/note.js';
import { signEntry } from '../src/entry/sign.js';
import { entryLeaf } from '../src/entry/leaf.js';
import type { UnsignedEntry } from '../src/entry/types.js';
import type { SearchFilter } from '../src/search/fields.js';
import { buildAppliedBlock } from '../node/storage/build.js';
import { openStore, type Store } from '../node/storage/index.js';
import { SearchEngine } from '../node/search/query.js';
import { resourceHistory } from '../node/search/history.js';
import { configureProofCache, warmProofCache } from '../node/search/proofs.js';
import { fastNodeHash } from '../node/search/node-hash.js';
import { argsOrExit, readArgs } from './args.js';
import { nodeHash } from '../src/merkle/index.js';
import { Rng, acceptance, acceptanceLines, measure, type Acceptance, type Measured, type QueryStats } from './search-measure.js';

interface Args {
  entries: number;
  block: number;
  queries: number;
  sign: boolean;
  out: string | undefined;
  compare: number;
  store: string | undefined;
  proofCacheMib: number;
  passes: number;
  skipSize: boolean;
  kinds: string[] | undefined;
  warmCache: boolean;
  note: string | undefined;
  historyRuns: number | undefined;
}

const USAGE = 'usage: bench:search [--entries N] [--block N] [--queries N] [--sign] [--out FILE] [--compare N] [--store DIR] [--proof-cache-mib N] [--passes N] [--skip-size] [--kinds k1,k2] [--note TEXT] [--warm-cache] [--history-runs N]';

function args(argv: string[]): Args {
  const a: Args = { entries: 1_000_000, block: 2000, queries: 100, sign: false, out: undefined, compare: 100_000, store: undefined, proofCacheMib: 64, passes: 2, skipSize: false, kinds: undefined, warmCache: false, note: undefined, historyRuns: undefined };
  const COUNT_MAX = 100_000_000;
  readArgs(argv, USAGE, ({ name: k, value: v, int, unknown }) => {
    if (k === '--entries') a.entries = int(v(), 1, COUNT_MAX);
    else if (k === '--block') a.block = int(v(), 1, COUNT_MAX);
    else if (k === '--queries') a.queries = int(v(), 1, COUNT_MAX);
    else if (k === '--compare') a.compare = int(v(), 1, COUNT_MAX);
    else if (k === '--sign') a.sign = true;
    else if (k === '--out') a.out = v();
    else if (k === '--store') a.store = v();
    else if (k === '--proof-cache-mib') a.proofCacheMib = int(v(), 0, 4096);
    else if (k === '--passes') a.passes = int(v(), 1, 10);
    else if (k === '--skip-size') a.skipSize = true;
    else if (k === '--kinds') a.kinds = v().split(',').filter((x) => x.length > 0);
    else if (k === '--note') a.note = v();
    else if (k === '--warm-cache') a.warmCache = true;
    else if (k === '--history-runs') a.historyRuns = int(v(), 1, 10_000);
    else unknown();
  });
  return a;
}

/** µs per interior node hash (65-byte input): the portable JS SHA-256 against Node's native one. */
function hashCost(): { portableUs: number; nativeUs: number } {
  const l = sha256(utf8('left'));
  const r = sha256(utf8('right'));
  const per = (f: () => unknown): number => {
    for (let i = 0; i < 20_000; i++) f();
    let best = Infinity;
    // Best of 5 rounds: the machine is shared, the minimum is the least disturbed.
    for (let round = 0; round < 5; round++) {
      const t = performance.now();
      for (let i = 0; i < 50_000; i++) f();
      best = Math.min(best, ((performance.now() - t) * 1000) / 50_000);
    }
    return Math.round(best * 1000) / 1000;
  };
  return { portableUs: per(() => nodeHash(l, r)), nativeUs: per(() => fastNodeHash(l, r)) };
}

const loadAvg = (): number[] => os.loadavg().map((x) => Math.round(x * 100) / 100);

const ACTORS = 10_000; // ≈100 entries each in 1M: the "what did alice do" query
const TENANTS = 100;
const ACTIONS = ['db.query', 'db.insert', 'db.update', 'db.delete', 'db.table.create', 'db.table.drop', 'auth.login', 'auth.logout', 'auth.mfa', 'config.set', 'config.get', 'file.read', 'file.write', 'api.call'];
const RTYPES = ['db.table', 'user', 'config', 'file', 'service', 'bucket', 'queue', 'secret'];
const OUTCOMES = ['success', 'success', 'success', 'failure', 'denied', 'unknown'] as const;
const HOT_EVERY = 1000; // table/hot gets one version per 1,000 entries: 1,000 versions in 1M
const T0 = Date.parse('2026-06-01T00:00:00Z');
const STEP_MS = 100;
const PLACEHOLDER_SIG = '0'.repeat(128);

const clients = Array.from({ length: 8 }, (_, i) => nodeSigner(sha256(utf8(`bench-search-client-${i}`))));
const clientHex = clients.map((c) => toHex(c.publicKey));

function entryAt(i: number, rng: Rng, sign: boolean): { leaf: Uint8Array; client: string; id: string } {
  const hot = i % HOT_EVERY === HOT_EVERY - 1;
  const ci = rng.int(clients.length);
  const u: UnsignedEntry & { client: string } = {
    v: 1,
    id: `b${i}`,
    time: new Date(T0 + i * STEP_MS + rng.int(2000) - 1000).toISOString(),
    actor: { id: `user-${rng.int(ACTORS)}` },
    action: hot ? 'db.update' : ACTIONS[rng.int(ACTIONS.length)]!,
    resource: hot ? { type: 'db.table', id: 'hot' } : { type: RTYPES[rng.int(RTYPES.length)]!, id: `r${rng.int(50_000)}` },
    outcome: OUTCOMES[rng.int(OUTCOMES.length)]!,
    tenant: `tenant-${rng.int(TENANTS)}`,
    client: clientHex[ci]!,
  };
  if (hot) u.data = { before: { version: Math.floor(i / HOT_EVERY), rows: i }, after: { version: Math.floor(i / HOT_EVERY) + 1, rows: i + 1 } };
  const e = sign ? signEntry(u, clients[ci]!) : { ...u, sig: PLACEHOLDER_SIG };
  return { leaf: entryLeaf(e), client: u.client, id: u.id };
}

const ORG = { name: 'bench.example', signer: nodeSigner(sha256(utf8('bench-search-org'))) };
const ORIGIN = 'bench.example/search';

/** Applies `count` entries in blocks; returns entries per second of applyBlock. */
async function build(store: Store, count: number, blockSize: number, sign: boolean, progress: boolean): Promise<number> {
  const rng = new Rng(12345);
  const t0 = performance.now();
  let lastReport = t0;
  for (let start = 0; start < count; start += blockSize) {
    const n = Math.min(blockSize, count - start);
    const items = Array.from({ length: n }, (_, k) => entryAt(start + k, rng, sign));
    const height = (store.head()?.height ?? 0) + 1;
    const blockBytes = utf8(`bench block ${height}`);
    const b = await buildAppliedBlock(store, {
      height,
      blockBytes,
      blockHash: sha256(blockBytes),
      certificate: utf8(`bench certificate ${height}`),
      leaves: items.map((x) => x.leaf),
      clientIds: items.map((x) => ({ client: x.client, id: x.id })),
    });
    await store.applyBlock(b);
    if (progress && performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      console.error(`  ${start + n} entries, ${Math.round((start + n) / ((lastReport - t0) / 1000))}/s`);
    }
  }
  const secs = (performance.now() - t0) / 1000;
  const head = store.head()!;
  await store.putCheckpoint(head.treeSize, utf8(signNote(formatCheckpoint({ origin: ORIGIN, size: head.treeSize, root: head.root }), [ORG])), true);
  return count / secs;
}

async function dirBytes(dir: string): Promise<number> {
  const out = execFileSync('du', ['-sb', dir]).toString();
  return Number(out.split(/\s/)[0]);
}

interface BuildInfo {
  rateWithout: number;
  rateWith: number;
  bytesWithout: number;
  bytesWith: number;
  buildSecs: number;
  buildRate: number;
}

/** The apply-cost comparison, then the big store in `dir`. */
async function buildAll(a: Args, root: string, dir: string): Promise<BuildInfo> {
  // Cost of writing the indexes: the same entries applied without and with them, back to back.
  const noIdxDir = join(root, 'no-index');
  const s0 = await openStore(noIdxDir, { searchIndexes: false });
  const rateWithout = await build(s0, a.compare, a.block, a.sign, false);
  await s0.close();
  const bytesWithout = await dirBytes(noIdxDir);
  await rm(noIdxDir, { recursive: true, force: true });
  const idxDir = join(root, 'index-small');
  const s1 = await openStore(idxDir);
  const rateWith = await build(s1, a.compare, a.block, a.sign, false);
  await s1.close();
  const bytesWith = await dirBytes(idxDir);
  await rm(idxDir, { recursive: true, force: true });
  console.error(`apply ${a.compare} entries: ${Math.round(rateWithout)}/s without indexes, ${Math.round(rateWith)}/s with`);
  const store = await openStore(dir);
  const t = performance.now();
  const buildRate = await build(store, a.entries, a.block, a.sign, true);
  const buildSecs = (performance.now() - t) / 1000;
  await store.close();
  console.error(`built ${a.entries} entries in ${Math.round(buildSecs)} s (${Math.round(buildRate)}/s)`);
  return { rateWithout, rateWith, bytesWithout, bytesWith, buildSecs, buildRate };
}

async function main(): Promise<void> {
  const a = argsOrExit('bench:search', () => args(process.argv.slice(2)));
  const startedAt = performance.now();
  const cpu = `${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cores`;
  console.error(`bench:search — ${a.entries} entries, blocks of ${a.block}, ${cpu}, node ${process.version}`);
  const root = await mkdtemp(join(os.tmpdir(), 'cairn-bench-search-'));
  try {
    const dir = a.store ?? join(root, 'store');
    const buildFile = `${dir}.build.json`;
    const probe = await openStore(dir);
    const have = probe.head()?.treeSize ?? 0;
    await probe.close();
    if (have !== 0 && have !== a.entries) throw new Error(`--store holds ${have} entries, not ${a.entries}: remove it or match --entries`);
    let info: BuildInfo;
    if (have === a.entries) {
      info = JSON.parse(await readFile(buildFile, 'utf8')) as BuildInfo;
      console.error(`reusing the store of ${a.entries} entries (built earlier at ${Math.round(info.buildRate)}/s)`);
    } else {
      info = await buildAll(a, root, dir);
      if (a.store !== undefined) await writeFile(buildFile, JSON.stringify(info));
    }
    const { rateWithout, rateWith, bytesWithout, bytesWith, buildSecs, buildRate } = info;
    const loadBefore = loadAvg();
    const hashes = hashCost();
    console.error(`node hash: ${hashes.portableUs} µs portable JS, ${hashes.nativeUs} µs native (best of 5); load average ${loadBefore.join(' ')}`);
    const store = await openStore(dir);
    const proofCache = configureProofCache(store, { maxBytes: a.proofCacheMib * 1024 * 1024 });
    const engine = await SearchEngine.open(store);
    const size = a.entries;
    const span = size * STEP_MS;
    const q = a.queries;
    const search = (f: SearchFilter, limit = 100, order: 'newest' | 'oldest' = 'newest') => async () => (await engine.search(f, { limit, order })).results.length;
    const HISTORY_ALL = 'history table/hot, all 1,000 versions in 1 page';
    // The query mix: [short id for --kinds, label, query maker, runs].
    const historyRuns = a.historyRuns ?? Math.max(5, Math.floor(q / 5));
    const mix: [string, string, (rng: Rng) => () => Promise<number>, number][] = [
      ['actor', 'actor (≈100 results)', (r) => search({ actor: `user-${r.int(ACTORS)}` }), q],
      ['actor-action', 'actor + action', (r) => search({ actor: `user-${r.int(ACTORS)}`, action: ACTIONS[r.int(ACTIONS.length)]! }), q],
      ['resource', 'resource type + id', (r) => search({ resourceType: RTYPES[r.int(RTYPES.length)]!, resourceId: `r${r.int(50_000)}` }), q],
      ['tenant-window', 'tenant + 10 min window', (r) => {
        const from = T0 + r.int(span - 600_000);
        return search({ tenant: `tenant-${r.int(TENANTS)}`, fromMs: from, toMs: from + 600_000 });
      }, q],
      ['window', 'time range 1 min (limit 100)', (r) => {
        const from = T0 + r.int(span - 60_000);
        return search({ fromMs: from, toMs: from + 60_000 }, 100, 'oldest');
      }, q],
      ['prefix-actor', 'action prefix auth.* + actor', (r) => search({ actionPrefix: 'auth.', actor: `user-${r.int(ACTORS)}` }), q],
      ['outcome', 'outcome=denied newest (limit 100)', () => search({ outcome: 'denied' }), q],
      ['scan', 'no filter, newest 100 (bounded scan)', () => search({}), q],
      ['history-100', 'history table/hot first page (100 versions)', () => async () => (await resourceHistory(engine, 'db.table', 'hot', { limit: 100 })).results.length, q],
      ['history-1000', HISTORY_ALL, () => async () => (await resourceHistory(engine, 'db.table', 'hot', { limit: 1000 })).results.length, historyRuns],
    ];
    for (const k of a.kinds ?? []) if (!mix.some(([id]) => id === k)) throw new Error(`--kinds: unknown kind ${k} (known: ${mix.map(([id]) => id).join(', ')})`);
    let queries: Record<string, QueryStats> = {};
    const passes: { seed: number; queries: Record<string, QueryStats>; proofCache: ReturnType<typeof proofCache.stats>; loadAverage: number[] }[] = [];
    let accept: Acceptance | undefined;
    let warmed: { seconds: number; tilesRead: number } | null = null;
    for (let pass = 1; pass <= a.passes; pass++) {
      queries = {};
      const measured: Record<string, Measured> = {};
      // Each pass draws other actors, tenants, times (seed per pass): a later pass is a peer that has
      // been answering queries, not a replay of the exact keys the previous pass brought into caches.
      const seed = 776 + pass;
      console.error(`pass ${pass} of ${a.passes}${pass === 1 ? ' (empty proof cache)' : warmed !== null ? ' (proof cache warmed)' : ''}, seed ${seed}; load average ${loadAvg().join(' ')}`);
      for (const [id, name, make, n] of mix) {
        if (a.kinds !== undefined && !a.kinds.includes(id)) continue;
        const m = await measure(n, new Rng(seed), make);
        measured[name] = m;
        queries[name] = m.stats;
        console.error(`  ${name.padEnd(48)} p50 ${m.stats.p50Ms} ms  p99 ${m.stats.p99Ms} ms  CPU p50 ${m.stats.cpuP50Ms} / p99 ${m.stats.cpuP99Ms} ms  (${m.stats.meanResults} results, ${n} runs)`);
      }
      passes.push({ seed, queries, proofCache: proofCache.stats(), loadAverage: loadAvg() });
      if (pass === 1 && a.warmCache && a.passes > 1) {
        const t = performance.now();
        const tiles = await warmProofCache(store, size, proofCache);
        warmed = { seconds: Math.round((performance.now() - t) / 100) / 10, tilesRead: tiles };
        console.error(`proof cache warmed: ${tiles} tiles read and hashed in ${warmed.seconds} s; ${JSON.stringify(proofCache.stats())}`);
      }
      // The acceptance figures are those of the last pass (steady state when passes ≥ 2).
      accept = acceptance(pass, measured, HISTORY_ALL);
    }
    for (const line of acceptanceLines(accept!)) console.error(line);
    const cacheStats = proofCache.stats();
    const loadAfter = loadAvg();
    console.error(`proof cache: ${JSON.stringify(cacheStats)}; load average ${loadAfter.join(' ')}`);
    await store.close();

    // Index size: LevelDB's estimate of the search key range ('x') against the whole store.
    let indexSize: Record<string, number> | null = null;
    if (!a.skipSize) {
      const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, ''), { keyEncoding: 'view', valueEncoding: 'view' });
      await db.open();
      await db.compactRange(Uint8Array.of(0x00), Uint8Array.of(0xff));
      const indexBytes = await db.approximateSize(Uint8Array.of(0x78), Uint8Array.of(0x79));
      const allBytes = await db.approximateSize(Uint8Array.of(0x00), Uint8Array.of(0xff));
      await db.close();
      const storeBytes = await dirBytes(dir);
      indexSize = { approximateIndexBytes: indexBytes, approximateStoreBytes: allBytes, storeDirBytes: storeBytes, indexBytesPerEntry: Math.round(indexBytes / a.entries) };
    }

    const result = {
      bench: 'search',
      date: new Date().toISOString(),
      machine: {
        cpu,
        node: process.version,
        note: a.note ?? 'see the load averages',
        loadAverage1m5m15m: { beforeQueries: loadBefore, afterQueries: loadAfter },
      },
      nodeHashMicroseconds: hashes,
      proofCache: { maxMiB: a.proofCacheMib, ...cacheStats, warmedAfterPass1: warmed },
      entries: a.entries,
      blockSize: a.block,
      signedEntries: a.sign,
      build: { seconds: Math.round(buildSecs), entriesPerSecond: Math.round(buildRate) },
      applyCost: {
        entries: a.compare,
        entriesPerSecondWithoutIndexes: Math.round(rateWithout),
        entriesPerSecondWithIndexes: Math.round(rateWith),
        storeBytesWithoutIndexes: bytesWithout,
        storeBytesWithIndexes: bytesWith,
      },
      indexSize,
      elapsedSeconds: Math.round((performance.now() - startedAt) / 1000),
      acceptance: accept,
      queries,
      passes,
    };
    const text = JSON.stringify(result, null, 2);
    console.log(text);
    if (a.out !== undefined) {
      await mkdir(join(a.out, '..'), { recursive: true });
      await writeFile(a.out, text + '\n');
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench:search: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});

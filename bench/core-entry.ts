// Per-entry CPU of the entry ingest path of one peer (wired into `npm run bench:core` by
// bench/core.ts; `tsx bench/core-entry.ts` runs it alone and prints microseconds per entry).
//
// It makes the same calls, in the same order, as the peer does for each entry, with the peer's
// own entry checker and mempool (in-memory log lookups instead of LevelDB, no network):
// - origin: the HTTP body is parsed (64 entries per request), Mempool.submit, then the block
//   loop of proposal validation and of apply (leaf hash, pending lookup, reuse);
// - gossip: the entry topic validator's sample (peer.ts: 8 per batch plus the last), then
//   Mempool.receiveGossip, then the two block loops;
// - block first: the entry arrives in a proposal before its gossip (checked in the block,
//   parsed again for apply), and the gossip batch arrives afterwards (already logged).
// With four organizations a peer is the origin of a quarter of the entries and receives the rest
// by gossip: `peer mean` weighs the first two paths 1:3. Only calls that exist in earlier
// versions too are used, so the same file measures the code before and after a change.
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { signEntry, entryLeaf } from '../src/entry/index.js';
import type { AuditEntry } from '../src/entry/types.js';
import { bytesEqual, toHex } from '../src/encoding/bytes.js';
import { createEntryChecker, type CheckedEntry, type EntryChecker } from '../node/peer/entries.js';
import { Mempool, type LogLookup } from '../node/peer/mempool.js';
import { makeClients, makeGenesis, makeOrgs } from '../test/peer-support/fixtures.js';
import { measure, type Rate } from './core-rate.js';

/** Entries per HTTP request, per gossip batch and per block in this bench. */
const BATCH = 64;
const BATCHES = 40;
const BUDGET_MS = 1500;
/** The peer's entry topic validator checks this many entries of a batch (plus the last). */
const VALIDATOR_SAMPLE = 8;
const LIMITS = { mempoolMaxEntries: 1_000_000, mempoolMaxBytes: 1 << 30, maxClockSkewMs: 24 * 3600_000 };

function makeBatches(genesisClients: ReturnType<typeof makeClients>): AuditEntry[][] {
  const time = new Date().toISOString();
  const out: AuditEntry[][] = [];
  for (let b = 0; b < BATCHES; b++) {
    const batch: AuditEntry[] = [];
    for (let i = 0; i < BATCH; i++) {
      const n = b * BATCH + i;
      batch.push(
        signEntry(
          {
            v: 1,
            id: `bench-${n}`,
            time,
            actor: { id: `user-${n % 97}@example.com`, type: 'user' },
            action: 'db.query',
            resource: { type: 'db.table', id: 'payments' },
            outcome: 'success',
            source: { ip: '192.0.2.7' },
            data: { rows: n % 50, params: [n] },
          },
          genesisClients[n % genesisClients.length]!.signer,
        ),
      );
    }
    out.push(batch);
  }
  return out;
}

function lookup(logged: boolean): LogLookup {
  return {
    indexOfLeafHash: async () => (logged ? 0 : undefined),
    lookupClientId: async () => undefined,
    finalSize: () => 0,
    lookupMany: async (es) => es.map(() => ({ index: logged ? 0 : undefined, logged: undefined })),
  };
}

/** Ledger.validateBlock's per-entry loop: leaf hash, the pending entry reused, else checked. */
function blockLoop(checker: EntryChecker, mempool: Mempool, leaves: Uint8Array[], mode: 'proposal' | 'decided'): void {
  for (const leaf of leaves) {
    const pending = mempool.getPending(toHex(checker.leafHash(leaf)));
    let e: CheckedEntry;
    if (pending !== undefined && bytesEqual(pending.leaf, leaf)) e = pending;
    else {
      const c = mode === 'proposal' ? checker.checkLeaf(leaf, { inBlock: true }) : checker.parseDecided(leaf);
      if (!c.ok) throw new Error(`bench block entry refused: ${c.code}`);
      e = c.entry;
    }
    if (e.leafHash.length !== 32) throw new Error('bench: bad leaf hash');
  }
}

/** The entry topic validator's sample (peer.ts): a bounded number of entries checked inline. */
function validatorSample(checker: EntryChecker, leaves: Uint8Array[]): void {
  const n = leaves.length;
  const step = Math.max(1, Math.ceil(n / VALIDATOR_SAMPLE));
  const sample = new Set<number>([n - 1]);
  for (let i = 0; i < n; i += step) sample.add(i);
  for (const i of sample) if (!checker.checkLeaf(leaves[i]!).ok) throw new Error('bench gossip entry refused');
}

/** A fresh copy of each leaf, as decoding a gossip message or a block makes new byte arrays. */
const copies = (leaves: Uint8Array[]) => leaves.map((l) => l.slice());

export async function benchEntryPath(): Promise<Record<string, Rate>> {
  const clients = makeClients(4, 'bench-entry');
  const genesis = makeGenesis(await makeOrgs(4, 'bench-entry'), clients);
  const batches = makeBatches(clients);
  const bodies = batches.map((b) => JSON.stringify(b));
  const leaves = batches.map((b) => b.map(entryLeaf));
  const fresh = () => {
    const checker = createEntryChecker(genesis);
    return { checker, mempool: new Mempool(LIMITS, checker, lookup(false), null) };
  };
  let k = 0;
  const next = () => k++ % BATCHES;
  const origin = async () => {
    const b = next();
    const { checker, mempool } = fresh();
    const r = await mempool.submit(JSON.parse(bodies[b]!) as unknown[]);
    if (!r.every((x) => 'status' in x && x.status === 'accepted')) throw new Error('bench submission refused');
    blockLoop(checker, mempool, copies(leaves[b]!), 'proposal');
    blockLoop(checker, mempool, copies(leaves[b]!), 'decided');
  };
  const gossip = async () => {
    const b = next();
    const { checker, mempool } = fresh();
    validatorSample(checker, copies(leaves[b]!));
    if ((await mempool.receiveGossip(copies(leaves[b]!))) !== BATCH) throw new Error('bench gossip not admitted');
    blockLoop(checker, mempool, copies(leaves[b]!), 'proposal');
    blockLoop(checker, mempool, copies(leaves[b]!), 'decided');
  };
  const blockFirst = async () => {
    const b = next();
    const checker = createEntryChecker(genesis);
    const mempool = new Mempool(LIMITS, checker, lookup(true), null);
    blockLoop(checker, mempool, copies(leaves[b]!), 'proposal');
    blockLoop(checker, mempool, copies(leaves[b]!), 'decided');
    validatorSample(checker, copies(leaves[b]!));
    if ((await mempool.receiveGossip(copies(leaves[b]!))) !== 0) throw new Error('bench: a logged entry was admitted');
  };
  const rates: Record<string, Rate> = {
    'entry path: origin (submit, block, apply)': await measure(BUDGET_MS, 4, BATCH, origin),
    'entry path: gossip (sample, receive, block, apply)': await measure(BUDGET_MS, 4, BATCH, gossip),
    'entry path: block before gossip': await measure(BUDGET_MS, 4, BATCH, blockFirst),
  };
  const perEntry = (r: Rate) => 1 / r.cpu;
  const mean = (perEntry(rates['entry path: origin (submit, block, apply)']!) + 3 * perEntry(rates['entry path: gossip (sample, receive, block, apply)']!)) / 4;
  const meanWall = (1 / rates['entry path: origin (submit, block, apply)']!.wall + 3 / rates['entry path: gossip (sample, receive, block, apply)']!.wall) / 4;
  rates['entry path: peer mean (1 origin : 3 gossip)'] = { wall: 1 / meanWall, cpu: 1 / mean };
  return rates;
}

async function main(): Promise<void> {
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`entry ingest path, one peer — node ${process.version}, ${os.cpus().length} cores, load average at start ${load()}`);
  const rates = await benchEntryPath();
  const width = Math.max(...Object.keys(rates).map((n) => n.length));
  console.log(`${''.padEnd(width)}  ${'µs CPU/entry'.padStart(13)}  ${'entries/CPU s'.padStart(13)}  ${'entries/wall s'.padStart(14)}`);
  for (const [name, r] of Object.entries(rates)) {
    console.log(`${name.padEnd(width)}  ${(1e6 / r.cpu).toFixed(1).padStart(13)}  ${Math.round(r.cpu).toString().padStart(13)}  ${Math.round(r.wall).toString().padStart(14)}`);
  }
  console.log(`load average at end ${load()}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`bench entry path: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}

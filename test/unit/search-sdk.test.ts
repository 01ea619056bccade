// The SDK's search and history iteration against a stand-in for the future HTTP routes (a
// loopback node:http server answering from the real SearchEngine with the wire format of
// src/search/wire.ts): pages iterate to the end, are verified against the trust file, equal the
// brute-force filter; a server that alters an entry or answers for another filter is refused.
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CairnClient } from '../../src/client/client.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import { encodePage } from '../../src/search/wire.js';
import { parseTilePath } from '../../src/merkle/tiles.js';
import { formatVerifierKey } from '../../src/checkpoint/keys.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { searchCommand } from '../../node/cli/search.js';
import { historyCommand } from '../../node/cli/history.js';
import type { CliIo } from '../../node/cli/io.js';
import { openStore, type Store } from '../../node/storage/index.js';
import { SearchEngine, filterFromParams } from '../../node/search/query.js';
import { resourceHistory } from '../../node/search/history.js';
import { SeededRandom } from './support/seeded-random.js';
import { TempDirs } from './support/storage-fixture.js';
import { ORGS, ORIGIN, SearchLog, bruteForce, testTrust } from './support/search-fixture.js';

const dirs = new TempDirs();
const open: Store[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  await Promise.all(open.splice(0).map((s) => s.close()));
  await dirs.removeAll();
});

type Lie = 'none' | 'alter' | 'wrong-filter' | 'drop';

let engineStore: Store;

async function serve(engine: SearchEngine, lie: () => Lie, store?: Store): Promise<string> {
  if (store !== undefined) engineStore = store;
  const server = createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url!, 'http://x');
      if (u.pathname.startsWith('/tile/')) {
        const t = parseTilePath(u.pathname.slice(1));
        if (!t.ok) throw new Error(t.message);
        const bytes = t.kind === 'hash' ? await engineStore.readTile(t.tile.level, t.tile.index, t.tile.width) : await engineStore.readEntryBundle(t.bundle.index, t.bundle.width);
        res.end(bytes);
        return;
      }
      const params = Object.fromEntries(u.searchParams);
      const opts = {
        ...(params.cursor !== undefined ? { cursor: params.cursor } : {}),
        ...(params.limit !== undefined ? { limit: Number(params.limit) } : {}),
        ...(params.order !== undefined && params.cursor === undefined ? { order: params.order as 'oldest' | 'newest' } : {}),
      };
      const m = /^\/v1\/resources\/([^/]+)\/([^/]+)\/history$/.exec(u.pathname);
      const l = lie();
      // 'wrong-filter': the peer ignores the filter asked for, answers (honestly proven) entries of
      // an empty filter and states that filter.
      const f = l === 'wrong-filter' ? {} : filterFromParams(params);
      const page = m !== null ? await resourceHistory(engine, decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), opts) : await engine.search(f, opts);
      const wire = encodePage(page);
      if (l === 'drop' && wire.results.length > 1) wire.results.splice(1, 1);
      if (l === 'alter' && wire.results.length > 0) wire.results[0]!.entry = Buffer.from(Buffer.from(wire.results[0]!.entry, 'base64').toString().replace('"v":1', '"v":1 ')).toString('base64');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(wire));
    })().catch((e) => {
      res.statusCode = 500;
      res.end(JSON.stringify({ error: { code: 'internal', message: String(e) } }));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('SDK search and history', () => {
  it('iterates verified pages equal to the brute-force filter; history in log order', async () => {
    const store = await openStore(await dirs.make());
    open.push(store);
    const log = new SearchLog(store, new SeededRandom('sdk'));
    for (let b = 0; b < 8; b++) await log.appendBlock(25);
    const client = new CairnClient({ url: await serve(await SearchEngine.open(store), () => 'none') });
    const trust = testTrust();
    const got: number[] = [];
    let pages = 0;
    for await (const p of client.search({ actionPrefix: 'db', outcome: 'success' }, { trust, verifier: nodeVerifier, limit: 7, order: 'oldest' })) {
      expect(p.verified).toBe(true);
      got.push(...p.results.map((r) => r.index));
      pages++;
    }
    expect(pages).toBeGreaterThan(1);
    expect(got).toEqual(bruteForce(log, log.entries.length, { actionPrefix: 'db.', outcome: 'success' }, 'oldest'));
    const hist: number[] = [];
    for await (const p of client.history('db.table', 'payments', { trust, verifier: nodeVerifier, limit: 5 })) hist.push(...p.results.map((r) => r.index));
    expect(hist).toEqual(bruteForce(log, log.entries.length, { resourceType: 'db.table', resourceId: 'payments' }, 'oldest'));
  });

  it('refuses a page with an altered entry or answered for another filter (verification_failed)', async () => {
    const store = await openStore(await dirs.make());
    open.push(store);
    const log = new SearchLog(store, new SeededRandom('sdk-lie'));
    for (let b = 0; b < 4; b++) await log.appendBlock(25);
    let mode: Lie = 'alter';
    const client = new CairnClient({ url: await serve(await SearchEngine.open(store), () => mode) });
    const trust = testTrust();
    const drain = async (f: Parameters<CairnClient['search']>[0]) => {
      for await (const _ of client.search(f, { trust, verifier: nodeVerifier })) void _;
    };
    await expect(drain({ actor: 'alice' })).rejects.toMatchObject({ code: 'verification_failed' });
    // Genuine, proven entries of another query: checked against the filter WE asked for.
    mode = 'wrong-filter';
    await expect(drain({ actor: 'alice' })).rejects.toThrow(/filter_mismatch/);
    mode = 'none';
    await expect(drain({ actor: 'alice' }).then(() => 'ok')).resolves.toBe('ok');
  });
});

describe('cairn search / cairn history (command functions, against the stand-in routes)', () => {
  it('prints verified results, says so, checks completeness; history shows changes', async () => {
    const dir = await dirs.make();
    const store = await openStore(join(dir, 'store'));
    open.push(store);
    const log = new SearchLog(store, new SeededRandom('cli'));
    for (let b = 0; b < 5; b++) await log.appendBlock(70);
    let mode: Lie = 'none';
    const url = await serve(await SearchEngine.open(store), () => mode, store);
    const trustFile = join(dir, 'trust.json');
    await writeFile(trustFile, JSON.stringify({ origin: ORIGIN, quorum: 3, keys: ORGS.map((o) => formatVerifierKey(o.name, o.signer.publicKey)) }));
    let out = '';
    let err = '';
    const io: CliIo = { stdout: (x) => (out += x), stderr: (x) => (err += x), cwd: dir } as CliIo;
    await searchCommand(io, { peer: url, trust: trustFile, actor: 'carol', order: 'oldest', limit: '9', json: true, verifyComplete: true });
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { index: number });
    expect(lines.map((l) => l.index)).toEqual(bruteForce(log, log.entries.length, { actor: 'carol' }, 'oldest'));
    expect(err).toMatch(/^verified: \d+ result\(s\) against the final checkpoint of tree size 350/);
    expect(err).toMatch(/complete: every matching entry of the covered ranges \(350 entries re-checked/);
    // A peer that drops results is caught by --verify-complete (the pages themselves verify).
    out = '';
    err = '';
    mode = 'drop';
    await expect(searchCommand(io, { peer: url, trust: trustFile, actor: 'carol', verifyComplete: true })).rejects.toThrow(/completeness check failed: entry_omitted at \d+/);
    mode = 'none';
    out = '';
    await historyCommand(io, 'db.table', 'orders', { peer: url, trust: trustFile });
    const versions = [...out.matchAll(/^#(\d+) /gm)].map((m) => Number(m[1]));
    expect(versions).toEqual(bruteForce(log, log.entries.length, { resourceType: 'db.table', resourceId: 'orders' }, 'oldest'));
    // Random entries carry data.before/after: some version shows a field-level change.
    expect(out).toMatch(/^ {4}replace +\/(n|s) /m);
    expect(out).toMatch(/verified: \d+ version\(s\) of db.table\/orders against the final checkpoint of tree size 350\n$/);
  });
});

// Devnet acceptance, with real processes: the devnet start-up path (startDevnet, the same code
// `npm start` runs) brings up 4 `cairn start` peer processes on 127.0.0.1; 5,000 entries go in
// through all 4 peers with the client SDK and all become final; every peer's checkpoint verifies
// with the light verifier; `cairn audit` passes on every peer; tiles and entry bundles served by
// different peers are byte-identical; a receipt from one peer verifies offline; then one byte of
// one entry is corrupted in a stopped peer's LevelDB store, and after its restart `cairn audit`
// names that entry (see the corruption test below for why the peer starts).
//
// Slow (≈ 1-2 minutes on 2 cores): four peer processes under tsx plus 5,000 signed entries.
// Every wait has a progress-derived deadline and prints each peer's state when it fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { CairnClient, signEntry, type SubmitItem } from '../../src/client/index.js';
import { parsePrivateKey } from '../../src/crypto/keys.js';
import { nodeSigner } from '../../src/crypto/node.js';
import type { Ed25519Signer } from '../../src/crypto/types.js';
import type { AuditEntry } from '../../src/entry/index.js';
import { bytesEqual, fromBase64, toHex } from '../../src/encoding/bytes.js';
import { decodeEntryBundle, leafHash, tilesForSize } from '../../src/merkle/index.js';
import { parseTrustFile, verifyCheckpoint, verifyInclusion, type TrustRoot } from '../../src/verifier/index.js';
import { startDevnet, type Devnet } from '../../devnet/start.js';
import { u64Key, P_LEAF } from '../../node/storage/keys.js';
import { cli, tempDir } from '../unit/support/cli.js';
import { devnetBasePort } from './support/devnet-ports.js';

const ENTRIES = 5_000;
const BATCH = 250;
/** A finality wait fails when no peer's final size grew for this long. */
const STALL_MS = 30_000;

let dir: { path: string; cleanup: () => Promise<void> };
let devnet: Devnet | null = null;
let trust: TrustRoot;
let signer: Ed25519Signer;
const submitted: string[] = [];
let finalTarget = 0;

async function startOnFreePorts(path: string): Promise<Devnet> {
  // A base port per attempt; startDevnet checks every port and names a busy one, also one a peer
  // finds taken at its own listen after the check.
  for (let attempt = 0; ; attempt++) {
    const basePort = devnetBasePort();
    try {
      return await startDevnet({ dir: join(path, `devnet-${attempt}`), basePort, samples: 3 });
    } catch (e) {
      if ((e as { code?: string }).code !== 'port_in_use' || attempt >= 4) throw e;
    }
  }
}

async function statuses(d: Devnet): Promise<string> {
  const rows = await Promise.all(
    d.urls.map(async (u) => {
      try {
        const s = await new CairnClient({ url: u, requestTimeoutMs: 3000, credentials: d.auth.operator }).status();
        return `${u}: height ${s.height} tree ${s.treeSize} final ${s.finalSize} mempool ${s.mempool.entries} round ${(s.consensus as { round?: number }).round} problem ${s.problem}`;
      } catch (e) {
        return `${u}: ${(e as Error).message}`;
      }
    }),
  );
  return rows.join('\n');
}

/** Waits until every peer's final size reaches `target`; fails after STALL_MS without any growth. */
async function waitFinalSize(d: Devnet, target: number): Promise<number[]> {
  let best = -1;
  let lastProgress = Date.now();
  for (;;) {
    const sizes = await Promise.all(d.urls.map((u) => new CairnClient({ url: u, credentials: d.auth.operator }).status().then((s) => s.finalSize)));
    const sum = sizes.reduce((a, b) => a + b, 0);
    if (sum > best) {
      best = sum;
      lastProgress = Date.now();
    }
    if (sizes.every((s) => s >= target)) return sizes;
    if (Date.now() - lastProgress > STALL_MS) throw new Error(`final size stuck below ${target} for ${STALL_MS} ms:\n${await statuses(d)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function entry(i: number): AuditEntry {
  return signEntry(
    {
      v: 1,
      id: `acc-${i}`,
      time: new Date().toISOString(),
      actor: { id: `user-${i % 37}@example.com`, type: 'user' },
      action: 'db.query',
      resource: { type: 'db.table', id: `table-${i % 11}` },
      outcome: i % 5 === 0 ? 'denied' : 'success',
      data: { i, rows: i * 3 },
    },
    signer,
  );
}

beforeAll(async () => {
  dir = await tempDir('devnet-acc');
  devnet = await startOnFreePorts(dir.path);
  const t = parseTrustFile(await readFile(devnet.trustFile));
  if (!t.ok) throw new Error(t.message);
  trust = t.trust;
  const k = parsePrivateKey(await readFile(devnet.clientKeyFile, 'utf8'));
  if (!k.ok) throw new Error(k.message);
  signer = nodeSigner(k.value.seed);
}, 300_000);

afterAll(async () => {
  // Kills every peer's process group, also when a test failed.
  await devnet?.stop();
  await dir?.cleanup();
}, 60_000);

describe('devnet acceptance (4 peer processes, slow: ~1-2 min on 2 cores)', () => {
  it('starts 4 connected peers with a quorum, a trust file, final sample entries and working commands', async () => {
    const d = devnet!;
    expect(d.created).toBe(true);
    expect(d.urls).toHaveLength(4);
    expect(d.quorum).toBe(3);
    expect(trust.keys.map((k) => k.name)).toEqual(['org1.devnet', 'org2.devnet', 'org3.devnet', 'org4.devnet']);
    expect(d.samples).toHaveLength(3);
    for (const h of d.samples) expect((await new CairnClient({ url: d.urls[0]!, credentials: d.auth.auditor }).getEntry(h)).status).toBe('final');
    expect(d.commands.some((c) => c.startsWith('npx cairn audit '))).toBe(true);
    for (const p of d.peers) expect(await readFile(p.logFile, 'utf8')).toContain('"msg":"http api listening"');
  });

  it('every command the banner prints works as printed', async () => {
    for (const command of devnet!.commands) {
      expect(command.startsWith('npx cairn ')).toBe(true);
      // The printed commands hold no quotes: split on spaces as a shell would.
      const r = await cli(command.slice('npx cairn '.length).split(' '), { cwd: dir.path });
      expect(r.code, `${command}\n${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
    }
  }, 120_000);

  it('takes 5,000 entries through all 4 peers with the SDK; every one becomes final', async () => {
    const d = devnet!;
    const before = await new CairnClient({ url: d.urls[0]!, credentials: d.auth.operator }).status();
    const entries = Array.from({ length: ENTRIES }, (_, i) => entry(i));
    // Round-robin batches over the peers; each peer's batches go one after another.
    await Promise.all(
      d.urls.map(async (url, p) => {
        const client = new CairnClient({ url, credentials: d.auth.auditor });
        for (let start = p * BATCH; start < ENTRIES; start += BATCH * d.urls.length) {
          const batch = entries.slice(start, start + BATCH);
          let results: SubmitItem[] = [];
          for (let attempt = 0; ; attempt++) {
            results = await client.submit(batch);
            // A full mempool answers 503 busy per entry: resubmit those (the API's back-pressure).
            if (!results.some((r) => 'error' in r && r.error.code === 'busy') || attempt > 50) break;
            await new Promise((r) => setTimeout(r, 500));
          }
          results.forEach((r, k) => {
            if ('error' in r) throw new Error(`entry ${start + k} rejected by ${url}: ${r.error.code} ${r.error.message}`);
            submitted[start + k] = r.leafHash;
          });
        }
      }),
    );
    expect(submitted.filter((h) => typeof h === 'string')).toHaveLength(ENTRIES);
    // Every submitted entry is in the final log: read all entry bundles up to the final size. The
    // peers also log reads of the log (meta-audit entries) in between, so the log holds more than
    // before + ENTRIES entries: while some are missing, wait for the final size to grow by that many
    // (each wait fails after STALL_MS without growth; the rounds are bounded).
    const client = new CairnClient({ url: d.urls[1]!, credentials: d.auth.auditor });
    let target = before.treeSize + ENTRIES;
    let missing: string[] = [];
    for (let round = 0; round < 20; round++) {
      finalTarget = Math.min(...(await waitFinalSize(d, target)));
      const inLog = new Set<string>();
      for (const t of tilesForSize(finalTarget).filter((x) => x.level === 0)) {
        for (const leaf of decodeEntryBundle(await client.entryBundle(t.index, t.width), t.width)) inLog.add(toHex(leafHash(leaf)));
      }
      missing = submitted.filter((h) => !inLog.has(h));
      if (missing.length === 0) break;
      target = finalTarget + missing.length;
    }
    expect(missing).toEqual([]);
    expect(finalTarget).toBeGreaterThanOrEqual(before.treeSize + ENTRIES);
    // And a spread of them read back as final, with proofs that verify against a quorum checkpoint.
    for (let k = 0; k < 8; k++) {
      const h = submitted[Math.floor((k * ENTRIES) / 8) + 7]!;
      const e = await new CairnClient({ url: d.urls[k % 4]!, credentials: d.auth.auditor }).getEntry(h);
      expect(e.status).toBe('final');
      const v = verifyInclusion(trust, { entryLeaf: fromBase64(e.leaf)!, index: e.index!, proof: e.proof!.map((b) => fromBase64(b)!), checkpoint: e.checkpoint! });
      expect(v.ok).toBe(true);
    }
  }, 300_000);

  it('every peer serves GET /checkpoint that verifies with the light verifier', async () => {
    for (const url of devnet!.urls) {
      const note = await new CairnClient({ url }).checkpoint();
      const r = verifyCheckpoint(trust, note);
      expect(r.ok, `${url}: ${r.ok ? '' : r.message}`).toBe(true);
      if (r.ok) {
        expect(r.size).toBeGreaterThanOrEqual(finalTarget);
        expect(r.signers.length).toBeGreaterThanOrEqual(3);
      }
    }
  });

  it('tiles and entry bundles served by different peers are byte-identical', async () => {
    const d = devnet!;
    const clients = d.urls.map((url) => new CairnClient({ url, credentials: d.auth.auditor }));
    const tiles = tilesForSize(finalTarget);
    expect(tiles.some((t) => t.level === 1)).toBe(true);
    let compared = 0;
    for (const t of tiles) {
      const hashTiles = await Promise.all(clients.map((c) => c.tile(t.level, t.index, t.width)));
      for (const b of hashTiles) expect(bytesEqual(b, hashTiles[0]!), `tile ${t.level}/${t.index}.p/${t.width}`).toBe(true);
      expect(hashTiles[0]!.length).toBe(32 * t.width);
      if (t.level === 0) {
        const bundles = await Promise.all(clients.map((c) => c.entryBundle(t.index, t.width)));
        for (const b of bundles) expect(bytesEqual(b, bundles[0]!), `entry bundle ${t.index}.p/${t.width}`).toBe(true);
        compared++;
      }
      compared++;
    }
    expect(compared).toBe(tiles.length + tiles.filter((t) => t.level === 0).length);
  });

  it('cairn audit passes on every peer (every entry, signature, tile and the quorum checkpoint)', async () => {
    for (const url of devnet!.urls) {
      const r = await cli(['audit', url, '--trust', devnet!.trustFile, '--auth-key', devnet!.auth.auditorKeyFile]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`audit OK: ${url}`);
      const size = Number(/\n {2}size {8}(\d+)\n/.exec(r.stdout)?.[1]);
      expect(size).toBeGreaterThanOrEqual(finalTarget);
      expect(r.stdout).toMatch(new RegExp(`entries {5}${size} checked`));
      expect(r.stdout).toMatch(/ \d+ entries\/s\n/);
    }
    // With the genesis, the auditor also checks every client is authorized.
    const g = await cli(['audit', devnet!.urls[1]!, '--trust', devnet!.trustFile, '--genesis', devnet!.genesisFile, '--auth-key', devnet!.auth.auditorKeyFile]);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toContain("clients     every entry's client is authorized in");
  }, 120_000);

  it('a receipt fetched from one peer verifies offline with cairn verify receipt; the online commands work too', async () => {
    const d = devnet!;
    const p = (n: string) => join(dir.path, n);
    const h = submitted[1234]!;
    const asAuditor = ['--auth-key', d.auth.auditorKeyFile];
    const got = await cli(['receipt', h, '--peer', d.urls[2]!, '--out', p('r.tlog-proof'), '--entry-out', p('e.json'), ...asAuditor]);
    expect(got.code, got.stderr).toBe(0);
    const v = await cli(['verify', 'receipt', p('r.tlog-proof'), '--entry', p('e.json'), '--trust', d.trustFile]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^receipt OK\n/);
    // The receipt does not verify for another entry's bytes.
    await writeFile(p('other.json'), fromBase64((await new CairnClient({ url: d.urls[0]!, credentials: d.auth.auditor }).getEntry(submitted[1235]!)).leaf)!);
    const bad = await cli(['verify', 'receipt', p('r.tlog-proof'), '--entry', p('other.json'), '--trust', d.trustFile]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^cairn: receipt .* rejected: .*\n$/);

    const online = await cli(['verify', 'receipt', h, '--peer', d.urls[3]!, '--trust', d.trustFile, ...asAuditor]);
    expect(online.code, online.stderr).toBe(0);
    const cp = await cli(['verify', 'checkpoint', '--peer', d.urls[0]!, '--trust', d.trustFile, '--out', p('old.cp')]);
    expect(cp.code, cp.stderr).toBe(0);
    const g = await cli(['get', h, '--peer', d.urls[1]!, ...asAuditor]);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/status +final\n/);
    const st = await cli(['status', d.urls[1]!, '--auth-key', d.auth.operatorKeyFile]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/quorum +4 reachable, 3 needed: ok/);

    // cairn submit: flags with --wait, and JSON lines on stdin; then consistency with the saved checkpoint.
    const one = await cli(['submit', '--peer', d.urls[1]!, '--key', d.clientKeyFile, '--action', 'db.query', '--actor', 'alice@example.com', '--resource-type', 'db.table', '--resource-id', 'payments', '--wait', '--timeout', '30s', ...asAuditor]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^[0-9a-f]{64} final \d+ \S+\nsubmitted 1 entry to .*: 1 accepted, 0 already known, 1 final\n$/);
    const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: `stdin-${i}`, actor: { id: 'bob' }, action: 'file.read', resource: { type: 'file', id: `/f/${i}` }, outcome: 'success' })).join('\n');
    const bulk = await cli(['submit', '--peer', d.urls[2]!, '--key', d.clientKeyFile, '--stdin', '--wait', ...asAuditor], { stdin: new TextEncoder().encode(lines + '\n') });
    expect(bulk.code, bulk.stderr).toBe(0);
    expect(bulk.stdout).toContain('submitted 20 entries to');
    expect(bulk.stdout.split('\n').filter((l) => / final \d+ stdin-\d+$/.test(l))).toHaveLength(20);
    const again = await cli(['submit', '--peer', d.urls[3]!, '--key', d.clientKeyFile, '--stdin'], { stdin: new TextEncoder().encode(lines.split('\n').slice(0, 1).join('') + '\n') });
    // Same id, new time (filled in by submit) → different content for (client, id): 409 conflict.
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^cairn: 1 of 1 entry rejected; first: line 1 \(id stdin-0\): conflict: .*\n$/);
    const cons = await cli(['verify', 'consistency', p('old.cp'), '--peer', d.urls[3]!, '--trust', d.trustFile]);
    expect(cons.code, cons.stderr).toBe(0);
    expect(cons.stdout).toMatch(/^consistency OK\n/);
  }, 120_000);

  it('CLI errors against real peers are one line with a non-zero exit', async () => {
    const d = devnet!;
    const unknown = 'ab'.repeat(32);
    const r = await cli(['get', unknown, '--peer', d.urls[0]!, '--auth-key', d.auth.auditorKeyFile]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^cairn: HTTP 404 from http:\/\/127\.0\.0\.1:\d+\/v1\/entries\/(ab){32}: entry_not_found: .*\n$/);
    const t = await cli(['audit', d.urls[0]!, '--trust', d.genesisFile]);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/^cairn: invalid trust file .*\[trust_unknown_field\]\n$/);
  });

  // Which behaviour is right when a stopped peer's store has one corrupted entry byte:
  // - corruption of the LAST leaf (the head) is caught by the store's open-time head check, which
  //   is O(1): the peer refuses to start (exit code 1, CORRUPT_HEAD in its log);
  // - corruption anywhere else is NOT checked at start: a full check is O(log size) reads and
  //   hashes (minutes to hours for a large log), and a peer must not need that long to rejoin.
  //   The peer starts, keeps agreeing with the others (consensus and tiles are unaffected), and
  //   the corruption is found by whoever reads the entry: `cairn audit` names the entry, and the
  //   operator's verifyStore names the same index offline. Detection by outside auditors is the
  //   property Cairn promises — it must hold even for a peer that lies on purpose.
  it('a corrupted entry byte in a stopped peer: it restarts and cairn audit names that entry; a corrupted head leaf is refused at start', async () => {
    const d = devnet!;
    const victim = d.peers[3]!;
    const storeDir = join(d.dir, 'peers', victim.name, 'data', 'store');
    // The index of one of this test's entries: the peers also log the reads of the log
    // (meta-audit entries) between them, so positions are not known in advance.
    // Entries are submitted through several peers at once, so log order is not submit order.
    const index = (await new CairnClient({ url: d.urls[0]!, credentials: d.auth.auditor }).getEntry(submitted[1234]!)).index!;
    expect(Number.isSafeInteger(index) && index >= 0).toBe(true);
    // While the peer runs, its store is locked: the deep check refuses instead of racing it.
    const locked = await cli(['verify', 'store', '--config', victim.configFile]);
    expect(locked.code).toBe(2);
    expect(locked.stderr).toMatch(/^cairn: store .* is locked: stop the peer that uses it first\n$/);
    await d.stopPeer(victim.name);
    const clean = await cli(['verify', 'store', '--store', storeDir]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/^store OK: /);

    const db = new ClassicLevel<Uint8Array, Uint8Array>(storeDir, { keyEncoding: 'view', valueEncoding: 'view' });
    const key = u64Key(P_LEAF, index);
    const leaf = (await db.get(key))!;
    const original = new Uint8Array(leaf); // a copy (Buffer#slice would be a view)
    const text = new TextDecoder().decode(leaf);
    const at = text.indexOf('"rows":') + 7; // a digit inside the entry's data
    leaf[at] = leaf[at] === 0x31 ? 0x32 : 0x31;
    await db.put(key, leaf);
    await db.close();

    // The operator's offline deep check (`cairn verify store`) names the same entry.
    const vs = await cli(['verify', 'store', '--config', victim.configFile]);
    expect(vs.code).toBe(1);
    expect(vs.stderr).toMatch(new RegExp(`^cairn: store .* is inconsistent at leaf ${index}: leaf ${index} does not hash to the stored level-0 tile hash.*\\[LEAF_HASH_MISMATCH\\]\\n$`));

    await d.startPeer(victim.name);
    const a = await cli(['audit', victim.url, '--trust', d.trustFile, '--auth-key', d.auth.auditorKeyFile]);
    expect(a.code).toBe(1);
    expect(a.stdout).toBe('');
    expect(a.stderr).toMatch(
      new RegExp(`^cairn: audit of ${victim.url} failed after ${Math.floor(index / 256) * 256} entries: entry ${index} \\(entry bundle ${Math.floor(index / 256)}, position ${index % 256}\\): level-0 tile ${Math.floor(index / 256)} expects leaf hash ${toHex(leafHash(original))}, the served entry hashes to ${toHex(leafHash(leaf))}.* \\[leaf_hash_mismatch\\]\\n$`),
    );
    // The other peers still pass.
    const ok = await cli(['audit', d.urls[0]!, '--trust', d.trustFile, '--auth-key', d.auth.auditorKeyFile]);
    expect(ok.code, ok.stderr).toBe(0);

    // Now corrupt the head's last leaf: the store's open-time check refuses it.
    await d.stopPeer(victim.name);
    const db2 = new ClassicLevel<Uint8Array, Uint8Array>(storeDir, { keyEncoding: 'view', valueEncoding: 'view' });
    const last = (await db2.keys({ gte: u64Key(P_LEAF, 0), lt: u64Key(P_LEAF + 1, 0), reverse: true, limit: 1 }).all())[0]!;
    const lastLeaf = (await db2.get(last))!;
    lastLeaf[lastLeaf.length - 3] = lastLeaf[lastLeaf.length - 3]! ^ 0x01;
    await db2.put(last, lastLeaf);
    await db2.close();
    const corruptHead = await cli(['verify', 'store', '--config', victim.configFile]);
    expect(corruptHead.code).toBe(1);
    expect(corruptHead.stderr).toMatch(/^cairn: store .* is corrupt: CORRUPT_HEAD: .*does not hash to the level-0 tile hash.*\n$/);
    await expect(d.startPeer(victim.name)).rejects.toThrow(/exited during start-up \(code 1[\s\S]*CORRUPT_HEAD[\s\S]*does not hash to the level-0 tile hash/);
  }, 180_000);
});

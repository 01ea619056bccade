// auditLog (node/cli/audit-log.ts) against an in-memory tlog-tiles source: an honest log passes,
// and every kind of tampering is reported at the FIRST place it shows, with expected vs got.
import { beforeAll, describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { formatVerifierKey, verifierKey } from '../../src/checkpoint/keys.js';
import { signNote, type NoteSigner } from '../../src/checkpoint/note.js';
import { nobleSigner, publicKeyFromSeed } from '../../src/crypto/noble.js';
import { nodeSigner, nodeVerifier } from '../../src/crypto/node.js';
import { entryLeaf, signEntry } from '../../src/entry/index.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { EMPTY_ROOT, MerkleLog, encodeEntryBundle, leafHash } from '../../src/merkle/index.js';
import { parseTrustFile, type TrustRoot } from '../../src/verifier/index.js';
import { auditLog, type LogSource } from '../../node/cli/audit-log.js';

const ORIGIN = 'cairn.example/audit-test';
// 3 full level-0 tiles, a partial one of 17, and a partial level-1 tile of 3 hashes.
const SIZE = 3 * 256 + 17;

function seed(i: number): Uint8Array {
  return new Uint8Array(32).fill(i + 1);
}

const orgs: NoteSigner[] = ['org1', 'org2', 'org3', 'org4'].map((name, i) => ({ name, signer: nobleSigner(seed(i)) }));
let trust: TrustRoot;
const client = nodeSigner(seed(9));
let leaves: Uint8Array[];

function makeEntry(i: number): Uint8Array {
  return entryLeaf(
    signEntry(
      { v: 1, id: `e-${i}`, time: '2026-01-01T00:00:00Z', actor: { id: 'alice' }, action: 'db.query', resource: { type: 'db.table', id: `t${i}` }, outcome: 'success' },
      client,
    ),
  );
}

interface Built {
  source: LogSource;
  tiles: Map<string, Uint8Array>;
  bundles: Map<number, Uint8Array>;
  note: string;
  log: MerkleLog;
}

/** Builds an honest log over `entries` and a source serving it (maps can be tampered with). */
async function build(entries: Uint8Array[], signers = orgs.slice(0, 3)): Promise<Built> {
  const log = new MerkleLog();
  if (entries.length > 0) await log.append(entries);
  const note = signNote(formatCheckpoint({ origin: ORIGIN, size: log.size, root: log.root() }), signers);
  const tiles = new Map<string, Uint8Array>();
  const bundles = new Map<number, Uint8Array>();
  for (let n = 0; n * 256 < entries.length; n++) bundles.set(n, encodeEntryBundle(entries.slice(n * 256, (n + 1) * 256)));
  const b: Built = {
    log,
    note,
    tiles,
    bundles,
    source: {
      checkpoint: async () => utf8(b.note),
      tile: async (level, index, width) => {
        const t = tiles.get(`${level}/${index}`) ?? log.tiles.get({ level, index, width });
        if (t === undefined) throw new Error(`HTTP 404 tile ${level}/${index}`);
        return t.slice(0, width * 32);
      },
      entryBundle: async (index) => {
        const x = bundles.get(index);
        if (x === undefined) throw new Error(`HTTP 404 bundle ${index}`);
        return x;
      },
    },
  };
  return b;
}

beforeAll(() => {
  const r = parseTrustFile(JSON.stringify({ origin: ORIGIN, quorum: 3, keys: orgs.map((o) => formatVerifierKey(o.name, publicKeyFromSeed(seed(orgs.indexOf(o))))) }));
  if (!r.ok) throw new Error(r.message);
  trust = r.trust;
  leaves = Array.from({ length: SIZE }, (_, i) => makeEntry(i));
  expect(verifierKey('org1', publicKeyFromSeed(seed(0))).name).toBe('org1');
});

const opts = { verifier: nodeVerifier, concurrency: 4 };

describe('auditLog', () => {
  it('passes an honest log, checking every entry, every bundle and every tile level', async () => {
    const b = await build(leaves);
    const progress: number[] = [];
    const r = await auditLog(b.source, trust, { ...opts, onProgress: (d) => progress.push(d) });
    if (!r.ok) throw new Error(r.problem.message);
    expect(r.size).toBe(SIZE);
    expect(r.entriesChecked).toBe(SIZE);
    expect(r.bundlesChecked).toBe(4);
    expect(r.tilesChecked).toBe(5); // 4 level-0 tiles + the partial level-1 tile
    expect(r.signers).toEqual(['org1', 'org2', 'org3']);
    expect(progress).toEqual([256, 512, 768, SIZE]);
    expect(r.entriesPerSec).toBeGreaterThan(0);
  });

  it('passes an empty log (size 0, empty root)', async () => {
    const b = await build([]);
    const r = await auditLog(b.source, trust, opts);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.size).toBe(0);
      expect(toHex(r.root)).toBe(toHex(EMPTY_ROOT));
    }
  });

  it('names the first entry whose bytes were altered (one byte), with expected and served leaf hash', async () => {
    const b = await build(leaves);
    // Two altered entries in one bundle and one in a later bundle: the earliest is named.
    const bad = leaves.slice();
    for (const index of [300, 500, 780]) {
      const e = bad[index]!.slice();
      e[e.length - 5] = e[e.length - 5]! ^ 0x01;
      bad[index] = e;
    }
    for (const n of [1, 3]) b.bundles.set(n, encodeEntryBundle(bad.slice(n * 256, (n + 1) * 256)));
    const r = await auditLog(b.source, trust, opts);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem.code).toBe('leaf_hash_mismatch');
    expect(r.problem.index).toBe(300);
    expect(r.problem.expected).toBe(toHex(leafHash(leaves[300]!)));
    expect(r.problem.message).toMatch(/^entry 300 \(entry bundle 1, position 44\): level-0 tile 1 expects leaf hash [0-9a-f]{64}, the served entry hashes to [0-9a-f]{64}/);
    expect(r.entriesChecked).toBe(256);
  });

  it('reports a tampered level-0 tile hash at its entry', async () => {
    const b = await build(leaves);
    const t = b.log.tiles.get({ level: 0, index: 3, width: 17 })!.slice();
    t[5 * 32] = t[5 * 32]! ^ 0xff;
    b.tiles.set('0/3', t);
    const r = await auditLog(b.source, trust, opts);
    expect(r.ok ? null : [r.problem.code, r.problem.index, r.problem.tile]).toEqual(['leaf_hash_mismatch', 3 * 256 + 5, { level: 0, index: 3, width: 17 }]);
  });

  it('reports a tampered level-1 tile hash with the entry range it covers', async () => {
    const b = await build(leaves);
    const t = b.log.tiles.get({ level: 1, index: 0, width: 3 })!.slice();
    t[2 * 32 + 7] = t[2 * 32 + 7]! ^ 0x01;
    b.tiles.set('1/0', t);
    const r = await auditLog(b.source, trust, opts);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem.code).toBe('tile_hash_mismatch');
    expect(r.problem.tile).toEqual({ level: 1, index: 0, width: 3 });
    expect(r.problem.index).toBe(512);
    expect(r.problem.message).toMatch(/^tile 1\/0 hash 2 \(entries 512\.\.767\): recomputed from the entries [0-9a-f]{64}, peer served [0-9a-f]{64}$/);
  });

  it('reports an entry whose signature is bad even when the log was built over it consistently', async () => {
    const bad = leaves.slice();
    const text = new TextDecoder().decode(bad[700]!);
    // Flip one hex digit of the signature: still canonical JSON, still a valid-looking entry.
    const i = text.indexOf('"sig":"') + 7;
    bad[700] = utf8(text.slice(0, i) + (text[i] === '0' ? '1' : '0') + text.slice(i + 1));
    const r = await auditLog((await build(bad)).source, trust, opts);
    expect(r.ok ? null : [r.problem.code, r.problem.index]).toEqual(['entry_bad_signature', 700]);
  });

  it('reports a non-canonical entry logged consistently', async () => {
    const bad = leaves.slice();
    bad[10] = utf8(' ' + new TextDecoder().decode(bad[10]!));
    const r = await auditLog((await build(bad)).source, trust, opts);
    expect(r.ok ? null : [r.problem.code, r.problem.index]).toEqual(['entry_invalid', 10]);
    if (!r.ok) expect(r.problem.message).toMatch(/entry 10 .*is not a valid Cairn entry: leaf_noncanonical/);
  });

  it('reports an unauthorized client when a client list is given', async () => {
    const b = await build(leaves.slice(0, 5));
    const r = await auditLog(b.source, trust, { ...opts, authorizedClients: new Set(['00'.repeat(32)]) });
    expect(r.ok ? null : [r.problem.code, r.problem.index]).toEqual(['entry_unknown_client', 0]);
    const ok = await auditLog(b.source, trust, { ...opts, authorizedClients: new Set([toHex(client.publicKey)]) });
    expect(ok.ok).toBe(true);
  });

  it('rejects a checkpoint below quorum and one whose signed root differs from the entries', async () => {
    const b = await build(leaves, orgs.slice(0, 2));
    const r = await auditLog(b.source, trust, opts);
    expect(r.ok ? null : r.problem.code).toBe('checkpoint_invalid');
    const c = await build(leaves);
    // A quorum signed a checkpoint over a different root (for instance, a forked log).
    c.note = signNote(formatCheckpoint({ origin: ORIGIN, size: SIZE, root: new Uint8Array(32).fill(7) }), orgs.slice(1));
    const r2 = await auditLog(c.source, trust, opts);
    expect(r2.ok).toBe(false);
    if (!r2.ok) {
      // Entries and tiles are honest, so the only discrepancy is the signed root itself.
      expect(r2.problem.code).toBe('root_mismatch');
      expect(r2.problem.expected).toBe(Buffer.from(new Uint8Array(32).fill(7)).toString('base64'));
    }
  });

  it('reports malformed bundles, short tiles and fetch failures with what was asked', async () => {
    const b = await build(leaves);
    b.bundles.set(2, b.bundles.get(2)!.slice(0, 100));
    let r = await auditLog(b.source, trust, opts);
    expect(r.ok ? null : [r.problem.code, r.problem.index]).toEqual(['bundle_malformed', 512]);

    const c = await build(leaves);
    c.tiles.set('0/1', new Uint8Array(31));
    r = await auditLog(c.source, trust, opts);
    expect(r.ok ? null : [r.problem.code, r.problem.tile]).toEqual(['tile_malformed', { level: 0, index: 1, width: 256 }]);

    const d = await build(leaves);
    d.bundles.delete(3);
    r = await auditLog(d.source, trust, opts);
    expect(r.ok ? null : r.problem.code).toBe('fetch_failed');
    if (!r.ok) expect(r.problem.message).toBe('cannot fetch entry bundle 3 (width 17): HTTP 404 bundle 3');

    const e = await build(leaves);
    e.source.checkpoint = async () => {
      throw new Error('connection refused');
    };
    r = await auditLog(e.source, trust, opts);
    expect(r.ok ? null : r.problem.message).toBe('cannot fetch the checkpoint: connection refused');
  });

  it('refuses a concurrency outside 1..64', async () => {
    const b = await build([]);
    await expect(auditLog(b.source, trust, { verifier: nodeVerifier, concurrency: 0 })).rejects.toThrow(/AUDIT_CONCURRENCY_MAX/);
  });
});

// The full audit behind `cairn audit`: read a whole log through the C2SP tlog-tiles read API,
// recompute it from the entries alone, and report the FIRST place where what the peer serves
// disagrees with what its quorum-signed checkpoint commits to.
//
// What is checked, in log order (so the first problem reported is the earliest one):
//   1. the checkpoint carries a quorum of trusted organization signatures (C2SP tlog-checkpoint);
//   2. for every entry bundle n (tlog-tiles `tile/entries/<N>`): it decodes into exactly the
//      tile's width of entries; each entry's RFC 9162 leaf hash SHA-256(0x00 ‖ entry) equals hash
//      i of level-0 tile n; each entry is a canonical Cairn entry (parseLeaf, docs/entry-format.md)
//      whose client signature verifies (and, given a client list, whose client is authorized);
//   3. every hash of every higher tile (level L holds tree level 8·L) equals the node recomputed
//      from the entries (RFC 9162 §2.1.1 compact range; the same nodes tlog-tiles stores);
//   4. the root recomputed from all entries equals the checkpoint root.
// Memory stays bounded: a compact range (≤ 53 hashes), one partial tile per level and at most
// `concurrency` prefetched (bundle, tile) pairs.
import { verifyCheckpoint, type TrustRoot } from '../../src/verifier/index.js';
import { parseLeaf, verifyEntrySignature } from '../../src/entry/index.js';
import type { Ed25519Verifier } from '../../src/crypto/types.js';
import { bytesEqual, toBase64, toHex } from '../../src/encoding/bytes.js';
import {
  EMPTY_RANGE,
  HASH_BYTES,
  TILE_HEIGHT,
  TILE_WIDTH,
  appendLeafHashes,
  decodeEntryBundle,
  hashesAtTileLevel,
  leafHash,
  rootOf,
  tileHash,
  tileWidthAt,
  type CompactRange,
} from '../../src/merkle/index.js';

/** Where the audit reads the log from (HTTP in `cairn audit`, anything in tests). */
export interface LogSource {
  /** The signed checkpoint note. */
  checkpoint(): Promise<Uint8Array>;
  /** Exactly the bytes of hash tile (level, index) of width `width` (1..256). */
  tile(level: number, index: number, width: number): Promise<Uint8Array>;
  /** Exactly the bytes of entry bundle `index` of width `width`. */
  entryBundle(index: number, width: number): Promise<Uint8Array>;
}

export type AuditCode =
  /** The checkpoint could not be fetched. */
  | 'checkpoint_unavailable'
  /** The checkpoint does not verify against the trust root. */
  | 'checkpoint_invalid'
  /** A tile or entry bundle could not be fetched. */
  | 'fetch_failed'
  /** A tile has the wrong length for its width. */
  | 'tile_malformed'
  /** An entry bundle does not decode into the expected number of entries. */
  | 'bundle_malformed'
  /** An entry's leaf hash differs from the level-0 tile hash at its index. */
  | 'leaf_hash_mismatch'
  /** An entry is not a canonical, valid Cairn entry. */
  | 'entry_invalid'
  /** An entry's client signature does not verify. */
  | 'entry_bad_signature'
  /** An entry's client key is not in the given list of authorized clients. */
  | 'entry_unknown_client'
  /** A hash in a tile of level ≥ 1 differs from the node recomputed from the entries. */
  | 'tile_hash_mismatch'
  /** The root recomputed from the entries differs from the checkpoint root. */
  | 'root_mismatch';

export interface AuditProblem {
  code: AuditCode;
  /** One line, naming the entry index / tile and what was expected vs what was served. */
  message: string;
  /** The first entry involved, when one is. */
  index?: number;
  tile?: { level: number; index: number; width: number };
  expected?: string;
  got?: string;
}

export interface AuditStats {
  origin: string;
  size: number;
  root: Uint8Array;
  signers: string[];
  entriesChecked: number;
  tilesChecked: number;
  bundlesChecked: number;
  bytesRead: number;
  elapsedMs: number;
  entriesPerSec: number;
}

export type AuditResult = ({ ok: true } & AuditStats) | ({ ok: false; problem: AuditProblem } & Partial<AuditStats> & { entriesChecked: number });

export interface AuditOptions {
  /** Ed25519 implementation for checkpoint and entry signatures. */
  verifier: Ed25519Verifier;
  /** (bundle, tile) pairs fetched ahead of the one being checked (default 8, 1..64). */
  concurrency?: number;
  /** Lowercase hex client keys allowed to submit; when given, other clients are a problem. */
  authorizedClients?: ReadonlySet<string>;
  onProgress?: (entriesChecked: number, size: number) => void;
  now?: () => number;
}

/** Most (bundle, tile) pairs in flight at once. */
export const AUDIT_CONCURRENCY_MAX = 64;

class Stop extends Error {
  constructor(readonly problem: AuditProblem) {
    super(problem.message);
  }
}

function problem(p: AuditProblem): never {
  throw new Stop(p);
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ');
}

type Fetched = { ok: true; bundle: Uint8Array; tile: Uint8Array } | { ok: false; what: string; error: unknown };

export async function auditLog(source: LogSource, trust: TrustRoot, opts: AuditOptions): Promise<AuditResult> {
  const now = opts.now ?? (() => Date.now());
  const started = now();
  const concurrency = opts.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > AUDIT_CONCURRENCY_MAX) {
    throw new RangeError(`concurrency must be an integer in 1..${AUDIT_CONCURRENCY_MAX} (AUDIT_CONCURRENCY_MAX)`);
  }
  let entriesChecked = 0;
  let tilesChecked = 0;
  let bundlesChecked = 0;
  let bytesRead = 0;

  let note: Uint8Array;
  try {
    note = await source.checkpoint();
  } catch (e) {
    return { ok: false, entriesChecked, problem: { code: 'checkpoint_unavailable', message: `cannot fetch the checkpoint: ${errorText(e)}` } };
  }
  bytesRead += note.length;
  const cp = verifyCheckpoint(trust, note, { verifier: opts.verifier });
  if (!cp.ok) {
    return { ok: false, entriesChecked, problem: { code: 'checkpoint_invalid', message: `checkpoint rejected: ${cp.message} [${cp.code}]` } };
  }
  const size = cp.size;
  const bundles = Math.ceil(size / TILE_WIDTH);

  // Recomputed hashes of tile levels ≥ 1, waiting for their tile to complete: level → {tile index, hashes}.
  const pendingUpper = new Map<number, { index: number; hashes: Uint8Array[] }>();
  let state: CompactRange = EMPTY_RANGE;

  const fetchPair = (n: number): Promise<Fetched> => {
    const width = tileWidthAt(size, 0, n);
    return Promise.all([
      source.entryBundle(n, width).catch((error: unknown) => Promise.reject({ what: `entry bundle ${n} (width ${width})`, error })),
      source.tile(0, n, width).catch((error: unknown) => Promise.reject({ what: `level-0 tile ${n} (width ${width})`, error })),
    ]).then(
      ([bundle, tile]): Fetched => ({ ok: true, bundle, tile }),
      (r: { what: string; error: unknown }): Fetched => ({ ok: false, what: r.what, error: r.error }),
    );
  };

  const checkTileBytes = (bytes: Uint8Array, level: number, index: number, width: number): void => {
    if (!(bytes instanceof Uint8Array) || bytes.length !== width * HASH_BYTES) {
      problem({
        code: 'tile_malformed',
        message: `tile ${level}/${index}: expected ${width} hashes (${width * HASH_BYTES} bytes), got ${bytes?.length ?? 0} bytes`,
        tile: { level, index, width },
        index: index * TILE_WIDTH ** (level + 1),
      });
    }
  };

  /** Compares a completed upper tile with the peer's. */
  const checkUpperTile = async (level: number, index: number, hashes: Uint8Array[]): Promise<void> => {
    const width = hashes.length;
    let bytes: Uint8Array;
    try {
      bytes = await source.tile(level, index, width);
    } catch (e) {
      return problem({ code: 'fetch_failed', message: `cannot fetch tile ${level}/${index} (width ${width}): ${errorText(e)}`, tile: { level, index, width } });
    }
    bytesRead += bytes.length;
    checkTileBytes(bytes, level, index, width);
    for (let i = 0; i < width; i++) {
      const served = tileHash(bytes, i);
      if (!bytesEqual(served, hashes[i]!)) {
        const span = TILE_WIDTH ** level; // leaves under one hash of tile level `level`
        const first = (index * TILE_WIDTH + i) * span;
        problem({
          code: 'tile_hash_mismatch',
          message: `tile ${level}/${index} hash ${i} (entries ${first}..${first + span - 1}): recomputed from the entries ${toHex(hashes[i]!)}, peer served ${toHex(served)}`,
          tile: { level, index, width },
          index: first,
          expected: toHex(hashes[i]!),
          got: toHex(served),
        });
      }
    }
    tilesChecked++;
  };

  /** Records a node of tree level 8·L (L ≥ 1) and checks its tile once complete. */
  const addUpper = async (level: number, position: number, hash: Uint8Array): Promise<void> => {
    const index = Math.floor(position / TILE_WIDTH);
    let p = pendingUpper.get(level);
    if (p === undefined) {
      p = { index, hashes: [] };
      pendingUpper.set(level, p);
    }
    // Nodes of one level complete left to right, so positions arrive consecutively.
    if (p.index !== index || position % TILE_WIDTH !== p.hashes.length) throw new Error(`internal: tile level ${level} node ${position} out of order`);
    p.hashes.push(hash);
    if (p.hashes.length === tileWidthAt(size, level, index)) {
      const done = p.hashes;
      pendingUpper.set(level, { index: index + 1, hashes: [] });
      await checkUpperTile(level, index, done);
    }
  };

  const window: Promise<Fetched>[] = [];
  let nextFetch = 0;
  try {
    for (let n = 0; n < bundles; n++) {
      while (nextFetch < bundles && nextFetch < n + concurrency) window.push(fetchPair(nextFetch++));
      const got = await window.shift()!;
      if (!got.ok) problem({ code: 'fetch_failed', message: `cannot fetch ${got.what}: ${errorText(got.error)}`, index: n * TILE_WIDTH });
      const width = tileWidthAt(size, 0, n);
      const first = n * TILE_WIDTH;
      bytesRead += got.bundle.length + got.tile.length;
      checkTileBytes(got.tile, 0, n, width);
      let entries: Uint8Array[];
      try {
        entries = decodeEntryBundle(got.bundle, width);
      } catch (e) {
        problem({
          code: 'bundle_malformed',
          message: `entry bundle ${n} (entries ${first}..${first + width - 1}): ${errorText(e)}`,
          index: first,
        });
      }
      const hashes: Uint8Array[] = [];
      for (let i = 0; i < width; i++) {
        const entry = entries[i]!;
        const index = first + i;
        const lh = leafHash(entry);
        const served = tileHash(got.tile, i);
        const parsed = parseLeaf(entry);
        if (!bytesEqual(lh, served)) {
          const why = parsed.ok ? '' : `; the entry also fails to parse: ${parsed.errors[0]!.code} at ${parsed.errors[0]!.field || 'entry'}`;
          problem({
            code: 'leaf_hash_mismatch',
            message: `entry ${index} (entry bundle ${n}, position ${i}): level-0 tile ${n} expects leaf hash ${toHex(served)}, the served entry hashes to ${toHex(lh)}${why}`,
            index,
            tile: { level: 0, index: n, width },
            expected: toHex(served),
            got: toHex(lh),
          });
        }
        if (!parsed.ok) {
          const e0 = parsed.errors[0]!;
          problem({ code: 'entry_invalid', message: `entry ${index} (entry bundle ${n}, position ${i}) is not a valid Cairn entry: ${e0.code} at ${e0.field || 'entry'}: ${e0.message}`, index });
        }
        const entryObj = parsed.entry;
        if (!verifyEntrySignature(entryObj, opts.verifier)) {
          problem({ code: 'entry_bad_signature', message: `entry ${index} (client ${entryObj.client}, id ${entryObj.id}): the client signature does not verify`, index });
        }
        if (opts.authorizedClients !== undefined && !opts.authorizedClients.has(entryObj.client)) {
          problem({ code: 'entry_unknown_client', message: `entry ${index} (id ${entryObj.id}): client ${entryObj.client} is not an authorized client`, index });
        }
        hashes.push(lh);
      }
      entriesChecked += width;
      bundlesChecked++;
      tilesChecked++;
      const appended = appendLeafHashes(state, hashes);
      state = appended.state;
      for (const node of appended.stored) {
        if (node.level > 0 && node.level % TILE_HEIGHT === 0) await addUpper(node.level / TILE_HEIGHT, node.index, node.hash);
      }
      opts.onProgress?.(entriesChecked, size);
    }
    // Every tile level with hashes must have been checked completely (its partial tile included).
    for (let level = 1; hashesAtTileLevel(size, level) > 0; level++) {
      const p = pendingUpper.get(level);
      if (p !== undefined && p.hashes.length > 0) throw new Error(`internal: tile level ${level} left ${p.hashes.length} unchecked hashes`);
    }
    const root = rootOf(state);
    if (!bytesEqual(root, cp.root)) {
      problem({
        code: 'root_mismatch',
        message: `root of the ${size} entries is ${toBase64(root)}, the checkpoint says ${toBase64(cp.root)}`,
        expected: toBase64(cp.root),
        got: toBase64(root),
      });
    }
  } catch (e) {
    // Let prefetches settle so none rejects unobserved (they never reject: see fetchPair).
    await Promise.all(window);
    const elapsedMs = now() - started;
    if (e instanceof Stop) return { ok: false, problem: e.problem, entriesChecked, tilesChecked, bundlesChecked, bytesRead, elapsedMs, origin: cp.origin, size, signers: cp.signers };
    throw e;
  }
  const elapsedMs = Math.max(1, now() - started);
  return {
    ok: true,
    origin: cp.origin,
    size,
    root: cp.root,
    signers: cp.signers,
    entriesChecked,
    tilesChecked,
    bundlesChecked,
    bytesRead,
    elapsedMs,
    entriesPerSec: Math.round((entriesChecked * 1000) / elapsedMs),
  };
}

// Fetching the entries of a compact proposal that this peer does not hold (block-compact.ts):
// a request/response protocol over the peer network, bounded on both sides.
//
// Request (version 1):  u8 1 | u16 count | count × 32 leaf hashes        (1..FETCH_HASHES_MAX)
// Response (version 1): u8 1 | u16 count | count × (u32 len ‖ leaf)      same order; len 0 = not held
//
// The server answers from its mempool (and whatever `leafOf` can reach) and stops filling once the
// response would pass FETCH_RESPONSE_BYTES_MAX (the rest answered as "not held"), so one request
// costs it a bounded amount of work and bytes; the network layer rate-limits requests per peer.
// The client checks every leaf it receives against the hash it asked for (a peer cannot slip a
// different entry in), asks the proposer first when it is connected (it built the block, so it
// holds every entry), then the other connected peers in turn (any of them may hold the entries:
// they travel by gossip), never asks for more than the block can hold, and gives up at a
// deadline: a proposal whose entries did not all arrive is simply not prevoted (the propose
// timeout makes the peer prevote nil, paper L57).
import { ByteReader, ByteWriter } from '../../src/consensus/byte-io.js';
import { toHex } from '../../src/encoding/bytes.js';
import { HASH_BYTES, LEAF_BYTES_MAX } from './block.js';
import { failure, type PeerFailure } from './errors.js';
import { HandlerError, type PeerNetwork } from '../net/index.js';

/** Protocol name (the network namespaces it by genesis). */
export const ENTRY_FETCH_PROTOCOL = 'entries-by-hash/1';
/** Most leaf hashes in one request (32 KiB of request). */
export const FETCH_HASHES_MAX = 1024;
/** Largest response body: below the 4 MiB frame limit with room for the framing. */
export const FETCH_RESPONSE_BYTES_MAX = 2 * 1024 * 1024;
/** Largest request body. */
export const FETCH_REQUEST_BYTES_MAX = 3 + FETCH_HASHES_MAX * HASH_BYTES;

export function encodeFetchRequest(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length < 1 || hashes.length > FETCH_HASHES_MAX) throw new Error(`encodeFetchRequest: 1..${FETCH_HASHES_MAX} hashes`);
  const w = new ByteWriter(3 + hashes.length * HASH_BYTES);
  w.u8(1).u16(hashes.length);
  for (const h of hashes) w.bytes(h);
  return w.finish();
}

/** Cheap facts only: exact size for the count, count in range. Never throws. */
export function decodeFetchRequest(b: Uint8Array): { ok: true; hashes: Uint8Array[] } | PeerFailure {
  if (!(b instanceof Uint8Array) || b.length < 3 || b.length > FETCH_REQUEST_BYTES_MAX) return failure('fetch_bad_request', 'entry fetch request size out of range');
  const r = new ByteReader(b);
  const v = r.u8();
  const count = r.u16();
  if (v !== 1 || count < 1 || count > FETCH_HASHES_MAX || b.length !== 3 + count * HASH_BYTES) return failure('fetch_bad_request', 'entry fetch request malformed');
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < count; i++) hashes.push(r.bytes(HASH_BYTES));
  return { ok: true, hashes };
}

/** The server side: the leaves we hold for the requested hashes, within FETCH_RESPONSE_BYTES_MAX. */
export function serveFetch(req: Uint8Array, leafOf: (hex: string) => Uint8Array | undefined): { ok: true; response: Uint8Array; served: number } | PeerFailure {
  const d = decodeFetchRequest(req);
  if (!d.ok) return d;
  const leaves: (Uint8Array | undefined)[] = [];
  // Every length prefix is counted up front, so the leaves that fit never crowd out the prefixes.
  let size = 3 + 4 * d.hashes.length;
  let served = 0;
  for (const h of d.hashes) {
    const leaf = leafOf(toHex(h));
    const fits = leaf !== undefined && leaf.length <= LEAF_BYTES_MAX && size + leaf.length <= FETCH_RESPONSE_BYTES_MAX;
    leaves.push(fits ? leaf : undefined);
    if (fits) {
      size += leaf.length;
      served++;
    }
  }
  const w = new ByteWriter(size);
  w.u8(1).u16(leaves.length);
  for (const l of leaves) {
    w.u32(l === undefined ? 0 : l.length);
    if (l !== undefined) w.bytes(l);
  }
  return { ok: true, response: w.finish(), served };
}

/**
 * The client side: the leaves of a response, each checked against the hash asked for at its
 * position. A leaf with another hash, a count that differs from the request or a malformed
 * response fails as a whole (`fetch_bad_response`): the server lied or is broken.
 */
export function decodeFetchResponse(b: Uint8Array, asked: readonly Uint8Array[], leafHash: (leaf: Uint8Array) => Uint8Array): { ok: true; leaves: Map<string, Uint8Array> } | PeerFailure {
  if (!(b instanceof Uint8Array) || b.length > FETCH_RESPONSE_BYTES_MAX) return failure('fetch_bad_response', 'entry fetch response size out of range');
  const r = new ByteReader(b);
  const v = r.u8();
  const count = r.u16();
  if (r.truncated || v !== 1 || count !== asked.length) return failure('fetch_bad_response', 'entry fetch response header malformed or count differs from the request');
  const leaves = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    const len = r.u32();
    if (r.truncated || len > LEAF_BYTES_MAX || len > r.remaining) return failure('fetch_bad_response', `entry ${i} length out of range`);
    if (len === 0) continue;
    const leaf = r.bytes(len);
    const want = toHex(asked[i]!);
    if (toHex(leafHash(leaf)) !== want) return failure('fetch_bad_response', `entry ${i} does not hash to the leaf hash asked for`);
    leaves.set(want, leaf);
  }
  if (r.remaining !== 0) return failure('fetch_bad_response', 'trailing bytes in entry fetch response');
  return { ok: true, leaves };
}

export interface FetchPlan {
  /** Leaf hashes to obtain (at most the block's maxBlockEntries: the caller decoded the compact form within its limits). */
  missing: readonly Uint8Array[];
  /** Peers to ask, in order (each only for what is still missing). */
  sources: readonly string[];
  request(peer: string, req: Uint8Array, opts: { timeoutMs: number; maxResponseBytes: number }): Promise<Uint8Array>;
  leafHash(leaf: Uint8Array): Uint8Array;
  /** Absolute deadline (ms on `now`'s clock); nothing is asked after it. */
  deadlineMs: number;
  now(): number;
  /** Largest total of leaf bytes accepted (the declared entry bytes of the block). */
  maxBytes: number;
}

/**
 * Obtains as many of `missing` as the sources give before the deadline: chunks of
 * FETCH_HASHES_MAX, each source asked only for what is still missing. Never throws; a source that
 * fails or lies is skipped. Returns the leaves found (checked against their hashes) and stats.
 */
export async function fetchMissing(p: FetchPlan): Promise<{ leaves: Map<string, Uint8Array>; requests: number; badSources: number }> {
  const leaves = new Map<string, Uint8Array>();
  let bytes = 0;
  let requests = 0;
  let badSources = 0;
  for (const peer of p.sources) {
    const still = p.missing.filter((h) => !leaves.has(toHex(h)));
    if (still.length === 0) break;
    for (let from = 0; from < still.length; from += FETCH_HASHES_MAX) {
      const left = p.deadlineMs - p.now();
      if (left <= 0) return { leaves, requests, badSources };
      const ask = still.slice(from, from + FETCH_HASHES_MAX);
      requests++;
      let resp: Uint8Array;
      try {
        resp = await p.request(peer, encodeFetchRequest(ask), { timeoutMs: left, maxResponseBytes: FETCH_RESPONSE_BYTES_MAX });
      } catch {
        break; // this source is down or refuses: try the next one
      }
      const d = decodeFetchResponse(resp, ask, p.leafHash);
      if (!d.ok) {
        badSources++;
        break;
      }
      for (const [k, leaf] of d.leaves) {
        if (bytes + 2 + leaf.length > p.maxBytes) return { leaves, requests, badSources };
        bytes += 2 + leaf.length;
        leaves.set(k, leaf);
      }
    }
  }
  return { leaves, requests, badSources };
}

/** Requests per second (and burst) one peer may make of our entry fetch server. */
export const FETCH_RATE_PER_PEER = 20;
export const FETCH_BURST_PER_PEER = 40;

/**
 * The connected peers in the order to ask them: `first` (the proposer) ahead when it is connected;
 * a peer that is not connected is not dialled (a dial could eat the whole deadline).
 */
export function fetchSources(connected: readonly string[], first: string | undefined): string[] {
  if (first === undefined || !connected.includes(first)) return [...connected];
  return [first, ...connected.filter((p) => p !== first)];
}

/**
 * Serves ENTRY_FETCH_PROTOCOL from `leafOf` and returns the fetcher that asks the connected peers,
 * the proposer's peer id (`first`) ahead of the others (block-assembly.ts LeafFetcher). Every
 * peer may answer: entries travel by gossip to all of them, so the proposer is not the only
 * source (and need not be reachable).
 */
export async function serveEntryFetch(
  network: Pick<PeerNetwork, 'handle' | 'request' | 'connectedPeers'>,
  leafOf: (hex: string) => Uint8Array | undefined,
  leafHash: (leaf: Uint8Array) => Uint8Array,
  now: () => number = Date.now,
): Promise<(missing: Uint8Array[], maxBytes: number, deadlineMs: number, first?: string) => Promise<Map<string, Uint8Array>>> {
  await network.handle(
    ENTRY_FETCH_PROTOCOL,
    async (_from, req) => {
      const r = serveFetch(req, leafOf);
      if (!r.ok) throw new HandlerError('FETCH_BAD_REQUEST', r.message);
      return r.response;
    },
    { maxRequestBytes: FETCH_REQUEST_BYTES_MAX, maxResponseBytes: FETCH_RESPONSE_BYTES_MAX, rateLimitPerSecond: FETCH_RATE_PER_PEER, rateLimitBurst: FETCH_BURST_PER_PEER },
  );
  return async (missing, maxBytes, deadlineMs, first) =>
    (
      await fetchMissing({
        missing,
        sources: fetchSources(network.connectedPeers(), first),
        request: (peer, req, o) => network.request(peer, ENTRY_FETCH_PROTOCOL, req, o),
        leafHash,
        deadlineMs,
        now,
        maxBytes,
      })
    ).leaves;
}

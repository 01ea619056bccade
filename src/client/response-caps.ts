// What each route can legitimately answer, in bytes: the SDK stops reading a body past its route's
// cap (read-body.ts), so a peer (or anything posing as one) cannot make a client buffer more than
// the protocol allows. Each cap is derived from the protocol's own bounds (tile width, hash size,
// leaf size, proof length, page limit), never from a measured size.
import { LEAF_BYTES_MAX } from '../entry/limits.js';
import { MAX_ENTRY_BYTES } from '../merkle/entry-bundle.js';
import { HASH_BYTES } from '../merkle/hash.js';
import { TILE_WIDTH } from '../merkle/tiles.js';
import { MAX_PROOF_HASHES } from '../merkle/verify.js';
import { HISTORY_STEP_BYTES_MAX } from '../search/history-budget.js';
import { WIRE_PROOF_HASHES_MAX, WIRE_RESULTS_MAX } from '../search/wire.js';
import { SUBMIT_ARRAY_MAX } from './types.js';

/** Characters of the base64 text of `n` bytes (padded). */
const base64Chars = (n: number): number => 4 * Math.ceil(n / 3);
/** A JSON array of `n` base64 hashes: quotes and a comma each, plus the brackets. */
const hashListJson = (n: number): number => n * (base64Chars(HASH_BYTES) + 3) + 2;
/** Field names, numbers, status words and punctuation of one JSON object, generously. */
const JSON_FIELDS_BYTES = 1024;

/**
 * A signed checkpoint note: origin, size and root lines plus one signature line per organization
 * (a name and a base64 key hash and signature, ~160 bytes); 64 KiB holds hundreds of signers.
 */
export const CHECKPOINT_MAX_BYTES = 64 * 1024;
/** The same note inside a JSON string: a newline becomes two characters. */
const CHECKPOINT_JSON_MAX_BYTES = 2 * CHECKPOINT_MAX_BYTES + 2;

/** GET /tile/<L>/<N>[.p/<W>]: exactly W (256 for a full tile) hashes. */
export function tileMaxBytes(width: number = TILE_WIDTH): number {
  return width * HASH_BYTES;
}

/** GET /tile/entries/<N>[.p/<W>]: W entries, each a uint16 length then at most MAX_ENTRY_BYTES (after any gzip is undone). */
export function entryBundleMaxBytes(width: number = TILE_WIDTH): number {
  return width * (2 + MAX_ENTRY_BYTES);
}

/** GET /v1/proofs/consistency: from, to and at most MAX_PROOF_HASHES hashes. */
export const CONSISTENCY_MAX_BYTES = JSON_FIELDS_BYTES + hashListJson(MAX_PROOF_HASHES);

/**
 * GET /v1/entries/…: the entry (its JCS, at most LEAF_BYTES_MAX, as JSON), the leaf again in
 * base64, an inclusion proof and the final checkpoint as a JSON string.
 */
export const ENTRY_RESPONSE_MAX_BYTES = JSON_FIELDS_BYTES + LEAF_BYTES_MAX + base64Chars(LEAF_BYTES_MAX) + hashListJson(MAX_PROOF_HASHES) + CHECKPOINT_JSON_MAX_BYTES;

/** The same route's tlog-proof receipt (text): header lines, one base64 line per proof hash, the checkpoint. */
export const RECEIPT_MAX_BYTES = JSON_FIELDS_BYTES + MAX_PROOF_HASHES * (base64Chars(HASH_BYTES) + 1) + CHECKPOINT_MAX_BYTES;

/** POST /v1/entries: one result per entry sent (a leaf hash and status, or an error code, message and field). */
export const SUBMIT_RESULT_MAX_BYTES = 2048;
export const SUBMIT_RESPONSE_MAX_BYTES = JSON_FIELDS_BYTES + SUBMIT_ARRAY_MAX * SUBMIT_RESULT_MAX_BYTES;

/** One search result: index, the leaf in base64 and its inclusion proof. */
const SEARCH_RESULT_MAX_BYTES = 64 + base64Chars(LEAF_BYTES_MAX) + hashListJson(WIRE_PROOF_HASHES_MAX);
/** Checkpoint, filter, cursor, coverage and plan of a page. */
const PAGE_FIELDS_BYTES = CHECKPOINT_JSON_MAX_BYTES + 16 * 1024;

/**
 * GET /v1/search (or …/history when `history`): at most `limit` results (WIRE_RESULTS_MAX when
 * the caller leaves the limit to the peer, whose default is smaller); a history result adds its
 * step, whose changes the peer cuts to HISTORY_STEP_BYTES_MAX bytes (src/search/history-budget.ts).
 */
export function searchPageMaxBytes(limit: number | undefined, history: boolean): number {
  const n = limit === undefined ? WIRE_RESULTS_MAX : Math.min(Math.max(1, Math.floor(limit)), WIRE_RESULTS_MAX);
  return PAGE_FIELDS_BYTES + n * (SEARCH_RESULT_MAX_BYTES + (history ? HISTORY_STEP_BYTES_MAX : 0));
}

/** Everything else (status, health, whoami, token): small JSON objects; 1 MiB is ample. */
export const SMALL_JSON_MAX_BYTES = 1024 * 1024;

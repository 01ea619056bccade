// Verifying a search answer with nothing but the trust file (portable: browsers and the CLI).
//
// verifySearchAnswer checks, for one page: the pinned checkpoint carries a quorum of trusted
// organization signatures; every result's index lies below the checkpoint's size and inside the
// page's covered range; results are strictly in the stated order; each entry's RFC 9162 inclusion
// proof leads to the checkpoint's root; each entry is a valid, canonical signed entry whose client
// signature verifies; each entry matches the stated structured filter. It does NOT show that the
// peer left nothing out — that is verifyComplete's job — and it cannot check a scope or
// filter-language predicate it does not know.
//
// verifyComplete re-runs the filter over every entry of the covered range, fetched through a
// callback with inclusion proofs for the same checkpoint, and reports the matching entries the
// answer left out. Within that range this is a complete check for the structured filter; an entry
// left out because of the caller's scope or an extra predicate is reported too (the verifier
// cannot tell the peer's reason), so pass `alsoMatches` to re-apply what the caller knows.
import { bytesEqual } from '../encoding/bytes.js';
import { nobleVerifier } from '../crypto/noble.js';
import type { Ed25519Verifier } from '../crypto/types.js';
import { parseLeaf } from '../entry/leaf.js';
import { verifyEntrySignature } from '../entry/sign.js';
import type { AuditEntry } from '../entry/types.js';
import { leafHash } from '../merkle/hash.js';
import { verifyInclusionResult } from '../merkle/verify.js';
import { verifyCheckpoint, type TrustRoot, type VerifiedTreeHead } from '../verifier/index.js';
import { fieldsOf, matchesFilter, type SearchFilter } from './fields.js';

export interface AnswerResult {
  index: number;
  entry: Uint8Array;
  proof: readonly Uint8Array[];
}

/** One page of a search answer, as the peer sent it (bytes already decoded from the wire). */
export interface SearchAnswer {
  checkpoint: Uint8Array | string;
  order: 'oldest' | 'newest';
  filter: SearchFilter;
  results: readonly AnswerResult[];
  covered?: { from: number; to: number };
}

export type SearchVerifyCode =
  | 'checkpoint_invalid'
  | 'index_out_of_range'
  | 'outside_covered'
  | 'order_violation'
  | 'proof_invalid'
  | 'entry_invalid'
  | 'signature_invalid'
  | 'filter_mismatch'
  | 'covered_invalid'
  | 'range_incomplete'
  | 'entry_omitted';

export interface SearchVerifyFailure {
  code: SearchVerifyCode;
  /** The log index concerned, when one is. */
  index?: number;
  message: string;
}

export type SearchVerifyResult =
  | { ok: true; treeHead: VerifiedTreeHead; entries: AuditEntry[] }
  | { ok: false; treeHead?: VerifiedTreeHead; failures: SearchVerifyFailure[] };

export interface SearchVerifyOptions {
  verifier?: Ed25519Verifier;
  /** Most failures reported (default 100); checking goes on, only the list is capped. */
  maxFailures?: number;
}

/** Checks one entry bundle element: proof against the root, canonical entry, client signature. */
function checkEntry(r: AnswerResult, head: VerifiedTreeHead, verifier: Ed25519Verifier, push: (f: SearchVerifyFailure) => void): AuditEntry | null {
  if (!Number.isSafeInteger(r.index) || r.index < 0 || r.index >= head.size) {
    push({ code: 'index_out_of_range', index: r.index, message: `index ${r.index} is not below the pinned tree size ${head.size}` });
    return null;
  }
  if (!(r.entry instanceof Uint8Array)) {
    push({ code: 'entry_invalid', index: r.index, message: 'entry bytes missing' });
    return null;
  }
  const inc = verifyInclusionResult(leafHash(r.entry), r.index, head.size, r.proof, head.root);
  if (!inc.ok) {
    push({ code: 'proof_invalid', index: r.index, message: `inclusion proof for index ${r.index} does not lead to the pinned checkpoint's root: ${inc.message}` });
    return null;
  }
  const parsed = parseLeaf(r.entry);
  if (!parsed.ok) {
    push({ code: 'entry_invalid', index: r.index, message: `entry ${r.index} is not a valid signed entry: ${parsed.errors[0]?.message ?? 'invalid'}` });
    return null;
  }
  if (!verifyEntrySignature(parsed.entry, verifier)) {
    push({ code: 'signature_invalid', index: r.index, message: `entry ${r.index}: the client signature does not verify` });
    return null;
  }
  return parsed.entry;
}

export function verifySearchAnswer(trust: TrustRoot, answer: SearchAnswer, opts: SearchVerifyOptions = {}): SearchVerifyResult {
  const verifier = opts.verifier ?? nobleVerifier;
  const max = opts.maxFailures ?? 100;
  const failures: SearchVerifyFailure[] = [];
  const push = (f: SearchVerifyFailure): void => {
    if (failures.length < max) failures.push(f);
  };
  const cp = verifyCheckpoint(trust, answer.checkpoint, { verifier });
  if (!cp.ok) return { ok: false, failures: [{ code: 'checkpoint_invalid', message: `pinned checkpoint: ${cp.message} (${cp.code})` }] };
  const head: VerifiedTreeHead = cp;
  const asc = answer.order === 'oldest';
  const cov = answer.covered;
  if (cov !== undefined && !(Number.isSafeInteger(cov.from) && Number.isSafeInteger(cov.to) && 0 <= cov.from && cov.from <= cov.to && cov.to <= head.size)) {
    push({ code: 'covered_invalid', message: `covered range [${cov.from}, ${cov.to}) is not within [0, ${head.size}]` });
  }
  const entries: AuditEntry[] = [];
  let prev: number | undefined;
  for (const r of answer.results) {
    if (prev !== undefined && (asc ? r.index <= prev : r.index >= prev)) {
      push({ code: 'order_violation', index: r.index, message: `index ${r.index} follows ${prev}: not strictly ${asc ? 'ascending' : 'descending'} (${answer.order} first)` });
    }
    prev = r.index;
    if (cov !== undefined && (r.index < cov.from || r.index >= cov.to)) {
      push({ code: 'outside_covered', index: r.index, message: `index ${r.index} is outside the covered range [${cov.from}, ${cov.to})` });
    }
    const e = checkEntry(r, head, verifier, push);
    if (e === null) continue;
    if (!matchesFilter(fieldsOf(e), answer.filter)) {
      push({ code: 'filter_mismatch', index: r.index, message: `entry ${r.index} does not match the stated filter` });
      continue;
    }
    entries.push(e);
  }
  return failures.length === 0 ? { ok: true, treeHead: head, entries } : { ok: false, treeHead: head, failures };
}

/** Most log positions one verifyComplete call examines. */
export const VERIFY_COMPLETE_RANGE_MAX = 1_000_000;

export interface CompleteOptions extends SearchVerifyOptions {
  /**
   * Fetches entries [from, to) with inclusion proofs for the SAME checkpoint (e.g. read from the
   * entry bundles and hash tiles, or the peer's entries API). Called with ranges of at most 256.
   */
  fetch: (from: number, to: number) => Promise<readonly AnswerResult[]>;
  /** What else an entry must satisfy to be expected in the answer (the caller's scope or extra filter). */
  alsoMatches?: (e: AuditEntry) => boolean;
}

/**
 * Checks that the answer (one or more pages pinned to one checkpoint) holds every entry of the
 * covered ranges that matches the filter. Every fetched entry must be proven in the same checkpoint.
 */
export async function verifyComplete(
  trust: TrustRoot,
  pages: readonly SearchAnswer[],
  opts: CompleteOptions,
): Promise<{ ok: true; checked: number } | { ok: false; failures: SearchVerifyFailure[] }> {
  const verifier = opts.verifier ?? nobleVerifier;
  const max = opts.maxFailures ?? 100;
  const failures: SearchVerifyFailure[] = [];
  const push = (f: SearchVerifyFailure): void => {
    if (failures.length < max) failures.push(f);
  };
  if (pages.length === 0) return { ok: true, checked: 0 };
  const first = verifySearchAnswer(trust, pages[0]!, opts);
  if (first.treeHead === undefined) return { ok: false, failures: first.ok ? [] : first.failures };
  const head = first.treeHead;
  const have = new Set<number>();
  const ranges: { from: number; to: number }[] = [];
  for (const p of pages) {
    const v = verifySearchAnswer(trust, p, opts);
    if (!v.ok) for (const f of v.failures) push(f);
    if (v.treeHead !== undefined && (v.treeHead.size !== head.size || !bytesEqual(v.treeHead.root, head.root))) {
      push({ code: 'checkpoint_invalid', message: 'pages are pinned to different checkpoints' });
    }
    if (p.covered === undefined) push({ code: 'covered_invalid', message: 'a page states no covered range: nothing about omissions can be checked' });
    else ranges.push(p.covered);
    for (const r of p.results) have.add(r.index);
  }
  let checked = 0;
  for (const c of ranges) {
    if (c.to - c.from > VERIFY_COMPLETE_RANGE_MAX - checked) {
      push({ code: 'range_incomplete', message: `covered ranges exceed VERIFY_COMPLETE_RANGE_MAX = ${VERIFY_COMPLETE_RANGE_MAX} positions` });
      break;
    }
    for (let a = c.from; a < Math.min(c.to, head.size); a += 256) {
      const b = Math.min(a + 256, c.to, head.size);
      const got = await opts.fetch(a, b);
      const byIndex = new Map<number, AnswerResult>();
      for (const r of got) byIndex.set(r.index, r);
      for (let i = a; i < b; i++) {
        const r = byIndex.get(i);
        if (r === undefined) {
          push({ code: 'range_incomplete', index: i, message: `entry ${i} of the covered range was not fetched` });
          continue;
        }
        const e = checkEntry(r, head, verifier, push);
        checked++;
        if (e === null) continue;
        if (!matchesFilter(fieldsOf(e), pages[0]!.filter)) continue;
        if (opts.alsoMatches !== undefined && !opts.alsoMatches(e)) continue;
        if (!have.has(i)) push({ code: 'entry_omitted', index: i, message: `entry ${i} matches the filter and lies in the covered range, but the answer left it out` });
      }
    }
  }
  return failures.length === 0 ? { ok: true, checked } : { ok: false, failures };
}

// Search and resource history for the client SDK: async iteration over the pages of
// GET /v1/search and GET /v1/resources/{type}/{id}/history, each page verified against the trust
// file before it is handed out (when a trust root is given) — the peer is not trusted for results.
// Verification uses the filter the CALLER asked for, never the one the peer states.
import type { Ed25519Verifier } from '../crypto/types.js';
import type { AuditEntry } from '../entry/types.js';
import type { TrustRoot } from '../verifier/trust.js';
import { normalizeActionPrefix, type SearchFilter } from '../search/fields.js';
import { verifySearchAnswer } from '../search/verify.js';
import { decodePage, filterToParams, type DecodedPage } from '../search/wire.js';
import { CairnApiError } from './errors.js';

export interface SearchIterOptions {
  order?: 'oldest' | 'newest';
  /** Results per page, 1..1000 (the peer's default is 100). */
  limit?: number;
  /** Verify every page against this trust root before yielding it (recommended). */
  trust?: TrustRoot;
  verifier?: Ed25519Verifier;
  /** Stop after this many pages (default unbounded: the iteration ends at the last page). */
  maxPages?: number;
  /**
   * Search only: the first page waits (long-poll, at most `waitMs`, default 10 s) until the peer
   * has a final checkpoint larger than this tree size; used to follow new matches.
   */
  newer?: number;
  waitMs?: number;
}

export interface SearchPageResult extends DecodedPage {
  /** True when the page was verified against the trust root (checkpoint quorum, proofs, signatures, filter, order). */
  verified: boolean;
  /** The entries of the results, parsed (and verified when `verified`). */
  entries: AuditEntry[];
}

/** The caller's filter in the normalized form the peer states (for verification). */
function normalized(f: SearchFilter): SearchFilter {
  const out = { ...f };
  if (out.actionPrefix !== undefined) {
    const p = normalizeActionPrefix(out.actionPrefix);
    if (p === null) throw new CairnApiError('bad_request', 'actionPrefix must name at least one segment');
    out.actionPrefix = p;
  }
  return out;
}

export async function* searchPages(
  getJson: (path: string) => Promise<unknown>,
  basePath: string,
  filter: SearchFilter,
  sendFilter: boolean,
  opts: SearchIterOptions,
): AsyncGenerator<SearchPageResult> {
  const want = normalized(filter);
  let cursor: string | undefined;
  let pinned: string | undefined;
  for (let n = 0; opts.maxPages === undefined || n < opts.maxPages; n++) {
    const q = new URLSearchParams();
    if (cursor !== undefined) q.set('cursor', cursor);
    if (sendFilter) for (const [k, v] of Object.entries(filterToParams(want))) q.set(k, v);
    if (opts.order !== undefined) q.set('order', opts.order);
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (n === 0 && sendFilter && opts.newer !== undefined) {
      q.set('newer', String(opts.newer));
      if (opts.waitMs !== undefined) q.set('timeout', `${Math.max(0, Math.floor(opts.waitMs))}ms`);
    }
    const qs = q.toString();
    const decoded = decodePage(await getJson(qs === '' ? basePath : `${basePath}?${qs}`));
    if (!decoded.ok) throw new CairnApiError('bad_response', decoded.message);
    const page = decoded.page;
    if (pinned !== undefined && page.checkpoint !== pinned) throw new CairnApiError('verification_failed', 'a later page is pinned to another checkpoint than the first');
    pinned = page.checkpoint;
    let entries: AuditEntry[];
    let verified = false;
    if (opts.trust !== undefined) {
      const v = verifySearchAnswer(opts.trust, { ...page, filter: want }, opts.verifier !== undefined ? { verifier: opts.verifier } : {});
      if (!v.ok) {
        const f = v.failures[0]!;
        throw new CairnApiError('verification_failed', `${f.code}${f.index !== undefined ? ` at index ${f.index}` : ''}: ${f.message}`);
      }
      entries = v.entries;
      verified = true;
    } else {
      entries = page.results.map((r) => JSON.parse(new TextDecoder().decode(r.entry)) as AuditEntry);
    }
    yield { ...page, verified, entries };
    if (page.next === undefined) return;
    cursor = page.next;
  }
}

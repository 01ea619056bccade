// `--follow` for `cairn search` and `cairn history`: after the matches that exist, keep printing
// new matching entries as they become final. Each round long-polls GET /v1/search with
// `newer=<tree size seen>` (the peer answers once a larger final checkpoint exists, or after the
// wait), then pages newest first until the pages cover everything down to the size already seen,
// so each new match is printed once, oldest first, verified like any other result. Bounded in
// time by --follow-for; SIGINT ends it cleanly (the pending request is aborted, the summary printed).
import type { CairnClient } from '../../src/client/client.js';
import type { SearchPageResult } from '../../src/client/search.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import type { AuditEntry } from '../../src/entry/types.js';
import type { SearchFilter } from '../../src/search/fields.js';
import type { TrustRoot } from '../../src/verifier/trust.js';
import { usageError } from './io.js';

/** Longest --follow-for (7 days). */
export const FOLLOW_FOR_MS_MAX = 7 * 24 * 3600 * 1000;
/** --follow-for when not given. */
export const FOLLOW_FOR_MS_DEFAULT = 3600 * 1000;
/** One long-poll round waits at most this long (below the client's request timeout). */
const FOLLOW_WAIT_MS = 10_000;
/** Pause after a round that answered early with nothing new. */
const FOLLOW_IDLE_PAUSE_MS = 500;

/** `30s`, `5m`, `2h`, `1d` or milliseconds → milliseconds (usage error when malformed or too long). */
export function parseFollowFor(v: string | undefined): number {
  if (v === undefined) return FOLLOW_FOR_MS_DEFAULT;
  const m = /^([1-9][0-9]{0,9})(ms|s|m|h|d)?$/.exec(v);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m?.[2] ?? 'ms']!;
  const ms = m === null ? NaN : Number(m[1]) * unit;
  if (!Number.isSafeInteger(ms) || ms > FOLLOW_FOR_MS_MAX) throw usageError(`--follow-for must be a duration like 30s, 5m or 2h, at most ${FOLLOW_FOR_MS_MAX / 86_400_000} days`);
  return ms;
}

/**
 * A fetch whose requests are also aborted by `signal` (so SIGINT does not wait for a long-poll).
 * The request's own signal (the SDK's timeout) is joined through listeners, not
 * `AbortSignal.any`: in Node 20 that holds a timeout signal only weakly, and after a garbage
 * collection the timeout would never fire. A listener keeps a pending timeout signal alive.
 * The listener on `signal` is removed once the answer's headers are in, so a long follow does not
 * pile up one listener per poll.
 */
export function abortableFetch(signal: AbortSignal): typeof fetch {
  return async (input, init) => {
    const own = init?.signal;
    if (own === undefined || own === null) return fetch(input, { ...init, signal });
    const joined = new AbortController();
    const onOwn = (): void => joined.abort(own.reason);
    const onStop = (): void => joined.abort(signal.reason);
    if (own.aborted) onOwn();
    else own.addEventListener('abort', onOwn, { once: true });
    if (signal.aborted) onStop();
    else signal.addEventListener('abort', onStop, { once: true });
    try {
      return await fetch(input, { ...init, signal: joined.signal });
    } finally {
      signal.removeEventListener('abort', onStop);
    }
  };
}

/** Aborted on SIGINT (or SIGTERM) until `dispose` is called. */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const on = (): void => ac.abort();
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

export interface FollowOptions {
  client: CairnClient;
  filter: SearchFilter;
  trust: TrustRoot;
  /** Tree size already shown: only entries at or above it are new. */
  since: number;
  forMs: number;
  signal: AbortSignal;
  /** Called with each round's new verified matches, oldest first. */
  print: (found: { index: number; entry: AuditEntry }[], treeSize: number) => void;
}

/** Follows until --follow-for passes or the signal fires; returns how many new matches were printed. */
export async function follow(o: FollowOptions): Promise<number> {
  const until = Date.now() + o.forMs;
  let since = o.since;
  let printed = 0;
  while (!o.signal.aborted && Date.now() < until) {
    const waitMs = Math.max(1, Math.min(FOLLOW_WAIT_MS, until - Date.now()));
    const found: { index: number; entry: AuditEntry }[] = [];
    let size = since;
    const started = Date.now();
    try {
      const pages: AsyncGenerator<SearchPageResult> = o.client.search(o.filter, { trust: o.trust, verifier: nodeVerifier, order: 'newest', limit: 1000, newer: since, waitMs });
      for await (const p of pages) {
        size = p.treeSize;
        if (size <= since) break; // the wait ended without a new final checkpoint
        p.results.forEach((r, i) => {
          if (r.index >= since) found.push({ index: r.index, entry: p.entries[i]! });
        });
        // Newest first: once the covered ranges reach `since`, every new match has been seen.
        if (p.covered.from <= since || p.results.some((r) => r.index < since)) break;
      }
    } catch (e) {
      if (o.signal.aborted) break;
      throw e;
    }
    if (size > since) {
      found.sort((a, b) => a.index - b.index);
      if (found.length > 0) o.print(found, size);
      printed += found.length;
      since = size;
    } else if (Date.now() - started < FOLLOW_IDLE_PAUSE_MS) {
      // Nothing new yet an early answer (a peer without long-polls): pause instead of spinning.
      await new Promise<void>((r) => {
        const t = setTimeout(r, FOLLOW_IDLE_PAUSE_MS);
        o.signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
      });
    }
  }
  return printed;
}

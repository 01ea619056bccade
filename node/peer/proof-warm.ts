// The search proof cache of a peer's store (node/search/proofs.ts): its bounds, and its warm-up.
// A started peer's cache is empty, and the first search touching each tile pays ~254 hashes for it;
// so the peer fills it in the background shortly after start, newest tiles first, yielding between
// batches (a 1,000,000-entry log costs ~3 s of CPU spread over the batches), within the cache's byte
// bound. The warm-up belongs to the peer, not to an HTTP server: it is started once per peer start,
// and stop() aborts it between two batches and waits for the batch in flight, so it never reads a
// store that is closing.
import { configureProofCache, proofCacheFor, warmProofCache } from '../search/proofs.js';
import type { TileCacheLimits } from '../search/tile-cache.js';
import type { Store } from '../storage/store.js';

/**
 * A peer's default bound: 1,024 full level-0 tiles (16 KiB each), the newest ~260,000 entries.
 * Fixed whatever the log size, so a peer's memory does not grow with its log (a search far back
 * pays ~254 hashes per tile it touches outside the cache; config proofCacheMiB raises it).
 */
export const PEER_PROOF_CACHE_BYTES = 16 * 1024 * 1024;

/** Delay before the warm-up: after start-up work (catch-up, consensus) has begun. */
export const PROOF_CACHE_WARM_DELAY_MS = 5_000;

export interface ProofCacheOptions extends TileCacheLimits {
  /** Delay before the warm-up starts (default PROOF_CACHE_WARM_DELAY_MS); -1 = no warm-up. */
  warmDelayMs?: number;
}

export interface ProofWarm {
  /** Aborts the warm-up (before its next batch) and resolves once it has stopped reading. */
  stop(): Promise<void>;
}

type Log = (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;

/**
 * Sets the proof cache bounds of `store` (PEER_PROOF_CACHE_BYTES unless given) and schedules its warm-up over the log that is
 * final `warmDelayMs` later.
 */
export function startProofCacheWarm(store: Store, finalSize: () => number, opts: ProofCacheOptions, log: Log): ProofWarm {
  configureProofCache(store, { maxBytes: opts.maxBytes ?? PEER_PROOF_CACHE_BYTES, ...(opts.maxEntries !== undefined ? { maxEntries: opts.maxEntries } : {}) });
  const ac = new AbortController();
  let running: Promise<void> = Promise.resolve();
  const delay = opts.warmDelayMs ?? PROOF_CACHE_WARM_DELAY_MS;
  const timer =
    delay < 0
      ? null
      : setTimeout(() => {
          const size = finalSize();
          if (size === 0 || ac.signal.aborted) return;
          const t0 = performance.now();
          running = warmProofCache(store, size, proofCacheFor(store), ac.signal).then(
            (tiles) => log('debug', 'proof cache warmed', { tiles, size, ms: Math.round(performance.now() - t0), aborted: ac.signal.aborted }),
            (e: Error) => log(ac.signal.aborted ? 'debug' : 'warn', 'proof cache warm-up failed', { error: e.message }),
          );
        }, delay);
  timer?.unref();
  return {
    async stop() {
      if (timer !== null) clearTimeout(timer);
      ac.abort();
      await running;
    },
  };
}

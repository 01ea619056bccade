// How much heap V8 reserves for a peer beyond what it uses.
//
// Old generation. After each full (mark-compact) collection V8 sets the next one's trigger at the
// live heap times a growing factor it picks itself: up to 4× when the program allocates fast and
// collecting is cheap. A loaded peer allocates ~100 KB per entry, nearly all short-lived (parsed
// gossip, network buffers, storage batches), so V8 picked large factors and the reserved heap (and
// the RSS with it) climbed far above the live set. A fixed factor keeps the reserve near the live
// set; the full collections it adds run V8's concurrent marking, mostly on a helper thread. V8
// reads the factor at every full collection, so the peer sets it itself at start.
//
// Young generation. Its two semi-spaces (16 MiB each by default) are sized when the process
// starts, so only node's command line or NODE_OPTIONS can shrink them: the devnet and the bench
// start peers with PEER_NODE_OPTIONS added, and operators are advised to (docs/peer.md, Memory).
//
// Measured with 4 peers on 2 cores at 900 entries/s: peak RSS per peer 214–281 MiB with V8's own
// choices, 199–208 with the fixed factor, 176–190 with both; CPU per finalized entry unchanged.
import { setFlagsFromString } from 'node:v8';

/** The default: the old generation may grow to 1.5× its live size before the next full collection. */
export const HEAP_GROWING_PERCENT_DEFAULT = 50;
/** Largest configurable value (4×: the ceiling of V8's own factor). */
export const HEAP_GROWING_PERCENT_MAX = 300;
/** What the devnet and the bench add to a peer's NODE_OPTIONS: 4 MiB semi-spaces. */
export const PEER_NODE_OPTIONS = '--max-semi-space-size=4';

const GROWING = '--heap-growing-percent';
const SEMI_SPACE = '--max-semi-space-size';

export interface HeapGrowth {
  /** The percent in effect, or null: V8's own dynamic factor. */
  percent: number | null;
  /** Where it came from: node's command line wins over the config. */
  source: 'config' | 'default' | 'node command line';
}

/** The value of `--flag=value` among node options, or undefined. */
function flagValue(options: readonly string[], flag: string): string | undefined {
  let found: string | undefined;
  for (const a of options) if (a.startsWith(`${flag}=`)) found = a.slice(flag.length + 1);
  return found;
}

/**
 * Sets V8's heap growing factor to 1 + percent/100 (0: V8 chooses, as in any node program). A
 * `--heap-growing-percent` on node's own command line (`execArgv`) is the operator's explicit
 * choice and is left as it is.
 */
export function applyHeapGrowth(configured: number | undefined, execArgv: readonly string[] = process.execArgv): HeapGrowth {
  const own = flagValue(execArgv, GROWING);
  if (own !== undefined) {
    const v = Number(own);
    return { percent: Number.isSafeInteger(v) && v > 0 ? v : null, source: 'node command line' };
  }
  const percent = configured ?? HEAP_GROWING_PERCENT_DEFAULT;
  setFlagsFromString(`${GROWING}=${percent}`);
  return { percent: percent > 0 ? percent : null, source: configured === undefined ? 'default' : 'config' };
}

/** The semi-space size this process was started with, in MiB (null: node's default), for the start log. */
export function semiSpaceMiB(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env.NODE_OPTIONS): number | null {
  // Command-line options come after NODE_OPTIONS, and the last occurrence wins.
  const v = flagValue([...(nodeOptions ?? '').split(/\s+/), ...execArgv], SEMI_SPACE);
  return v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : null;
}

/** NODE_OPTIONS for a peer started by the devnet or the bench: `current` plus PEER_NODE_OPTIONS unless it sets the semi-space itself. */
export function peerNodeOptions(current: string | undefined): string {
  const now = (current ?? '').trim();
  if (now.split(/\s+/).some((a) => a === SEMI_SPACE || a.startsWith(`${SEMI_SPACE}=`))) return now;
  return now === '' ? PEER_NODE_OPTIONS : `${now} ${PEER_NODE_OPTIONS}`;
}

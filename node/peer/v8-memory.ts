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
// Measured with 4 peers on 2 cores at 900 entries/s, alternating with V8's own choices: peak RSS
// per peer 179–199 MiB against 208–237, for 1.5 % more CPU per finalized entry (docs/peer.md, Memory).
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

/**
 * The value of `flag` among node options (the last one given), or undefined. V8 takes
 * `--flag=value` and `--flag value`, with dashes or underscores in the name.
 */
function flagValue(options: readonly string[], flag: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < options.length; i++) {
    const [name, value] = splitOption(options[i]!);
    if (name !== flag) continue;
    found = value ?? options[i + 1];
  }
  return found;
}

function splitOption(a: string): [string, string | undefined] {
  const eq = a.indexOf('=');
  const name = (eq < 0 ? a : a.slice(0, eq)).replace(/_/g, '-');
  return [name, eq < 0 ? undefined : a.slice(eq + 1)];
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
  if (now.split(/\s+/).some((a) => splitOption(a)[0] === SEMI_SPACE)) return now;
  return now === '' ? PEER_NODE_OPTIONS : `${now} ${PEER_NODE_OPTIONS}`;
}

/**
 * What a launcher (the devnet, the bench) adds to a peer's environment for memory, each unless
 * `env` already sets it: MALLOC_ARENA_MAX=2 (glibc's per-thread arenas cost ~90 MiB of RSS per
 * loaded peer) and PEER_NODE_OPTIONS. glibc and node read both at process start, so the peer
 * cannot set them itself.
 */
export function peerMemoryEnv(env: Record<string, string | undefined>): { MALLOC_ARENA_MAX: string; NODE_OPTIONS: string } {
  return { MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? '2', NODE_OPTIONS: peerNodeOptions(env.NODE_OPTIONS) };
}

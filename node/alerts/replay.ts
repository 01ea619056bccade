// Final entries from their stored or served bytes to the rule engine, shared by the peer's
// evaluator (leaves read from its store), `cairn alerts replay` (entry bundles fetched from a
// peer) and the replay benchmark, so that all three run the same code. Leaf hashes are computed
// with Node's native SHA-256 (fastLeafHash: the same bytes as the portable leafHash).
import type { AlertEngine } from '../../src/alerts/engine.js';
import type { FinalEntry } from '../../src/alerts/types.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { fromUtf8 } from '../../src/encoding/bytes.js';
import { fastLeafHash } from '../peer/entries.js';

/** Leaf `index` decoded for the engine; throws (SyntaxError, TypeError) when it is not UTF-8 JSON. */
export function finalEntryOf(index: number, leaf: Uint8Array): FinalEntry {
  return { index, leafHash: fastLeafHash(leaf), entry: JSON.parse(fromUtf8(leaf)) as AuditEntry };
}

/** A leaf of the replayed range that is not an entry (not UTF-8 JSON). */
export class ReplayEntryError extends Error {
  constructor(readonly index: number) {
    super(`entry ${index} is not JSON`);
  }
}

/**
 * Evaluates the entries [from, to) of one entry bundle whose first leaf has index `first`, in
 * order, and returns the alerts as JSON lines (what `cairn alerts replay` prints).
 */
export function replayLeaves(engine: AlertEngine, leaves: readonly Uint8Array[], first: number, from: number, to: number): string[] {
  const lines: string[] = [];
  for (let i = Math.max(from, first); i < Math.min(to, first + leaves.length); i++) {
    let fe: FinalEntry;
    try {
      fe = finalEntryOf(i, leaves[i - first]!);
    } catch {
      throw new ReplayEntryError(i);
    }
    for (const a of engine.evaluate(fe)) lines.push(JSON.stringify(a));
  }
  return lines;
}

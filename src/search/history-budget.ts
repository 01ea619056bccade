// The byte budget of one history step (the change summary of one entry on a history page). A
// diff's path repeats every ancestor key for each changed value under it, so a small entry can
// summarize to megabytes (12 levels of 128-character keys above a 1,000-element array: ~1.5 MB
// from a 7 KB entry). The peer cuts each step's change list at HISTORY_STEP_BYTES_MAX bytes of JSON;
// the SDK bounds a history page by the same number per result (src/client/response-caps.ts).
import { LEAF_BYTES_MAX } from '../entry/limits.js';
import { utf8Length } from '../entry/jcs.js';
import type { HistoryStep } from './diff.js';

/** Most bytes of one step's JSON on the wire: twice the largest entry (its before and after). */
export const HISTORY_STEP_BYTES_MAX = 2 * LEAF_BYTES_MAX;

/** A step as a page carries it: `truncatedBy: 'bytes'` when the peer cut its changes to the budget. */
export interface BudgetedStep extends HistoryStep {
  truncatedBy?: 'bytes';
}

/** The step, or its longest prefix of changes whose step JSON fits `max` bytes (then truncated and marked). */
export function budgetStep(step: HistoryStep, max = HISTORY_STEP_BYTES_MAX): BudgetedStep {
  const changes = step.changes;
  if (changes === null) return step;
  // The step's own fields as they are written when cut (the longest form), then one change at a
  // time (a comma each): measuring stops at the first change that does not fit.
  let used = utf8Length(JSON.stringify({ changes: [], truncated: true, continuous: step.continuous, truncatedBy: 'bytes' }));
  for (let i = 0; i < changes.length; i++) {
    used += utf8Length(JSON.stringify(changes[i])) + (i > 0 ? 1 : 0);
    if (used > max) return { changes: changes.slice(0, i), truncated: true, continuous: step.continuous, truncatedBy: 'bytes' };
  }
  return step;
}

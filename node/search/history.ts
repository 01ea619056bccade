// Resource history: every entry that touched (resource.type, resource.id), in log order, as a
// search pinned to a final checkpoint (so each entry is verifiable), plus what changed per entry
// when the entries follow the data.before / data.after convention (src/search/diff.ts).
import { fieldsOf, parseLeafJson } from '../../src/search/fields.js';
import { historySteps } from '../../src/search/diff.js';
import { budgetStep, type BudgetedStep } from '../../src/search/history-budget.js';
import type { AuditEntry } from '../../src/entry/types.js';
import { parsedResults, type SearchEngine, type SearchOptions, type SearchPage } from './query.js';
import { SearchError } from './errors.js';

export interface HistoryPage extends SearchPage {
  /**
   * Parallel to results. Continuity across pages is checked by the client (it has the previous
   * page). Each step's changes are cut to HISTORY_STEP_BYTES_MAX bytes (marked truncatedBy: 'bytes').
   */
  steps: BudgetedStep[];
}

export async function resourceHistory(
  engine: SearchEngine,
  type: string,
  id: string,
  opts: Omit<SearchOptions, 'order'> = {},
): Promise<HistoryPage> {
  if (typeof type !== 'string' || typeof id !== 'string' || type.length === 0 || id.length === 0) {
    throw new SearchError('BAD_ARGUMENT', 'resource type and id must be non-empty strings');
  }
  const page = await engine.search({ resourceType: type, resourceId: id }, { ...opts, order: 'oldest' });
  // The engine parsed each result while filtering: reuse those objects (read only here).
  const entries = page.results.map((r) => parsedResults.get(r.entry) ?? (parseLeafJson(r.entry) as AuditEntry));
  // Paranoia: the engine re-checked the filter; a mismatch here would be an engine bug.
  for (const e of entries) {
    const f = fieldsOf(e);
    if (f?.resourceType !== type || f.resourceId !== id) throw new SearchError('INDEX_INCOMPLETE', 'history returned an entry of another resource');
  }
  return { ...page, steps: historySteps(entries).map((s) => budgetStep(s)) };
}

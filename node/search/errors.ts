// Errors of the search engine. Each code is stable (the HTTP layer maps them to statuses).
export type SearchErrorCode =
  /** A filter value or option is malformed or out of bounds (HTTP 400). */
  | 'BAD_ARGUMENT'
  /** The cursor is not one this peer issued (HTTP 400). */
  | 'CURSOR_MALFORMED'
  /** The cursor's authentication tag does not match: it was modified (HTTP 400). */
  | 'CURSOR_TAMPERED'
  /** The cursor belongs to another query, scope or direction (HTTP 400). */
  | 'CURSOR_MISMATCH'
  /** No final checkpoint yet, or the pinned one is gone (HTTP 503). */
  | 'NO_CHECKPOINT'
  /** The indexes do not cover the pinned tree size (indexing off, or a reindex is due) (HTTP 503). */
  | 'INDEX_INCOMPLETE';

export class SearchError extends Error {
  readonly code: SearchErrorCode;
  constructor(code: SearchErrorCode, message: string) {
    super(message);
    this.name = 'SearchError';
    this.code = code;
  }
}

export function isSearchError(e: unknown): e is SearchError {
  return e instanceof SearchError;
}

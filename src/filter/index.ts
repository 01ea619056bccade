// The filter language shared by read scopes, search queries, alert rules and export filters
// (portable: runs in Node and in browsers). See docs/access-control.md.
export {
  compileFilter,
  FULL_FILTER,
  FILTER_SOURCE_MAX,
  FILTER_NODES_MAX,
  FILTER_DEPTH_MAX,
  FILTER_COMPREHENSIONS_MAX,
  FILTER_CACHE_MAX,
  prepareEntry,
} from './compile.js';
export type { Filter, FilterError, FilterErrorCode, FilterPosition, CompileResult, PreparedEntry } from './compile.js';

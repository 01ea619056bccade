// The alert rule engine (portable, deterministic). Rules file format: docs/monitoring.md.
export { AlertEngine, alertId, ALERT_ID_DOMAIN, TEMPORAL_PENDING_MAX, type EngineStats, type EngineSnapshot } from './engine.js';
export { validateRules, RULES_MAX, COUNT_MAX, GROUP_BY_MAX, type RuleProblem, type RulesResult } from './rules.js';
export { parseDuration, WINDOW_MS_MAX } from './duration.js';
export { renderTitle, valueAt, scalarText } from './template.js';
export * from './types.js';

// Types of the alert rule engine (portable: no clock, no I/O). The rules file format and the
// semantics of every field: docs/monitoring.md.
import type { AuditEntry } from '../entry/types.js';
import type { Filter } from '../filter/index.js';

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Correlation types, after the Sigma correlation rules of the same names. */
export type Correlation =
  | { type: 'event_count'; groupBy: string[]; windowMs: number; count: number }
  | { type: 'value_count'; groupBy: string[]; windowMs: number; count: number; field: string }
  | { type: 'temporal'; groupBy: string[]; windowMs: number; then: Filter };

/** A validated rule, ready to evaluate. */
export interface Rule {
  id: string;
  version: number;
  title: string;
  severity: Severity;
  labels: Record<string, string>;
  destinations: string[];
  condition: Filter;
  correlation?: Correlation;
}

/** One final entry as the engine sees it: its log position, leaf hash and decoded entry. */
export interface FinalEntry {
  index: number;
  /** SHA-256 leaf hash (RFC 9162: over 0x00 ‖ leaf bytes), 32 bytes. */
  leafHash: Uint8Array;
  entry: AuditEntry;
}

/** An entry that contributed to an alert: enough to fetch and verify it against a checkpoint. */
export interface AlertEntryRef {
  index: number;
  /** Lowercase hex. */
  leafHash: string;
}

export interface Alert {
  /** Lowercase hex SHA-256 of the rule id, its version and the triggering leaf hashes. */
  id: string;
  ruleId: string;
  ruleVersion: number;
  severity: Severity;
  title: string;
  labels: Record<string, string>;
  destinations: string[];
  /** Entry time (RFC 3339) of the entry that completed the alert. */
  time: string;
  /** The values of the rule's groupBy fields (empty for a single-entry rule). */
  group: Record<string, string>;
  /** The triggering entries, in log order. */
  entries: AlertEntryRef[];
}

/** Bounds of the engine's state (per rule). */
export interface EngineLimits {
  /** Groups kept per correlation rule; past it the least recently matched group is dropped. */
  maxGroupsPerRule: number;
  /** Approximate bytes of state per correlation rule; past it the least recently matched group is dropped. */
  maxBytesPerRule: number;
}

export const DEFAULT_ENGINE_LIMITS: EngineLimits = {
  maxGroupsPerRule: 50_000,
  maxBytesPerRule: 16 * 1024 * 1024,
};

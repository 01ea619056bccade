// What every page gets once logged in: the API client (carrying the user's credential), the trust
// file the user pinned, and the operator's UI config.
import type { CairnClient } from '../../src/client/client.js';
import type { AuditEntry } from '../../src/entry/types.js';
import type { TrustRoot } from '../../src/verifier/trust.js';
import type { UiConfig } from './config.js';

export interface Session {
  client: CairnClient;
  trust: TrustRoot;
  config: UiConfig;
}

/** One verified search or history result. */
export interface Row {
  index: number;
  hash: string;
  entry: AuditEntry;
}

/** "3 min ago"-style age of a past instant (ms since epoch). */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

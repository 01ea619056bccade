// The most recent alerts a peer raised, kept in memory for GET /v1/alerts/recent (the explorer's
// alerts page). Bounded in count and, since one alert may name up to 10,000 entries, in the entry
// references kept per alert. Not durable: after a restart the list holds what was raised since
// (an alert re-raised after a crash has the same id and replaces nothing: it is listed once).
import type { Alert, AlertEntryRef } from '../../src/alerts/types.js';
import type { Peer } from '../peer/peer.js';

/** Alerts kept per peer, newest first. */
export const RECENT_ALERTS_MAX = 200;
/** Entry references kept per alert (the first ones, in log order); `entryCount` says how many it had. */
export const RECENT_ALERT_ENTRIES_MAX = 20;

export interface RecentAlert extends Omit<Alert, 'entries' | 'destinations'> {
  entries: AlertEntryRef[];
  entryCount: number;
}

export class RecentAlerts {
  private readonly list: RecentAlert[] = [];
  private readonly ids = new Set<string>();

  add(alerts: readonly Alert[]): void {
    for (const a of alerts) {
      if (this.ids.has(a.id)) continue;
      // Destinations are the operator's delivery plumbing, not the auditor's business.
      const { destinations: _d, entries, ...rest } = a;
      this.list.unshift({ ...rest, entries: entries.slice(0, RECENT_ALERT_ENTRIES_MAX), entryCount: entries.length });
      this.ids.add(a.id);
      while (this.list.length > RECENT_ALERTS_MAX) this.ids.delete(this.list.pop()!.id);
    }
  }

  /** The newest `limit` alerts, newest first. */
  recent(limit: number): RecentAlert[] {
    return this.list.slice(0, Math.max(0, limit));
  }
}

const byPeer = new WeakMap<Peer, RecentAlerts>();

/** Called by the alert feed with the alerts it made (node/alerts/peer-alerts.ts). */
export function recordRecentAlerts(peer: Peer, alerts: readonly Alert[]): void {
  if (alerts.length === 0) return;
  let r = byPeer.get(peer);
  if (r === undefined) byPeer.set(peer, (r = new RecentAlerts()));
  r.add(alerts);
}

/** The peer's recent alerts (empty when none were raised since start). */
export function recentAlertsOf(peer: Peer, limit: number): RecentAlert[] {
  return byPeer.get(peer)?.recent(limit) ?? [];
}

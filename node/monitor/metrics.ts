// Monitoring metrics of a peer, added to its /metrics registry (node/http/metrics.ts): quorum,
// lag behind the other peers, disk space of the data directory, and the alert evaluator and
// outbox (node/alerts/peer-alerts.ts). The Prometheus alerting rules (docs/deploy/prometheus) and the
// Grafana dashboard (docs/deploy/grafana) are written against these names; a test checks that every
// name they use is exported.
import { statfsSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Peer, PeerStatus } from '../peer/peer.js';
import { alertsOf, type PeerAlertsStats } from '../alerts/peer-alerts.js';

/** Counters read from a stats object at scrape time (reset + inc: prom-client has no "set" on counters). */
function counterFrom(registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export function registerMonitorMetrics(registry: Registry, peer: Peer, status: () => PeerStatus): void {
  const registers = [registry];
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  gauge('cairn_quorum_needed', 'Validators needed for a quorum (genesis)', () => status().quorum.needed);
  gauge('cairn_quorum_reachable', 'Validators reachable from this peer, itself included', () => status().quorum.reachable);
  gauge('cairn_quorum_ok', '1 when a quorum of validators is reachable, else 0', () => (status().quorum.ok ? 1 : 0));
  gauge('cairn_peer_height_max', 'Highest block height reported by any connected peer (this peer included)', () => {
    const s = status();
    return Math.max(s.height, ...s.peers.map((p) => p.height ?? 0));
  });
  gauge('cairn_evidence_records', 'Equivocation evidence records stored by this peer', () => status().evidence);
  // Disk space of the filesystem holding the store (statfs is a cheap syscall; scrapes are rare).
  const disk = (field: 'free' | 'size'): number => {
    try {
      const s = statfsSync(peer.internals.store.dir);
      return (field === 'free' ? s.bavail : s.blocks) * s.bsize;
    } catch {
      return 0;
    }
  };
  gauge('cairn_disk_free_bytes', 'Bytes available to the peer on the filesystem of its data directory', () => disk('free'));
  gauge('cairn_disk_size_bytes', 'Size of the filesystem of the data directory', () => disk('size'));

  const a = (): PeerAlertsStats | undefined => alertsOf(peer)?.stats();
  gauge('cairn_alerts_enabled', '1 when this peer evaluates alert rules', () => (a() ? 1 : 0));
  gauge('cairn_alerts_rules', 'Alert rules in force', () => a()?.rules ?? 0);
  gauge('cairn_alerts_next_index', 'Next final entry index the alert evaluator will evaluate', () => a()?.nextIndex ?? 0);
  gauge('cairn_alerts_lag_entries', 'Final entries not evaluated by the alert rules yet', () => {
    const s = a();
    return s ? Math.max(0, status().finalSize - s.nextIndex) : 0;
  });
  gauge('cairn_alerts_outbox_queued', 'Alert deliveries waiting in the durable outbox', () => a()?.outbox.queued ?? 0);
  counterFrom(registers, 'cairn_alerts_evaluated_total', 'Final entries evaluated by the alert rules since start', () => a()?.evaluated ?? 0);
  counterFrom(registers, 'cairn_alerts_raised_total', 'Alerts raised since start (handed to the outbox)', () => a()?.alerts ?? 0);
  counterFrom(registers, 'cairn_alerts_delivered_total', 'Alert deliveries acknowledged by their destination since start', () => a()?.outbox.delivered ?? 0);
  counterFrom(registers, 'cairn_alerts_delivery_failures_total', 'Failed alert delivery attempts since start (retried with backoff)', () => a()?.outbox.attemptsFailed ?? 0);
  counterFrom(registers, 'cairn_alerts_refused_total', 'Alert deliveries refused by a full outbox (evaluated again later)', () => a()?.outbox.refused ?? 0);
  counterFrom(registers, 'cairn_alerts_condition_errors_total', 'Rule conditions that erred on an entry (treated as no match)', () => a()?.conditionErrors ?? 0);
  counterFrom(registers, 'cairn_alerts_groups_dropped_total', 'Correlation groups dropped at the state bound (an alert may have been missed)', () => a()?.groupsDropped ?? 0);
  counterFrom(registers, 'cairn_alerts_reload_failures_total', 'Rules file reloads refused (the previous rules stayed in force)', () => a()?.reloads.failed ?? 0);
  new Counter({
    name: 'cairn_alerts_alarms_total',
    help: 'Outbox alarms since start, by kind (outbox_full, delivery_failing)',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      const s = a();
      for (const kind of ['outbox_full', 'delivery_failing'] as const) this.inc({ kind }, s?.alarms[kind] ?? 0);
    },
  });
}

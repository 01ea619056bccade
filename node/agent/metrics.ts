// Prometheus metrics of the agent (its own Registry, so several agents can run in one process).
import { Counter, Registry } from 'prom-client';
import { perPeerSeries, statusGauge } from '../http/status-gauge.js';
import type { AgentCounters, AgentStatus } from './types.js';

const COUNTER_HELP: Record<keyof AgentCounters, string> = {
  accepted: 'Events durably spooled',
  duplicates: 'Events answered duplicate at the intake (same id and content already spooled)',
  full: 'Intake requests refused with 503 spool_full',
  final: 'Events confirmed final by a peer and removed from the spool',
  conflicts: 'Events removed because the log already holds a different entry with their id',
  retimed: 'Versions re-signed with a fresh time after a peer refused the old one for clock skew',
  entriesSent: 'Entries sent to peers (first submissions and finality checks)',
  requestFailures: 'Requests to peers that failed as a whole (unreachable, timeout, 429, 503)',
  entryErrors: 'Entries a peer refused with an error other than conflict or clock skew (retried)',
};

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function createAgentMetrics(status: () => AgentStatus): Registry {
  const registry = new Registry();
  const registers = [registry];
  const gauge = statusGauge(registry, status);
  gauge('cairn_agent_spool_events', 'Events in the spool (accepted, not final yet)', (s) => s.spool.events);
  gauge('cairn_agent_spool_bytes', 'Bytes of records in the spool', (s) => s.spool.bytes);
  gauge('cairn_agent_spool_events_max', 'spoolEventsMax: the intake answers 503 spool_full beyond it', (s) => s.spool.eventsMax);
  gauge('cairn_agent_spool_bytes_max', 'spoolBytesMax: the intake answers 503 spool_full beyond it', (s) => s.spool.bytesMax);
  gauge('cairn_agent_spool_full', '1 while the spool is full', (s) => (s.spool.full ? 1 : 0));
  gauge('cairn_agent_inflight', 'Submitted entries waiting for their finality check', (s) => s.inflight);
  gauge('cairn_agent_inflight_window', 'Entries allowed in flight now (shrinks when entries expire in the mempools)', (s) => s.inflightWindow);
  gauge('cairn_agent_retrying', 'Entries a peer refused, waiting to be sent again', (s) => s.retrying);
  gauge('cairn_agent_stuck', 'Events whose versions reached versionsMax (sent again slowly)', (s) => s.stuck);
  for (const k of Object.keys(COUNTER_HELP) as (keyof AgentCounters)[]) {
    new Counter({
      name: `cairn_agent_${snake(k)}_total`,
      help: COUNTER_HELP[k],
      registers,
      collect() {
        this.reset();
        this.inc(status().counters[k]);
      },
    });
  }
  const peerGauge = perPeerSeries(registry, 'gauge', () => status().peers, (p) => p.url);
  peerGauge('cairn_agent_peer_up', '1 when the last request to this peer worked', (p) => (p.failures === 0 ? 1 : 0));
  peerGauge('cairn_agent_peer_failures', 'Consecutive failed requests to this peer', (p) => p.failures);
  peerGauge('cairn_agent_peer_backoff_seconds', 'Time until this peer is asked again', (p) => p.backoffMs / 1000);
  return registry;
}

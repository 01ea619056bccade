// The agent's Prometheus metrics and the status gauge maker they share with the peer's metrics
// (node/http/status-gauge.ts): every scrape reads the status afresh.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../node/agent/metrics.js';
import type { AgentStatus } from '../../node/agent/types.js';
import { perPeerSeries, statusGauge } from '../../node/http/status-gauge.js';

function agentStatus(events: number, final: number): AgentStatus {
  return {
    client: 'ab'.repeat(32),
    instance: '0123456789abcdef',
    spool: { events, bytes: events * 300, eventsMax: 1000, bytesMax: 1 << 20, full: false },
    inflight: 7,
    inflightWindow: 2000,
    retrying: 0,
    stuck: 0,
    counters: { accepted: events + final, duplicates: 0, full: 0, final, conflicts: 0, retimed: 0, entriesSent: 2 * final, requestFailures: 1, entryErrors: 0 },
    peers: [{ url: 'http://127.0.0.1:9', failures: 2, backoffMs: 1500, lastError: 'down' }],
    currentPeer: 'http://127.0.0.1:9',
    lastError: null,
  };
}

describe('agent metrics', () => {
  it('gauges, counters and per-peer series follow the status at each scrape', async () => {
    let s = agentStatus(10, 5);
    const reg = createAgentMetrics(() => s);
    let text = await reg.metrics();
    expect(text).toMatch(/^cairn_agent_spool_events 10$/m);
    expect(text).toMatch(/^cairn_agent_spool_bytes 3000$/m);
    expect(text).toMatch(/^cairn_agent_inflight_window 2000$/m);
    expect(text).toMatch(/^cairn_agent_final_total 5$/m);
    expect(text).toMatch(/^cairn_agent_request_failures_total 1$/m);
    expect(text).toMatch(/^cairn_agent_peer_up\{peer="http:\/\/127.0.0.1:9"\} 0$/m);
    expect(text).toMatch(/^cairn_agent_peer_backoff_seconds\{peer="http:\/\/127.0.0.1:9"\} 1.5$/m);
    s = agentStatus(3, 12);
    text = await reg.metrics();
    expect(text).toMatch(/^cairn_agent_spool_events 3$/m);
    expect(text).toMatch(/^cairn_agent_final_total 12$/m);
  });

  it('statusGauge registers in the given registry only and reads the status on every scrape', async () => {
    const a = new Registry();
    const b = new Registry();
    let n = 1;
    const gauge = statusGauge(a, () => ({ n }));
    gauge('test_status_n', 'n of the status', (st) => st.n * 2);
    expect(await a.metrics()).toMatch(/^test_status_n 2$/m);
    n = 21;
    expect(await a.metrics()).toMatch(/^test_status_n 42$/m);
    expect(await b.metrics()).not.toContain('test_status_n');
  });

  it('perPeerSeries keeps the exposition type and rebuilds the peer labels on every scrape', async () => {
    const reg = new Registry();
    let rows = [{ id: 'p1', sent: 10 }, { id: 'p2', sent: 0 }];
    perPeerSeries(reg, 'counter', () => rows, (r) => r.id)('test_sent_total', 'sent', (r) => r.sent);
    perPeerSeries(reg, 'gauge', () => rows, (r) => r.id)('test_sent_now', 'sent', (r) => r.sent);
    let text = await reg.metrics();
    expect(text).toMatch(/^# TYPE test_sent_total counter$/m);
    expect(text).toMatch(/^# TYPE test_sent_now gauge$/m);
    expect(text).toMatch(/^test_sent_total\{peer="p1"\} 10$/m);
    expect(text).toMatch(/^test_sent_now\{peer="p2"\} 0$/m);
    rows = [{ id: 'p2', sent: 5 }];
    text = await reg.metrics();
    expect(text).not.toContain('peer="p1"');
    expect(text).toMatch(/^test_sent_total\{peer="p2"\} 5$/m);
  });
});

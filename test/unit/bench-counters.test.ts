// The bench's step counters: Prometheus text parsing and the before/after differences that say
// whether a limit triggered during a step.
import { describe, expect, it } from 'vitest';
import { diffSnapshots, parseMetrics, type PeerSnapshot } from '../../bench/counters.js';

const metricsText = (o: { http429: number; rejected: number; blocks: number; entries: number; rounds: number; firstRound: number }) =>
  [
    '# HELP cairn_http_requests_total HTTP requests answered',
    '# TYPE cairn_http_requests_total counter',
    'cairn_http_requests_total{route="/v1/entries",status="202"} 100',
    `cairn_http_requests_total{route="/v1/entries",status="429"} ${o.http429}`,
    `cairn_entries_rejected_total{code="mempool_full"} ${o.rejected}`,
    `cairn_block_entries_count ${o.blocks}`,
    `cairn_block_entries_sum ${o.entries}`,
    `cairn_block_rounds_bucket{le="1"} ${o.firstRound}`,
    `cairn_block_rounds_count ${o.blocks}`,
    `cairn_block_rounds_sum ${o.rounds}`,
    '',
  ].join('\n');

function snap(height: number, m: Parameters<typeof metricsText>[0], extra: Record<string, unknown> = {}): PeerSnapshot {
  return {
    url: 'http://127.0.0.1:1',
    status: {
      height,
      mempool: { entries: 7 },
      publishFailures: { consensus: 0, checkpointSig: 0, entries: (extra.entriesFailed as number) ?? 0 },
      consensus: { rejected: { STALE_HEIGHT: (extra.stale as number) ?? 0 }, walSkipped: 0, resent: 0, evidence: 0, queueDepth: 3 },
      sync: { running: false, blocksFetched: 0, entriesFetched: 0, failures: 0, lastRateEntriesPerSec: 5 },
      net: { gossipBulkShed: (extra.shed as number) ?? 0, gossipQueuedBytesMax: (extra.queued as number) ?? 0 },
      halted: null,
    },
    metrics: parseMetrics(metricsText(m)),
  };
}

describe('bench counters', () => {
  it('parses Prometheus samples with labels and skips comments', () => {
    const m = parseMetrics(metricsText({ http429: 4, rejected: 2, blocks: 3, entries: 30, rounds: 4, firstRound: 2 }));
    expect(m.get('cairn_http_requests_total{route="/v1/entries",status="429"}')).toBe(4);
    expect(m.get('cairn_block_rounds_sum')).toBe(4);
    expect([...m.keys()].some((k) => k.startsWith('#'))).toBe(false);
  });

  it('reports what moved during a step: 429s, rejections, sheds, runner drops, rounds', () => {
    const before = [snap(10, { http429: 4, rejected: 2, blocks: 3, entries: 30, rounds: 3, firstRound: 3 })];
    const after = [snap(14, { http429: 9, rejected: 2, blocks: 7, entries: 430, rounds: 9, firstRound: 5 }, { stale: 3, shed: 2, queued: 5_000_000, entriesFailed: 2 })];
    const c = diffSnapshots(before, after);
    expect(c.heightsDecided).toBe(4);
    expect(c.entriesPerBlock).toBe(100);
    expect(c.roundsPerHeight).toBe(1.5);
    expect(c.heightsWithExtraRounds).toBe(2);
    expect(c.httpNon2xx).toEqual({ '/v1/entries 429': 5 });
    expect(c.entriesRejected).toEqual({});
    expect(c.publishFailures).toEqual({ entries: 2 });
    expect(c.runner).toEqual({ 'rejected.STALE_HEIGHT': 3, 'net.gossipBulkShed': 2, 'net.gossipQueuedBytesMax': 5_000_000 });
    expect(c.sync).toEqual({});
    expect(c.mempoolAfter).toEqual([7]);
    expect(c.unreadable).toBe(0);
  });

  it('counts a peer it could not read instead of failing', () => {
    const c = diffSnapshots([{ url: 'x', status: null, metrics: new Map() }], [snap(1, { http429: 0, rejected: 0, blocks: 0, entries: 0, rounds: 0, firstRound: 0 })]);
    expect(c.unreadable).toBe(1);
  });
});

// The peer's in-memory list of recent alerts (GET /v1/alerts/recent): newest first, bounded in
// count and in entry references per alert, an alert raised twice (re-evaluation after a crash)
// listed once, and no destinations (the operator's plumbing) in what readers see.
import { describe, expect, it } from 'vitest';
import { RecentAlerts, RECENT_ALERT_ENTRIES_MAX, RECENT_ALERTS_MAX } from '../../node/alerts/recent.js';
import type { Alert } from '../../src/alerts/types.js';

function alert(i: number, entries = 1): Alert {
  return {
    id: i.toString(16).padStart(64, '0'),
    ruleId: 'r',
    ruleVersion: 1,
    severity: 'high',
    title: `alert ${i}`,
    labels: {},
    destinations: ['soc'],
    time: '2026-01-01T00:00:00Z',
    group: {},
    entries: Array.from({ length: entries }, (_, k) => ({ index: k, leafHash: k.toString(16).padStart(64, '0') })),
  };
}

describe('recent alerts', () => {
  it('keeps the newest RECENT_ALERTS_MAX, newest first, each once, without destinations', () => {
    const r = new RecentAlerts();
    for (let i = 0; i < RECENT_ALERTS_MAX + 50; i++) r.add([alert(i)]);
    r.add([alert(RECENT_ALERTS_MAX + 49)]); // the same alert again
    const all = r.recent(1000);
    expect(all).toHaveLength(RECENT_ALERTS_MAX);
    expect(all[0]!.title).toBe(`alert ${RECENT_ALERTS_MAX + 49}`);
    expect(all.at(-1)!.title).toBe('alert 50');
    expect(all[0]).not.toHaveProperty('destinations');
    expect(r.recent(3).map((a) => a.title)).toEqual([`alert ${RECENT_ALERTS_MAX + 49}`, `alert ${RECENT_ALERTS_MAX + 48}`, `alert ${RECENT_ALERTS_MAX + 47}`]);
    // An alert dropped from the list can be listed again.
    r.add([alert(0)]);
    expect(r.recent(1)[0]!.title).toBe('alert 0');
  });

  it('keeps the first RECENT_ALERT_ENTRIES_MAX entry references and the count of all', () => {
    const r = new RecentAlerts();
    r.add([alert(1, 10_000)]);
    const a = r.recent(1)[0]!;
    expect(a.entries).toHaveLength(RECENT_ALERT_ENTRIES_MAX);
    expect(a.entries[0]!.index).toBe(0);
    expect(a.entryCount).toBe(10_000);
  });
});

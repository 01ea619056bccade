// The Prometheus alerting rules (docs/deploy/prometheus/cairn-rules.yaml) and the Grafana dashboard
// (docs/deploy/grafana/cairn.json) only name metrics a real peer exports: every `cairn_*` name in their
// expressions is in GET /metrics of a peer started here (histograms by their _bucket/_sum/_count
// series), and every rejection code they filter on is an API error code.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { API_ERROR_STATUS } from '../../src/client/types.js';
import { makeHttpCluster, type HttpCluster } from './helpers/http-cluster.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let cluster: HttpCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

function namesIn(expr: string): string[] {
  return [...expr.matchAll(/\bcairn_[a-z0-9_]+\b/g)].map((m) => m[0]);
}

async function exprs(): Promise<{ where: string; expr: string }[]> {
  const out: { where: string; expr: string }[] = [];
  const rules = parse(await readFile(`${ROOT}docs/deploy/prometheus/cairn-rules.yaml`, 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string }[] }[] };
  for (const g of rules.groups) for (const r of g.rules) out.push({ where: `rule ${r.alert}`, expr: String(r.expr) });
  const dash = JSON.parse(await readFile(`${ROOT}docs/deploy/grafana/cairn.json`, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
  for (const p of dash.panels) for (const t of p.targets) out.push({ where: `panel ${p.title}`, expr: t.expr });
  return out;
}

describe('Prometheus rules and Grafana dashboard', () => {
  it('name only metrics the peer exports', async () => {
    const c = (cluster = await makeHttpCluster(1, { label: 'metrics' }));
    const http = await c.startWithHttp(0);
    const text = await (await fetch(`${http.url}/metrics`)).text();
    const exported = new Set<string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(m[1]!);
      if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(m[1]! + s);
    }
    const all = await exprs();
    expect(all.length).toBeGreaterThan(30);
    const missing: string[] = [];
    for (const { where, expr } of all) {
      const names = namesIn(expr);
      if (names.length === 0) missing.push(`${where}: names no cairn_ metric`);
      for (const n of names) if (!exported.has(n)) missing.push(`${where}: ${n}`);
      for (const m of expr.matchAll(/code="([^"]+)"/g)) if (!(m[1]! in API_ERROR_STATUS)) missing.push(`${where}: code ${m[1]}`);
    }
    expect(missing).toEqual([]);
    // What the rules rely on for quorum, lag, disk and the alert outbox is there.
    for (const n of ['cairn_quorum_ok', 'cairn_peer_height_max', 'cairn_disk_free_bytes', 'cairn_alerts_outbox_queued', 'cairn_alerts_alarms_total', 'cairn_stream_open']) expect(exported.has(n), n).toBe(true);
    expect(text).toMatch(/^cairn_quorum_ok 1$/m);
    expect(Number(/^cairn_disk_free_bytes (\d+)/m.exec(text)?.[1])).toBeGreaterThan(0);
  }, 60_000);
});

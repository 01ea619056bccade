// Gauges and per-peer series read from a status snapshot at each scrape, for the peer's metrics (node/http/metrics.ts)
// and the agent's (node/agent/metrics.ts). Its own module so the agent does not load the peer's
// metrics and what they import (monitor, alerts).
import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * A maker of gauges: `gauge(name, help, (s) => number)` registers one in `registry` whose value is
 * read from `status()` at every scrape (prom-client calls collect() per scrape).
 */
export function statusGauge<S>(registry: Registry, status: () => S): (name: string, help: string, read: (s: S) => number) => Gauge {
  return (name, help, read) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(status()));
      },
    });
}

/**
 * A maker of per-peer series: `series(name, help, (row) => number)` registers one metric labelled
 * `peer` in `registry`, rebuilt from `rows()` at every scrape (reset first, so a peer that left
 * the list leaves the output). `kind` keeps the exposition type: a counter for totals the rows
 * carry (bytes on the wire), a gauge for states (up, failures, backoff).
 */
export function perPeerSeries<R>(
  registry: Registry,
  kind: 'counter' | 'gauge',
  rows: () => Iterable<R>,
  peerOf: (r: R) => string,
): (name: string, help: string, read: (r: R) => number) => Counter | Gauge {
  return (name, help, read) => {
    const common = { name, help, labelNames: ['peer'], registers: [registry] };
    return kind === 'counter'
      ? new Counter({
          ...common,
          collect() {
            this.reset();
            for (const r of rows()) this.inc({ peer: peerOf(r) }, read(r));
          },
        })
      : new Gauge({
          ...common,
          collect() {
            this.reset();
            for (const r of rows()) this.set({ peer: peerOf(r) }, read(r));
          },
        });
  };
}

// Gauges read from a status snapshot at each scrape, for the peer's metrics (node/http/metrics.ts)
// and the agent's (node/agent/metrics.ts). Its own module so the agent does not load the peer's
// metrics and what they import (monitor, alerts).
import { Gauge, type Registry } from 'prom-client';

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

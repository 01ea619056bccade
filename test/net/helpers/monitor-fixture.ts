// Shared setup of the integrity-monitor tests (test/net/monitor-*.test.ts): an in-process cluster
// closed after each test, a real webhook receiver on 127.0.0.1 collecting the alerts delivered to
// it, a rules file whose only destination is that receiver (signed with a fresh secret), a
// deadline-bounded wait, and outbox timings short enough for tests.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Alert } from '../../../src/alerts/types.js';
import { makeCluster, type Cluster } from '../../peer-support/cluster.js';

/** Outbox timings for tests: attempts every 20 ms, retries after 50..200 ms. */
export const FAST_OUTBOX = { tickMs: 20, backoffBaseMs: 50, backoffMaxMs: 200 };

export interface AlertReceiver {
  /** The webhook URL to deliver to. */
  url: string;
  /** Alerts received, in arrival order. */
  alerts: Alert[];
  /** While true, the receiver answers 503 and keeps nothing. */
  down: boolean;
  /** The alerts of one built-in alarm kind (`cairn.alarm.<kind>`). */
  alarms(kind: string): Alert[];
}

export interface MonitorFixture {
  /** Cleanups run after each test, newest first (before the cluster closes). */
  cleanups: (() => Promise<unknown>)[];
  /** An in-process cluster of n peers, closed after the test. */
  cluster(n: number, label: string): Promise<Cluster>;
  /** A webhook receiver on 127.0.0.1, closed after the test. */
  receiver(): Promise<AlertReceiver>;
}

/** Registers the after-each cleanup of the calling test file; call once at its top level. */
export function monitorFixture(): MonitorFixture {
  const cleanups: (() => Promise<unknown>)[] = [];
  let cluster: Cluster | null = null;
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await cluster?.close();
    cluster = null;
  });
  return {
    cleanups,
    async cluster(n, label) {
      cluster = await makeCluster(n, { label });
      return cluster;
    },
    async receiver() {
      const st: AlertReceiver = { url: '', alerts: [], down: false, alarms: (kind) => st.alerts.filter((a) => a.ruleId === `cairn.alarm.${kind}`) };
      const server: Server = createServer((req, res) => {
        const ch: Buffer[] = [];
        req.on('data', (c: Buffer) => ch.push(c));
        req.on('end', () => {
          if (st.down) {
            res.statusCode = 503;
            res.end();
            return;
          }
          st.alerts.push((JSON.parse(Buffer.concat(ch).toString('utf8')) as { data: Alert }).data);
          res.end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
      st.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
      return st;
    },
  };
}

/**
 * Writes `<dir>/rules.yaml` with one webhook destination `soc` (secret in `<dir>/whsec.txt`), the
 * given `alarms` section and rules (YAML flow text); returns its path.
 */
export async function monitorRulesFile(dir: string, url: string, alarms: string, rules = '[]'): Promise<string> {
  await writeFile(join(dir, 'whsec.txt'), `whsec_${randomBytes(32).toString('base64')}`);
  const f = join(dir, 'rules.yaml');
  await writeFile(f, `version: 1\ndestinations:\n  soc: { type: webhook, url: "${url}", secretFile: whsec.txt }\nalarms: ${alarms}\nrules: ${rules}\n`);
  return f;
}

/** Waits until `cond()` holds, polling every 25 ms; throws naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

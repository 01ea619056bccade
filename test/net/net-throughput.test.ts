// Measures (does not assert) gossip throughput of 64 KiB batch messages between 4 hosts on this
// machine. One gossip message per 1 KiB entry tops out at ~700-800 msg/s here; Cairn batches entries into
// large gossip messages, so this is the number that bounds entry throughput over the network.
// Takes ~10 s on 2 cores (more when the machine is busy).
import { loadavg } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerNetwork } from '../../node/net/index.js';
import { describeHosts, identities, startCluster, stopAll, waitFor, waitFullMesh, waitTopicMesh } from './net-helpers.js';

const MSG_BYTES = 64 * 1024;

function message(publisher: number, seq: number): Uint8Array {
  const m = new Uint8Array(MSG_BYTES);
  const v = new DataView(m.buffer);
  v.setUint32(0, publisher);
  v.setUint32(4, seq);
  for (let i = 8; i < m.length; i += 997) m[i] = (seq * 31 + publisher + i) & 255;
  return m;
}

describe('gossip throughput (measurement)', () => {
  let hosts: PeerNetwork[] = [];
  afterEach(async () => {
    await stopAll(hosts);
    hosts = [];
  });

  it('64 KiB messages between 4 hosts: one publisher, then all four (slow: ~10 s)', { timeout: 120_000 }, async () => {
    const ids = await identities(4);
    hosts = await startCluster(ids, ids);
    await waitFullMesh(hosts);
    const topic = hosts[0]!.topics.entries;
    const received = hosts.map(() => 0);
    hosts.forEach((h, i) =>
      h.subscribe(
        topic,
        (_from, d) => (d.length === MSG_BYTES ? 'accept' : 'reject'),
        () => {
          received[i]!++;
        },
      ),
    );
    await waitTopicMesh(hosts, topic);

    const run = async (label: string, publishers: number[], perPublisher: number): Promise<void> => {
      const base = received.slice();
      const t0 = performance.now();
      await Promise.all(
        publishers.map(async (p) => {
          for (let s = 0; s < perPublisher; s++) await hosts[p]!.publish(topic, message(p, s + base[p]! * 1000 + label.length * 100000));
        }),
      );
      const tPublished = performance.now() - t0;
      const expectedAt = (i: number): number => base[i]! + perPublisher * publishers.filter((p) => p !== i).length;
      await waitFor(`${label}: all deliveries`, () => hosts.every((_, i) => received[i]! >= expectedAt(i)), 60_000, () => `received=${received} ${describeHosts(hosts)}`);
      const secs = (performance.now() - t0) / 1000;
      const msgs = perPublisher * publishers.length;
      const deliveries = hosts.reduce((acc, _, i) => acc + (received[i]! - base[i]!), 0);
      console.log(
        `[throughput] ${label}: ${msgs} x 64 KiB published in ${tPublished.toFixed(0)} ms, all ${deliveries} deliveries done in ${(secs * 1000).toFixed(0)} ms: ` +
          `${(msgs / secs).toFixed(0)} msg/s published = ${((msgs * MSG_BYTES) / secs / 1048576).toFixed(1)} MiB/s, ` +
          `${(deliveries / secs).toFixed(0)} deliveries/s = ${((deliveries * MSG_BYTES) / secs / 1048576).toFixed(1)} MiB/s received in total ` +
          `(all 4 hosts in this one process; machine load average ${loadavg()[0]!.toFixed(1)} on 2 cores)`,
      );
      hosts.forEach((_, i) => expect(received[i]).toBe(expectedAt(i))); // exactly once, even under load
    };
    await run('warm-up', [0], 50);
    await run('one publisher -> 3', [0], 300);
    await run('four publishers -> 3 each', [0, 1, 2, 3], 75);
  });
});

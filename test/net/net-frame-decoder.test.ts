// Two real hosts on 127.0.0.1 (TCP, Noise, Yamux, gossipsub) exchange small gossip messages,
// each its own socket read: Noise's frame decoder no longer makes a RangeError per read
// (node/net/frame-decoder.ts). The count is taken by putting a counting proxy in place of the
// global RangeError for the exchange only; the library code looks the global up at each use.
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerNetwork } from '../../node/net/index.js';
import { identities, startCluster, stopAll, waitFor, waitFullMesh, waitTopicMesh, describeHosts } from './net-helpers.js';

const MESSAGES = 200;

describe('Noise frame decoding on a real connection', () => {
  let hosts: PeerNetwork[] = [];
  const realRangeError = RangeError;
  afterEach(async () => {
    globalThis.RangeError = realRangeError;
    await stopAll(hosts);
    hosts = [];
  });

  it(`${MESSAGES} gossip messages, one at a time, make (almost) no RangeError`, { timeout: 60_000 }, async () => {
    const ids = await identities(2);
    hosts = await startCluster(ids, ids);
    await waitFullMesh(hosts);
    const topic = hosts[0]!.topics.consensus;
    let received = 0;
    hosts[1]!.subscribe(
      topic,
      () => 'accept',
      () => {
        received++;
      },
    );
    hosts[0]!.subscribe(topic, () => 'accept', () => undefined);
    await waitTopicMesh(hosts, topic);

    let made = 0;
    globalThis.RangeError = new Proxy(realRangeError, {
      apply(target, self, args) {
        made++;
        return Reflect.apply(target, self, args) as RangeError;
      },
      construct(target, args, newTarget) {
        made++;
        return Reflect.construct(target, args, newTarget) as RangeError;
      },
    });
    for (let i = 0; i < MESSAGES; i++) {
      const m = new Uint8Array(200);
      new DataView(m.buffer).setUint32(0, i);
      await hosts[0]!.publish(topic, m);
      // One message per socket read: wait for its delivery before the next.
      await waitFor(`delivery ${i + 1}`, () => received > i, 10_000, () => describeHosts(hosts));
    }
    globalThis.RangeError = realRangeError;
    expect(received).toBe(MESSAGES);
    // Without the check every read made one; a few may still come from prefixes cut across reads.
    expect(made).toBeLessThan(MESSAGES / 10);
  });
});

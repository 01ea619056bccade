// Publish priorities between real libp2p hosts on 127.0.0.1: a consensus message published while
// a burst of entry batches is still queued reaches the other peer ahead of that burst (it does
// not wait behind bulk traffic), and bulk publishes beyond the queue limit are shed at once.
import { afterEach, describe, expect, it } from 'vitest';
import { NetError, type PeerNetwork } from '../../node/net/index.js';
import { describeHosts, identities, startCluster, stopAll, waitFor, waitFullMesh, waitTopicMesh } from './net-helpers.js';

const BULK_BYTES = 2 * 1024 * 1024;

describe('publish priorities', () => {
  let hosts: PeerNetwork[] = [];
  afterEach(async () => {
    await stopAll(hosts);
    hosts = [];
  });

  it('a consensus message overtakes queued entry batches; the bulk queue sheds beyond its limit', async () => {
    const ids = await identities(2);
    hosts = await startCluster(ids, ids, { limits: { gossipBulkQueueMax: 16 } });
    await waitFullMesh(hosts);
    const [a, b] = hosts as [PeerNetwork, PeerNetwork];
    const order: string[] = [];
    for (const t of [a.topics.entries, a.topics.consensus]) {
      b.subscribe(t, () => 'accept', (_from, data) => order.push(t === a.topics.consensus ? 'vote' : `batch${data[0]}`));
      a.subscribe(t, () => 'accept', () => {});
    }
    await waitTopicMesh(hosts, a.topics.entries);
    await waitTopicMesh(hosts, a.topics.consensus);

    // 12 batches of 2 MiB (24 MiB) are published at once, more than one peer's write buffer
    // may hold (gossipMaxQueuedBytes, 4 MiB by default), then one vote.
    const bulk: Promise<unknown>[] = [];
    for (let k = 0; k < 12; k++) bulk.push(a.publish(a.topics.entries, new Uint8Array(BULK_BYTES).fill(k)));
    const vote = a.publish(a.topics.consensus, new Uint8Array([0xee, 1, 2, 3]));
    // The queue holds 16: a burst beyond it is refused at once, not queued without bound.
    const shed: Promise<unknown>[] = [];
    for (let k = 0; k < 8; k++) shed.push(a.publish(a.topics.entries, new Uint8Array(1_000).fill(100 + k)));
    const shedResults = await Promise.allSettled(shed);
    await vote;
    await Promise.allSettled(bulk);
    await waitFor('the vote and the batches delivered', () => order.includes('vote') && order.filter((x) => x.startsWith('batch')).length >= 12, 30_000, () => `${order.join(',')} ${describeHosts(hosts)}`);
    const at = order.indexOf('vote');
    // Ahead of the burst: at most the batches that fit under the write-buffer limit precede it.
    expect(at, order.join(',')).toBeLessThanOrEqual(3);
    const refused = shedResults.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as NetError);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const e of refused) expect(e.code).toBe('GOSSIP_BACKPRESSURE');
    expect(a.stats().gossipBulkShed).toBe(refused.length);
  }, 60_000);
});

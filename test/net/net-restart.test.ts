// A genesis peer that stops and restarts (same key, same port) is reconnected automatically.
import { afterEach, describe, expect, it } from 'vitest';
import { createPeerNetwork, type PeerNetwork } from '../../node/net/index.js';
import { fromUtf8, utf8 } from '../../src/encoding/bytes.js';
import { describeHosts, GENESIS_A, identities, NS_A, startCluster, stopAll, TEST_LIMITS, waitFor, waitFullMesh, waitTopicMesh } from './net-helpers.js';

describe('restart', () => {
  let hosts: (PeerNetwork | undefined)[] = [];
  afterEach(async () => {
    await stopAll(hosts);
    hosts = [];
  });

  it('reconnects a stopped and restarted host (same key, same port) and gossip flows again', async () => {
    const ids = await identities(4);
    const started = await startCluster(ids, ids);
    hosts = started;
    await waitFullMesh(started);
    const topic = started[0]!.topics.entries;
    const got: string[][] = started.map(() => []);
    started.forEach((h, i) => h.subscribe(topic, () => 'accept', (_f, d) => got[i]!.push(fromUtf8(d))));
    await waitTopicMesh(started, topic);

    const disconnected: string[] = [];
    const reconnected: string[] = [];
    started[0]!.onPeerDisconnect((p) => disconnected.push(p));
    started[0]!.onPeerConnect((p) => reconnected.push(p));

    // Stop host 2 and remember its address.
    const addr2 = started[2]!.addresses()[0]!;
    const port = /\/tcp\/(\d+)\//.exec(addr2)![1];
    await started[2]!.stop();
    hosts[2] = undefined;
    const others = [started[0]!, started[1]!, started[3]!];
    await waitFor('the others to notice', () => others.every((h) => !h.connectedPeers().includes(ids[2]!.peerId)), 10_000, () => describeHosts(others));
    expect(disconnected).toEqual([ids[2]!.peerId]);
    // Let a few redial attempts fail while it is down.
    await new Promise((r) => setTimeout(r, 1_000));

    const restarted = await createPeerNetwork({
      privateKey: ids[2]!.key,
      listen: [`/ip4/127.0.0.1/tcp/${port}`],
      // Only one address known: the rest must come from the others redialing us.
      peers: ids.map((g, i) => ({ peerId: g.peerId, addrs: i === 0 ? [started[0]!.addresses()[0]!] : [] })),
      namespace: NS_A,
      genesisHash: GENESIS_A,
      limits: TEST_LIMITS,
    });
    hosts[2] = restarted;
    expect(restarted.addresses()[0]).toBe(addr2);
    const all = [started[0]!, started[1]!, restarted, started[3]!];
    await waitFullMesh(all, 20_000);
    expect(reconnected).toEqual([ids[2]!.peerId]);

    const gotR: string[] = [];
    restarted.subscribe(topic, () => 'accept', (_f, d) => gotR.push(fromUtf8(d)));
    await waitTopicMesh(all, topic, 20_000);
    await restarted.publish(topic, utf8('from the restarted host'));
    await started[0]!.publish(topic, utf8('to the restarted host'));
    await waitFor('gossip after restart', () => gotR.includes('to the restarted host') && [0, 1, 3].every((i) => got[i]!.includes('from the restarted host')), 10_000, () =>
      describeHosts(all),
    );
  });
});

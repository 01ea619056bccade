// Gossip between real libp2p hosts on 127.0.0.1.
import { afterEach, describe, expect, it } from 'vitest';
import { NetError, type PeerNetwork } from '../../node/net/index.js';
import { fromUtf8, utf8 } from '../../src/encoding/bytes.js';
import { describeHosts, identities, startCluster, stopAll, waitFor, waitFullMesh, waitTopicMesh } from './net-helpers.js';

describe('gossip', () => {
  let hosts: PeerNetwork[] = [];
  afterEach(async () => {
    await stopAll(hosts);
    hosts = [];
  });

  it('4 hosts form a full mesh and every message reaches the other 3 exactly once', async () => {
    const ids = await identities(4);
    hosts = await startCluster(ids, ids);
    await waitFullMesh(hosts);
    const topic = hosts[0]!.topics.entries;
    // received[h] = list of (from, text) host h's handler saw
    const received: { from: string; text: string }[][] = hosts.map(() => []);
    hosts.forEach((h, i) =>
      h.subscribe(
        topic,
        () => 'accept',
        (from, data) => received[i]!.push({ from, text: fromUtf8(data) }),
      ),
    );
    await waitTopicMesh(hosts, topic);

    const perHost = 5;
    for (let k = 0; k < perHost; k++) {
      for (let i = 0; i < hosts.length; i++) {
        const r = await hosts[i]!.publish(topic, utf8(`msg ${k} from host ${i}`));
        expect(r.recipients).toBe(3);
      }
    }
    const expected = (perHost * (hosts.length - 1)) as number;
    await waitFor('all deliveries', () => received.every((r) => r.length >= expected), 10_000, () => describeHosts(hosts));
    // Give duplicates (forwarded copies) time to arrive if dedup were broken.
    await new Promise((r) => setTimeout(r, 1_000));
    for (let i = 0; i < hosts.length; i++) {
      const texts = received[i]!.map((m) => m.text).sort();
      const want: string[] = [];
      for (let j = 0; j < hosts.length; j++) {
        if (j === i) continue;
        for (let k = 0; k < perHost; k++) want.push(`msg ${k} from host ${j}`);
      }
      expect(texts).toEqual(want.sort()); // exactly once each, none of our own
    }
    // `from` is the last hop: with floodPublish in a full mesh that is normally the publisher
    // itself, but a forwarded copy may win the race, so only membership is a hard rule.
    for (const m of received[0]!) expect(ids.slice(1).map((x) => x.peerId)).toContain(m.from);
  });

  it('a rejecting validator stops delivery and propagation, and penalises the sender', async () => {
    // Line topology A - B - C: A and C are not in each other's genesis, so everything between
    // them must be relayed by B.
    const [a, b, c] = await identities(3);
    const hA = (await startCluster([a!], [a!, b!]))[0]!;
    hosts.push(hA);
    const [hB] = await startCluster([b!], [a!, b!, c!]);
    hosts.push(hB!);
    await hB!.addPeerAddresses(a!.peerId, hA.addresses());
    const [hC] = await startCluster([c!], [b!, c!]);
    hosts.push(hC!);
    await hC!.addPeerAddresses(b!.peerId, hB!.addresses());
    await waitFor('line topology', () => hB!.connectedPeers().length === 2 && hA.connectedPeers().length === 1 && hC!.connectedPeers().length === 1, 15_000, () =>
      describeHosts(hosts),
    );

    const topic = hA.topics.consensus;
    const got: Record<string, string[]> = { A: [], B: [], C: [] };
    hA.subscribe(topic, () => 'accept', (_f, d) => got['A']!.push(fromUtf8(d)));
    hB!.subscribe(
      topic,
      (_from, d) => (fromUtf8(d).startsWith('bad') ? 'reject' : 'accept'),
      (_f, d) => got['B']!.push(fromUtf8(d)),
    );
    hC!.subscribe(topic, () => 'accept', (_f, d) => got['C']!.push(fromUtf8(d)));
    await waitFor('topic peers', () => hB!.topicPeers(topic).length === 2 && hA.topicPeers(topic).length === 1 && hC!.topicPeers(topic).length === 1, 15_000);

    // Control: an accepted message is relayed by B to C.
    await hA.publish(topic, utf8('good 1'));
    await waitFor('relay of good 1', () => got['C']!.includes('good 1') && got['B']!.includes('good 1'), 10_000, () => describeHosts(hosts));
    expect(hB!.peerScore(a!.peerId)).toBe(0);

    // A rejected message reaches neither B's handler nor C.
    const rejectedBefore = hB!.stats().gossipRejected;
    await hA.publish(topic, utf8('bad 1'));
    await waitFor('B to reject bad 1', () => hB!.stats().gossipRejected === rejectedBefore + 1, 10_000, () => describeHosts(hosts));
    // A later good message overtakes nothing: once C has it, 'bad 1' would have arrived first.
    await hA.publish(topic, utf8('good 2'));
    await waitFor('relay of good 2', () => got['C']!.includes('good 2'), 10_000, () => describeHosts(hosts));
    await new Promise((r) => setTimeout(r, 500));
    expect(got['B']).toEqual(['good 1', 'good 2']);
    expect(got['C']).toEqual(['good 1', 'good 2']);
    // The sender's gossipsub score dropped (P4: invalid message deliveries); gossipsub caches
    // scores for one heartbeat (1 s), hence the wait.
    await waitFor('A to be penalised by B', () => hB!.peerScore(a!.peerId) < 0, 5_000, () => describeHosts(hosts));
    expect(hC!.peerScore(b!.peerId)).toBe(0); // C saw nothing invalid from B
  });

  it('refuses oversize messages, unknown topics, and use after stop', async () => {
    const ids = await identities(1);
    hosts = await startCluster(ids, ids, { limits: { maxGossipMessageBytes: 1000 } });
    const h = hosts[0]!;
    const err = await h.publish(h.topics.entries, new Uint8Array(1001)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetError);
    expect((err as NetError).code).toBe('GOSSIP_TOO_LARGE');
    expect((err as NetError).limit).toBe('maxGossipMessageBytes=1000');
    // exactly at the limit is fine (no peers: allowPublishToZeroTopicPeers)
    expect((await h.publish(h.topics.entries, new Uint8Array(1000))).recipients).toBe(0);
    // re-publishing identical bytes is silently a no-op (content-addressed ids)
    expect((await h.publish(h.topics.entries, new Uint8Array(1000))).recipients).toBe(0);

    await expect(h.publish('/cairn/other/entries/1', new Uint8Array(1))).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC' });
    expect(() => h.subscribe('/nope', () => 'accept', () => {})).toThrow(expect.objectContaining({ code: 'UNKNOWN_TOPIC' }));
    h.subscribe(h.topics.entries, () => 'accept', () => {});
    expect(() => h.subscribe(h.topics.entries, () => 'accept', () => {})).toThrow(expect.objectContaining({ code: 'ALREADY_REGISTERED' }));
    await h.stop();
    await expect(h.publish(h.topics.entries, new Uint8Array(1))).rejects.toMatchObject({ code: 'STOPPED' });
  });

  it('unsubscribe stops delivery; subscribing again resumes it', async () => {
    const ids = await identities(2);
    hosts = await startCluster(ids, ids);
    await waitFullMesh(hosts);
    const [h0, h1] = hosts;
    const topic = h0!.topics.checkpointSigs;
    const got: string[] = [];
    h0!.subscribe(topic, () => 'accept', () => {});
    h1!.subscribe(topic, () => 'accept', (_f, d) => got.push(fromUtf8(d)));
    await waitTopicMesh(hosts, topic);
    await h0!.publish(topic, utf8('one'));
    await waitFor('one', () => got.includes('one'), 10_000);
    h1!.unsubscribe(topic);
    await waitFor('h0 to see the unsubscription', () => h0!.topicPeers(topic).length === 0, 10_000, () => describeHosts(hosts));
    await h0!.publish(topic, utf8('two'));
    h1!.subscribe(topic, () => 'accept', (_f, d) => got.push(fromUtf8(d)));
    await waitTopicMesh(hosts, topic);
    await h0!.publish(topic, utf8('three'));
    await waitFor('three', () => got.includes('three'), 10_000);
    expect(got).toEqual(['one', 'three']);
  });
});

// Bytes on the wire between real libp2p hosts on 127.0.0.1: a known amount of gossip from A to
// B shows up in A's bytes sent to B and in B's bytes received from A (the payload plus Noise,
// Yamux and gossipsub framing), and both sides agree on what crossed the connection. Yamux flow
// control (node/net/yamux-window.ts): a receiver hands window back once half its receive window is
// used, not after every data frame, so a run of small gossip messages draws almost no frames back;
// and a stream carrying many times its window keeps flowing, because the updates still go out when
// they are due.
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerNetwork } from '../../node/net/index.js';
import { yamuxWindowStats } from '../../node/net/yamux-window.js';
import { describeHosts, pairOnTopic, stopAll, waitFor } from './net-helpers.js';

const MESSAGES = 20;
const MESSAGE_BYTES = 50_000;
/** Distinct one-byte fills: the messages must differ (identical bytes share one message id). */
const BURST = 200;

const SMALL_MESSAGES = 300;
const SMALL_BYTES = 200;
/** A Noise-encrypted Yamux header alone on the wire: 2-byte length + 12-byte header + 16-byte tag. */
const WINDOW_UPDATE_WIRE_BYTES = 30;
/** 40 messages of MESSAGE_BYTES: 2 MB on one stream. */
const LARGE_MESSAGES = 40;

describe('bytes on the wire', () => {
  let hosts: PeerNetwork[] = [];
  afterEach(async () => {
    await stopAll(hosts);
    hosts = [];
  });

  it('counts each connection\'s bytes per remote peer on both sides', async () => {
    let got = 0;
    const { hosts: started, a, b } = await pairOnTopic((t) => t.entries, () => got++);
    hosts = started;

    const row = (h: PeerNetwork, peer: string) => h.wireBytes().perPeer.find((r) => r.peer === peer) ?? { sent: 0, received: 0 };
    const before = row(a, b.peerId);
    for (let k = 0; k < MESSAGES; k++) await a.publish(a.topics.entries, new Uint8Array(MESSAGE_BYTES).fill(k + 1));
    await waitFor('all messages delivered', () => got >= MESSAGES, 20_000, () => describeHosts(hosts));
    // Let the last frames' bookkeeping settle (B's counter moves when its socket reads them).
    await waitFor('both sides agree', () => row(b, a.peerId).received >= row(a, b.peerId).sent - 1_000, 10_000, () => JSON.stringify([a.wireBytes(), b.wireBytes()]));

    const sentAB = row(a, b.peerId).sent - before.sent;
    const payload = MESSAGES * MESSAGE_BYTES;
    expect(sentAB).toBeGreaterThanOrEqual(payload);
    expect(sentAB).toBeLessThan(payload * 1.1); // framing and encryption are a few percent
    const aw = a.wireBytes();
    const bw = b.wireBytes();
    // Totals are the sum of the rows; the receiver counted what the sender wrote (± heartbeats).
    expect(aw.sent).toBe(aw.perPeer.reduce((s, r) => s + r.sent, 0));
    expect(bw.received).toBe(bw.perPeer.reduce((s, r) => s + r.received, 0));
    expect(Math.abs(row(b, a.peerId).received - row(a, b.peerId).sent)).toBeLessThan(10_000);
    expect(aw.writes).toBeGreaterThan(0);
  }, 60_000);

  it('a burst of small messages published in one tick (coalesced into few socket writes) arrives whole and in order', async () => {
    const got: number[] = [];
    // Each message is 100 copies of its own number: a torn or merged frame would show.
    const { hosts: started, a } = await pairOnTopic((t) => t.consensus, (data) => {
      if (data.length === 100 && data.every((x) => x === data[0])) got.push(data[0]!);
    });
    hosts = started;
    const sends: Promise<unknown>[] = [];
    for (let k = 0; k < BURST; k++) sends.push(a.publish(a.topics.consensus, new Uint8Array(100).fill(k)));
    await Promise.all(sends);
    await waitFor('the burst delivered', () => got.length >= BURST, 20_000, () => `${got.length} of ${BURST}; ${describeHosts(hosts)}`);
    expect(got).toEqual(Array.from({ length: BURST }, (_, k) => k));
  }, 60_000);

  it('a run of small messages, one data frame each, draws no window update per frame', async () => {
    let got = 0;
    const { hosts: started, a, b } = await pairOnTopic((t) => t.consensus, () => got++);
    hosts = started;

    const sentBA = () => b.wireBytes().perPeer.find((r) => r.peer === a.peerId)?.sent ?? 0;
    const before = { ...yamuxWindowStats, backBytes: sentBA() };
    for (let k = 0; k < SMALL_MESSAGES; k++) {
      // One message per turn of the event loop: each leaves in a data frame of its own.
      const m = new Uint8Array(SMALL_BYTES); // distinct bytes: identical messages share one id
      m[0] = k >> 8;
      m[1] = k & 0xff;
      await a.publish(a.topics.consensus, m);
      await new Promise((r) => setImmediate(r));
    }
    await waitFor('the run delivered', () => got >= SMALL_MESSAGES, 20_000, () => `${got} of ${SMALL_MESSAGES}; ${describeHosts(hosts)}`);

    // On the wire: what B wrote back to A during the run is far less than one update per message.
    const back = sentBA() - before.backBytes;
    expect(back).toBeLessThan((SMALL_MESSAGES * WINDOW_UPDATE_WIRE_BYTES) / 4);
    const held = yamuxWindowStats.updatesHeld - before.updatesHeld;
    const sent = yamuxWindowStats.updatesSent - before.updatesSent;
    // (Nearly) every data frame B read left its update for later (a few frames may carry two
    // messages); 60 KB is far below half of 256 KiB.
    expect(held).toBeGreaterThanOrEqual(SMALL_MESSAGES * 0.9);
    expect(sent).toBeLessThan(10);
  }, 60_000);

  it('a stream carrying many times its receive window keeps flowing: the updates go out when half the window is used', async () => {
    let got = 0;
    const { hosts: started, a } = await pairOnTopic((t) => t.entries, () => got++);
    hosts = started;

    const before = yamuxWindowStats.updatesSent;
    // 2 MB on one stream: 8 times the initial 256 KiB window, so the sender stalls for good unless
    // the receiver hands window back.
    for (let k = 0; k < LARGE_MESSAGES; k++) await a.publish(a.topics.entries, new Uint8Array(MESSAGE_BYTES).fill(k + 1));
    await waitFor('all large messages delivered', () => got >= LARGE_MESSAGES, 30_000, () => `${got} of ${LARGE_MESSAGES}; ${describeHosts(hosts)}`);
    expect(got).toBe(LARGE_MESSAGES);
    expect(yamuxWindowStats.updatesSent - before).toBeGreaterThanOrEqual(1);
  }, 60_000);
});

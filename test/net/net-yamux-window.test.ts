// Yamux flow control between real libp2p hosts on 127.0.0.1 (node/net/yamux-window.ts): a
// receiver hands window back once half its receive window is used, not after every data frame,
// so a run of small gossip messages draws almost no frames back; and a stream carrying many times
// its window keeps flowing, because the updates still go out when they are due.
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerNetwork } from '../../node/net/index.js';
import { yamuxWindowStats } from '../../node/net/yamux-window.js';
import { describeHosts, pairOnTopic, stopAll, waitFor } from './net-helpers.js';

const SMALL_MESSAGES = 300;
const SMALL_BYTES = 200;
/** A Noise-encrypted Yamux header alone on the wire: 2-byte length + 12-byte header + 16-byte tag. */
const WINDOW_UPDATE_WIRE_BYTES = 30;
const LARGE_MESSAGES = 40;
const LARGE_BYTES = 50_000;

describe('yamux window updates', () => {
  let hosts: PeerNetwork[] = [];
  afterEach(async () => {
    await stopAll(hosts);
    hosts = [];
  });

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
    for (let k = 0; k < LARGE_MESSAGES; k++) await a.publish(a.topics.entries, new Uint8Array(LARGE_BYTES).fill(k + 1));
    await waitFor('all large messages delivered', () => got >= LARGE_MESSAGES, 30_000, () => `${got} of ${LARGE_MESSAGES}; ${describeHosts(hosts)}`);
    expect(got).toBe(LARGE_MESSAGES);
    expect(yamuxWindowStats.updatesSent - before).toBeGreaterThanOrEqual(1);
  }, 60_000);
});

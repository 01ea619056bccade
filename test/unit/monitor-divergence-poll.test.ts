// The divergence poll asks every due validator peer for its latest final checkpoint at once and
// waits at most one timeout for the whole round: silent peers cannot hold the integrity checks
// for one timeout each. The peer here is a stand-in with just what the poll reads (its status's
// peer list and a request function that answers like checkpoint/1, or never).
import { describe, expect, it } from 'vitest';
import { PEER_POLL_TIMEOUT_MS, pollPeerCheckpoints } from '../../node/monitor/divergence.js';
import type { Peer } from '../../node/peer/peer.js';
import { PROTO_CHECKPOINT } from '../../node/peer/sync.js';
import { fromUtf8, utf8 } from '../../src/encoding/bytes.js';

/** Peers p0..p(n-1); those in `silent` never answer before the request's own timeout. */
function standIn(n: number, silent: Set<number>, asked: { peerId: string; proto: string; timeoutMs: number }[]): Peer {
  const peers = Array.from({ length: n }, (_, i) => ({ peerId: `p${i}`, name: `org${i}`, connected: true }));
  return {
    status: () => ({ peers }),
    internals: {
      net: {
        request: (peerId: string, proto: string, _req: Uint8Array, opts: { timeoutMs: number }) => {
          asked.push({ peerId, proto, timeoutMs: opts.timeoutMs });
          const i = Number(peerId.slice(1));
          return new Promise<Uint8Array>((resolve, reject) =>
            silent.has(i) ? setTimeout(() => reject(new Error('timeout')), opts.timeoutMs) : setTimeout(() => resolve(utf8(`note of ${peerId}`)), 20),
          );
        },
      },
    },
  } as unknown as Peer;
}

describe('divergence poll', () => {
  it('asks all due peers concurrently; three silent peers cost one timeout, not three; the answers are compared', async () => {
    const asked: { peerId: string; proto: string; timeoutMs: number }[] = [];
    const peer = standIn(5, new Set([0, 2, 3]), asked);
    const seen: string[] = [];
    const t0 = performance.now();
    await pollPeerCheckpoints(peer, new Map(), 30_000, Date.now(), async (from, note) => {
      seen.push(`${from.name}: ${fromUtf8(note)}`);
    });
    const ms = performance.now() - t0;
    expect(asked.map((a) => a.peerId)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    expect(asked.every((a) => a.proto === PROTO_CHECKPOINT && a.timeoutMs <= PEER_POLL_TIMEOUT_MS)).toBe(true);
    expect(seen).toEqual(['org1: note of p1', 'org4: note of p4']);
    // One after another this took 3 × 3 s.
    expect(ms).toBeGreaterThanOrEqual(PEER_POLL_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(PEER_POLL_TIMEOUT_MS * 1.8);
  }, 30_000);

  it('a peer asked within everyMs is not asked again; the round bound holds when a request ignores its timeout', async () => {
    const asked: { peerId: string; proto: string; timeoutMs: number }[] = [];
    const peer = standIn(2, new Set(), asked);
    const last = new Map<string, number>([['p0', Date.now()]]);
    await pollPeerCheckpoints(peer, last, 30_000, Date.now(), async () => undefined);
    expect(asked.map((a) => a.peerId)).toEqual(['p1']);
    // A request that never settles: the round still ends at its bound.
    const hung = { status: () => ({ peers: [{ peerId: 'h', name: 'hung', connected: true }] }), internals: { net: { request: () => new Promise(() => undefined) } } } as unknown as Peer;
    const t0 = performance.now();
    await pollPeerCheckpoints(hung, new Map(), 30_000, Date.now(), async () => undefined, 300);
    expect(performance.now() - t0).toBeLessThan(2_000);
  }, 30_000);
});

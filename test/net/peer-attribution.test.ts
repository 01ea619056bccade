// A block names its builder in header.proposer. On a real peer (real LevelDB, libp2p on
// 127.0.0.1), a fresh proposal of round r must name proposer(h, r) = (h + r) mod n: the same,
// otherwise correct, block gets a nil prevote in a round whose proposer it does not name, and a
// prevote for its hash in the round whose proposer it names. Validators 1..3 are played by the test with
// their real keys, fed to the peer as its consensus gossip topic would.
import { afterAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, proposalSignBytes, voteSignBytes, type ConsensusMessage } from '../../src/consensus/index.js';
import { encodeEnvelope, openEnvelope } from '../../node/peer/consensus-runner.js';
import { blockHash } from '../../node/peer/block.js';
import { toHex } from '../../src/encoding/bytes.js';
import { makeEntries } from '../peer-support/cluster.js';
import { makeHttpCluster, type HttpCluster } from './helpers/http-cluster.js';

let c: HttpCluster | null = null;
afterAll(async () => {
  await c?.close();
});

async function waitUntil(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('attribution: header.proposer of a fresh proposal', () => {
  it('a block naming another validator than the round proposer gets a nil prevote; naming it, a prevote', async () => {
    c = await makeHttpCluster(4, { label: 'at', limits: { timeouts: { proposeMs: 60_000, prevoteMs: 60_000, precommitMs: 60_000, deltaMs: 0 } } });
    const cl = c;
    const peer = await cl.start(0);
    const g = cl.genesis;
    const signers = cl.orgs.map((o) => o.signer);
    const net = peer.internals.net;
    const prevotes: ConsensusMessage[] = [];
    const publish = net.publish.bind(net);
    net.publish = ((topic: string, data: Uint8Array, ...rest: unknown[]) => {
      if (topic === net.topics.consensus) {
        const d = decodeMessage(openEnvelope(data)!);
        if (d.ok && d.message.type === 'prevote') prevotes.push(d.message);
      }
      return (publish as (...a: unknown[]) => Promise<unknown>)(topic, data, ...rest);
    }) as typeof net.publish;
    const feed = (m: ConsensusMessage) => {
      const env = encodeEnvelope(encodeMessage(m), Date.now());
      const v = peer.internals.runner.validateGossip(env);
      if (v === 'accept') peer.internals.runner.onGossip(env);
      return v;
    };
    const propose = (from: number, h: number, r: number, value: Uint8Array) =>
      feed({ type: 'proposal', height: h, round: r, value, validRound: -1, validator: from, signature: signers[from]!.sign(proposalSignBytes(g.origin, h, r, blockHash(value), -1)) });

    expect((await peer.submit(makeEntries(cl.clients, 3, 'at'))).every((r) => !('error' in r))).toBe(true);
    const ledger = peer.internals.ledger;
    // Height 1, round 0: proposer(1, 0) = 1 signs a correct block that names validator 2.
    const misnamed = ledger.buildBlock(1, 2);
    expect((await ledger.prevalidate(misnamed)).ok).toBe(true); // valid in every other respect
    expect(propose(1, 1, 0, misnamed)).toBe('accept');
    await waitUntil('our round-0 prevote', () => prevotes.some((v) => v.round === 0));
    const p0 = prevotes.find((v) => v.round === 0)!;
    expect(p0.type === 'prevote' && p0.valueId).toBeNull();

    // Round 1: proposer(1, 1) = 2 signs the SAME bytes; now the name fits the round. The peer
    // skips to round 1 on f + 1 = 2 messages of it (paper L55): the proposal and one prevote.
    const named = misnamed;
    expect(propose(2, 1, 1, named)).toBe('accept');
    feed({ type: 'prevote', height: 1, round: 1, valueId: blockHash(named), validator: 3, signature: signers[3]!.sign(voteSignBytes(g.origin, 'prevote', 1, 1, blockHash(named))) });
    await waitUntil('our round-1 prevote', () => prevotes.some((v) => v.round === 1));
    const p1 = prevotes.find((v) => v.round === 1)!;
    expect(p1.type === 'prevote' && p1.valueId !== null ? toHex(p1.valueId) : null).toBe(toHex(blockHash(named)));
  }, 60_000);
});

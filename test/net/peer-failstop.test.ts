// Fail-stop on a real peer (real LevelDB, real libp2p on 127.0.0.1, its HTTP API): when a block
// decided by consensus does not apply (our recomputed root disagrees with the quorum's: our state
// diverged), consensus halts on that peer, /healthz answers 503 with the reason, the
// cairn_consensus_halted metric is 1 with the halt code, an error is logged, and the peer signs
// nothing more. Validators 1..3 are played by the test with their real keys, fed to the peer
// exactly as its consensus gossip topic would (validator, then handler).
import { afterAll, describe, expect, it } from 'vitest';
import { encodeMessage, proposalSignBytes, voteSignBytes, type ConsensusMessage } from '../../src/consensus/index.js';
import { encodeEnvelope } from '../../node/peer/consensus-runner.js';
import { blockHash } from '../../node/peer/block.js';
import { failure } from '../../node/peer/errors.js';
import { makeEntries } from '../peer-support/cluster.js';
import { call, makeHttpCluster, type HttpCluster } from './helpers/http-cluster.js';

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

describe('fail-stop: a decided block that does not apply halts consensus on the peer', () => {
  it('answers /healthz 503 with the reason, raises cairn_consensus_halted and stops voting', async () => {
    // Long timeouts: nothing but the messages below moves consensus.
    c = await makeHttpCluster(4, { label: 'fs', limits: { timeouts: { proposeMs: 60_000, prevoteMs: 60_000, precommitMs: 60_000, deltaMs: 0 } } });
    const cl = c;
    const http = await cl.startWithHttp(0);
    const peer = cl.peers[0]!;
    const g = cl.genesis;
    const signers = cl.orgs.map((o) => o.signer);

    // Every consensus message the peer publishes.
    const net = peer.internals.net;
    const sent: Uint8Array[] = [];
    const publish = net.publish.bind(net);
    net.publish = ((topic: string, data: Uint8Array, ...rest: unknown[]) => {
      if (topic === net.topics.consensus) sent.push(data);
      return (publish as (...a: unknown[]) => Promise<unknown>)(topic, data, ...rest);
    }) as typeof net.publish;

    // Our recomputation of decided blocks disagrees with the quorum (a diverged state).
    const ledger = peer.internals.ledger;
    const validate = ledger.validateBlock.bind(ledger);
    ledger.validateBlock = (async (bytes: Uint8Array, mode: 'proposal' | 'decided') =>
      mode === 'decided' ? failure('block_bad_root', 'root does not match the log after appending the entries') : validate(bytes, mode)) as typeof ledger.validateBlock;

    const feed = (m: ConsensusMessage) => {
      const env = encodeEnvelope(encodeMessage(m), Date.now());
      const v = peer.internals.runner.validateGossip(env);
      if (v === 'accept') peer.internals.runner.onGossip(env);
      return v;
    };
    const vote = (from: number, type: 'prevote' | 'precommit', h: number, r: number, id: Uint8Array | null): ConsensusMessage => ({
      type,
      height: h,
      round: r,
      valueId: id,
      validator: from,
      signature: signers[from]!.sign(voteSignBytes(g.origin, type, h, r, id)),
    });

    // Height 1, round 0: proposer(1, 0) = validator 1 proposes a correct block.
    const results = await peer.submit(makeEntries(cl.clients, 3, 'fs'));
    expect(results.every((r) => !('error' in r))).toBe(true);
    const block = ledger.buildBlock(1, 1);
    const id = blockHash(block);
    expect(
      feed({ type: 'proposal', height: 1, round: 0, value: block, validRound: -1, validator: 1, signature: signers[1]!.sign(proposalSignBytes(g.origin, 1, 0, id, -1)) }),
    ).toBe('accept');
    for (const v of [1, 2]) feed(vote(v, 'prevote', 1, 0, id));
    await waitUntil('our precommit for the block', () => peer.status().consensus.step === 'precommit');
    for (const v of [1, 2]) feed(vote(v, 'precommit', 1, 0, id));

    await waitUntil('the peer to halt', () => peer.status().halted !== null);
    const st = peer.status();
    expect(st.halted?.code).toBe('DIVERGENCE');
    expect(st.problem).toMatch(/^consensus halted: DIVERGENCE: /);
    expect(st.height).toBe(0); // nothing was appended
    expect(cl.logs[0]!.some((l) => l.level === 'error' && /halted/.test(l.msg))).toBe(true);

    const health = await call(`${http.url}/healthz`);
    expect(health.status).toBe(503);
    expect(health.json.error.code).toBe('unhealthy');
    expect(health.json.error.message).toMatch(/consensus halted: DIVERGENCE/);
    const metrics = await call(`${http.url}/metrics`);
    expect(metrics.text).toMatch(/^cairn_consensus_halted\{reason="DIVERGENCE"\} 1$/m);
    expect(metrics.text).not.toMatch(/cairn_consensus_halted\{reason="none"\}/);

    // Stops voting: a new round's proposal and votes get no prevote or precommit from us.
    const before = sent.length;
    const block2 = ledger.buildBlock(1, 2);
    const id2 = blockHash(block2);
    feed({ type: 'proposal', height: 1, round: 1, value: block2, validRound: -1, validator: 2, signature: signers[2]!.sign(proposalSignBytes(g.origin, 1, 1, id2, -1)) });
    for (const v of [1, 2, 3]) feed(vote(v, 'prevote', 1, 1, id2));
    for (const v of [1, 2, 3]) feed(vote(v, 'precommit', 1, 1, id2));
    peer.internals.runner.resend();
    await new Promise((r) => setTimeout(r, 500));
    expect(sent.length).toBe(before);
    expect(peer.status().height).toBe(0);
  }, 60_000);
});
